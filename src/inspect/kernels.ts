/** Finds the kernels installed in the guest and what each can do under KVM. */
import { INITRD_NAMES } from '../families/index.js';
import type { GuestFiles } from '../tree/staged-tree.js';

export interface KernelInfo {
  version: string;
  /** Guest paths. */
  vmlinuz: string;
  initrd: string | undefined;
  /** A Xen-only kernel (XenLinux, kernel-xen) cannot boot on KVM. */
  xenOnly: boolean;
}

/**
 * A kernel built for Xen only: CONFIG_X86_XEN / CONFIG_X86_64_XEN, or a Xen flavour name: SUSE's
 * 3.0.101-63-xen, Red Hat's 2.6.18-398.el5xen, Debian's linux-image-2.6.26-2-xen-amd64.
 */
export function isXenOnlyKernel(version: string, config: string | undefined): boolean {
  if (config && /^CONFIG_X86(_64)?_XEN=y/m.test(config)) return true;
  return /xen$/.test(version) || /-xen-/.test(version);
}

export function findKernels(tree: GuestFiles): KernelInfo[] {
  const kernels: KernelInfo[] = [];
  const names = tree.list('/boot');
  for (const name of names) {
    const match = /^vmlinu[xz]-(.+)$/.exec(name);
    if (!match?.[1]) continue;
    // SUSE's vmlinuz-xen -> vmlinuz-2.6.37.6-0.5-xen names a kernel listed under its own version.
    const target = tree.readLink(`/boot/${name}`);
    if (target !== undefined && names.includes(target.split('/').pop() ?? '')) continue;
    const version = match[1];
    const initrdName = INITRD_NAMES.find((n) => tree.exists(`/boot/${n(version)}`))?.(version);
    kernels.push({
      version,
      vmlinuz: `/boot/${name}`,
      initrd: initrdName ? `/boot/${initrdName}` : undefined,
      xenOnly: isXenOnlyKernel(version, tree.read(`/boot/config-${version}`)),
    });
  }
  return kernels.sort((a, b) => compareVersions(b.version, a.version));
}

/** Newest first, comparing the numeric runs of two version strings. */
export function compareVersions(a: string, b: string): number {
  const pa = a
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
  const pb = b
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}
