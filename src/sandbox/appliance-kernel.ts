/**
 * What the appliance VM boots: a kernel of the host's own (the way libguestfs's supermin builds
 * its appliance from the host), the few modules it needs to see a virtio disk and mount the
 * guest's filesystems, and the host's statically linked busybox as its whole userland. Nothing of
 * the guest's is part of it: the guest's kernel may be Xen-only, and it is the guest's code.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { basename, join } from 'node:path';
import { UserError } from '../errors.js';

export interface ApplianceKernel {
  version: string;
  vmlinuz: string;
  modulesDir: string;
}

const BOOT = process.env.XEN2KVM_APPLIANCE_BOOT_DIR ?? '/boot';
const MODULES = '/lib/modules';

/** Installed kernels: /boot/vmlinuz-VERSION whose modules are in /lib/modules/VERSION. */
export function installedKernels(bootDir = BOOT, modulesRoot = MODULES): ApplianceKernel[] {
  const names = existsSync(bootDir) ? readdirSync(bootDir) : [];
  return names
    .filter((name) => name.startsWith('vmlinuz-'))
    .map((name) => name.slice('vmlinuz-'.length))
    .filter((version) => existsSync(join(modulesRoot, version, 'modules.dep')))
    .map((version) => ({
      version,
      vmlinuz: join(bootDir, `vmlinuz-${version}`),
      modulesDir: join(modulesRoot, version),
    }));
}

/**
 * The running kernel when its image and modules are installed (what a KVM host has), else the
 * newest installed one; XEN2KVM_APPLIANCE_KERNEL=/boot/vmlinuz-VERSION chooses.
 */
export function chooseApplianceKernel(
  kernels = installedKernels(),
  running = release(),
  wanted = process.env.XEN2KVM_APPLIANCE_KERNEL,
): ApplianceKernel {
  if (wanted) {
    const chosen = kernels.find((k) => k.vmlinuz === wanted || basename(wanted) === `vmlinuz-${k.version}`);
    if (!chosen) {
      throw new UserError(
        `XEN2KVM_APPLIANCE_KERNEL=${wanted}: no such kernel with its modules in ${MODULES}; choose one of ${kernels.map((k) => k.vmlinuz).join(', ') || '(none installed)'}`,
      );
    }
    return chosen;
  }
  const sorted = [...kernels].sort((a, b) => b.version.localeCompare(a.version, 'en', { numeric: true }));
  const chosen = kernels.find((k) => k.version === running) ?? sorted[0];
  if (!chosen) {
    throw new UserError(
      `--isolation vm needs a Linux kernel on this host to boot its appliance (${BOOT}/vmlinuz-VERSION with ${MODULES}/VERSION); install one (Debian: apt-get install linux-image-amd64)`,
    );
  }
  return chosen;
}

/** A module's file and the files it needs loaded before it, in load order (modules.dep). */
export function moduleLoadOrder(modulesDir: string, names: readonly string[]): string[] {
  const depLines = readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n');
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of depLines) {
    const [file, rest] = line.split(':', 2);
    if (!file || rest === undefined) continue;
    deps.set(file, rest.trim().split(/\s+/).filter(Boolean));
    byName.set(moduleName(file), file);
  }
  const order: string[] = [];
  const visit = (file: string) => {
    if (order.includes(file)) return;
    for (const dep of deps.get(file) ?? []) visit(dep);
    order.push(file);
  };
  for (const name of names) {
    const file = byName.get(name.replaceAll('-', '_'));
    // Not a module: built into this kernel (or not in it at all, which the mount will say).
    if (file) visit(file);
  }
  return order;
}

/** ext4.ko.zst -> ext4; module names treat - and _ alike. */
export function moduleName(file: string): string {
  return basename(file)
    .replace(/\.ko(\.(gz|xz|zst))?$/, '')
    .replaceAll('-', '_');
}

/** The modules the appliance loads: virtio for its disk, and the guest's filesystems' drivers. */
export function applianceModules(fsTypes: readonly string[]): string[] {
  const fs = new Set<string>();
  for (const type of fsTypes) {
    if (['ext2', 'ext3', 'ext4'].includes(type)) fs.add('ext4');
    else fs.add(type);
  }
  // crc32c: ext4 and xfs ask the crypto layer for it at mount time, with no modprobe to load it.
  return ['virtio_pci', 'virtio_blk', 'crc32c_generic', ...fs];
}

/** A static busybox of the host's: the appliance's shell and tools (Debian: busybox-static). */
export function findStaticBusybox(candidates = ['/bin/busybox', '/usr/bin/busybox']): string {
  for (const path of candidates) {
    if (existsSync(path) && isStaticElf(readFileSync(path))) return path;
  }
  throw new UserError(
    '--isolation vm needs a statically linked busybox on this host for its appliance; install it (Debian: apt-get install busybox-static)',
  );
}

/** An x86-64 ELF executable with no program interpreter (PT_INTERP): linked statically. */
export function isStaticElf(bytes: Buffer): boolean {
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46 || bytes[4] !== 2) return false;
  const phoff = Number(bytes.readBigUInt64LE(32));
  const phentsize = bytes.readUInt16LE(54);
  const phnum = bytes.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const offset = phoff + i * phentsize;
    if (offset + 4 > bytes.length) return false;
    if (bytes.readUInt32LE(offset) === 3) return false;
  }
  return true;
}
