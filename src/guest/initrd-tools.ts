/**
 * The guest's own initrd tooling: how to rebuild an initrd for one kernel, how to list what is in
 * one, and how to tell whether the modules KVM needs are in it (or built into the kernel).
 */
import { type CommandRunner, inGuest } from '../exec.js';
import type { StagedTree } from '../tree/staged-tree.js';
import { listInitramfs } from './initrd-listing.js';

export interface InitrdTool {
  name: 'update-initramfs';
  rebuild(kernelVersion: string): string[];
  list(initrd: string): string[];
  /** Files the tool keeps beside the initrd (checksums), which a rebuild rewrites too. */
  stateFiles(kernelVersion: string): string[];
}

const initramfsTools: InitrdTool = {
  name: 'update-initramfs',
  rebuild: (version) => ['update-initramfs', '-u', '-k', version],
  list: (initrd) => ['lsinitramfs', initrd],
  stateFiles: (version) => [`/var/lib/initramfs-tools/${version}`],
};

export function findInitrdTool(tree: StagedTree): InitrdTool | undefined {
  if (tree.exists('/usr/sbin/update-initramfs') && tree.exists('/etc/initramfs-tools')) return initramfsTools;
  return undefined;
}

/** Modules a KVM guest needs at boot to reach a virtio root disk, plus the root filesystem's own. */
export function requiredModules(rootFsType: string): string[] {
  return ['virtio_pci', 'virtio_blk', rootFsModule(rootFsType)];
}

/** ext2 and ext3 are served by the ext4 driver on every kernel KVM guests run. */
export function rootFsModule(fsType: string): string {
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
export function builtinModules(tree: StagedTree, kernelVersion: string): Set<string> {
  const text = tree.read(`/lib/modules/${kernelVersion}/modules.builtin`) ?? '';
  return modulesInListing(text);
}

export async function missingFromInitrd(
  runner: CommandRunner,
  tree: StagedTree,
  tool: InitrdTool,
  kernelVersion: string,
  initrd: string | undefined,
  required: readonly string[],
): Promise<string[]> {
  const builtin = builtinModules(tree, kernelVersion);
  const needed = required.map(normalize).filter((m) => !builtin.has(m));
  if (!initrd || !tree.exists(initrd)) return needed;
  // Reading the archive in-process costs milliseconds; the guest's lister, a shell pipeline, ~0.2 s.
  const own = listInitramfs(tree.hostPath(initrd));
  const listing = own
    ? own.join('\n')
    : (await runner.run(inGuest(tree.root, tool.list(initrd), 'read', 'query'))).stdout;
  const present = modulesInListing(listing);
  return needed.filter((m) => !present.has(m));
}
