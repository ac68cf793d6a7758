/**
 * The guest's own initrd tooling: how to rebuild an initrd for one kernel, and whether the modules
 * KVM needs are in an initrd (read on the host, never with the guest's lister) or built in.
 */

import type { GuestFiles } from '../tree/staged-tree.js';
import { listInitramfs } from './initrd-listing.js';
import { VIRTIO_DRIVERS } from './kvm-target.js';

export interface InitrdTool {
  name: 'update-initramfs' | 'dracut' | 'mkinitrd (SUSE)' | 'mkinitrd (Red Hat)';
  /** The command that rebuilds `initrd` for a kernel with the virtio drivers and `modules` in it. */
  rebuild(kernelVersion: string, initrd: string, modules: readonly string[]): string[];
  /** Files the tool keeps beside the initrd (checksums), which a rebuild rewrites too. */
  stateFiles(kernelVersion: string): string[];
  /** Where the tool puts a kernel's initrd when it has none yet. */
  defaultInitrd(kernelVersion: string): string;
  /**
   * Complaints the tool makes inside a chroot that do not mean failure (it cannot see the root
   * device from there), as regular expressions matched in any case (plain data, so a saved plan
   * holds them): a non-zero exit with one of these is judged by the check alone.
   */
  harmless: readonly string[];
}

/** dracut, which every family may have; each keeps the initrd under its own name. */
export function dracut(defaultInitrd: (version: string) => string): InitrdTool {
  return {
    name: 'dracut',
    rebuild: (version, initrd, modules) => [
      'dracut',
      '--force',
      '--add-drivers',
      [...VIRTIO_DRIVERS, ...modules].filter((m, i, all) => all.indexOf(m) === i).join(' '),
      initrd,
      version,
    ],
    stateFiles: () => [],
    defaultInitrd,
    harmless: [],
  };
}

/** Modules a KVM guest needs at boot to reach a virtio root disk, plus the root filesystem's own. */
export function requiredModules(rootFsType: string, kernelConfig?: string, rootOnLvm = false): string[] {
  return ['virtio_pci', 'virtio_blk', ...rootModules(rootFsType, kernelConfig, rootOnLvm)];
}

/** What mounting the root takes besides the disk driver: its filesystem's module, device-mapper's on LVM. */
export function rootModules(rootFsType: string, kernelConfig?: string, rootOnLvm = false): string[] {
  return [rootFsModule(rootFsType, kernelConfig), ...(rootOnLvm ? ['dm_mod'] : [])];
}

/**
 * The module that mounts the root filesystem. ext2 and ext3 are served by the ext4 driver, unless
 * the kernel builds them as modules of their own (CONFIG_EXT3_FS=m: SLES 11, RHEL 5 and 6).
 */
export function rootFsModule(fsType: string, kernelConfig = ''): string {
  if (fsType === 'ext3' && /^CONFIG_EXT3_FS=m$/m.test(kernelConfig)) return 'ext3';
  if (fsType === 'ext2' && /^CONFIG_EXT2_FS=m$/m.test(kernelConfig)) return 'ext2';
  return ['ext2', 'ext3', 'ext4'].includes(fsType) ? 'ext4' : fsType;
}

const normalize = (name: string) => name.replaceAll('-', '_');

/** Module names present in an initrd listing (paths like usr/lib/modules/V/kernel/.../virtio_blk.ko.zst). */
export function modulesInListing(listing: string): Set<string> {
  const names = new Set<string>();
  for (const match of listing.matchAll(/([\w-]+)\.ko(?:\.(?:xz|zst|gz))?$/gm)) {
    if (match[1]) names.add(normalize(match[1]));
  }
  return names;
}

/** Modules compiled into the kernel, from /lib/modules/V/modules.builtin. */
export function builtinModules(tree: GuestFiles, kernelVersion: string): Set<string> {
  const text = tree.read(`/lib/modules/${kernelVersion}/modules.builtin`) ?? '';
  return modulesInListing(text);
}

export interface InitrdVerdict {
  /** Required modules neither built in nor in the initrd. */
  missing: string[];
  /** Why the initrd could not be read on the host (then every required module counts as missing). */
  unreadable?: string;
}

export async function missingFromInitrd(
  tree: GuestFiles,
  kernelVersion: string,
  initrd: string | undefined,
  required: readonly string[],
): Promise<InitrdVerdict> {
  const builtin = builtinModules(tree, kernelVersion);
  const needed = required.map(normalize).filter((m) => !builtin.has(m));
  if (!initrd || !tree.isFile(initrd)) return { missing: needed };
  const listing = await listInitramfs(tree.hostPath(initrd));
  if ('unreadable' in listing) return { missing: needed, unreadable: listing.unreadable };
  const present = modulesInListing(listing.paths.join('\n'));
  return { missing: needed.filter((m) => !present.has(m)) };
}
