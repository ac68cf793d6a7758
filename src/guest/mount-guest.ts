/**
 * Before any step: mount the root, then the guest's own fstab entries that live on the same image (a separate
 * /boot). Nothing of the host's (/dev, /proc, /sys) is bound in: guest commands run in a sandbox.
 */
import { namesVolume } from '../disk/lvm.js';
import { UserError } from '../errors.js';
import { CommandError } from '../exec.js';
import { describeRoot, type FilesystemSeen, type RootCandidate, whereIs } from '../inspect/find-root.js';
import type { SessionEnv } from '../pipeline/session-env.js';
import { StagedTree } from '../tree/staged-tree.js';
import { firstDiskPartition } from './device-names.js';
import { makeMountPoint, mountDevice, mountedOptions } from './mounts.js';

/** Mount points the conversion touches: kernels, initrds and boot menus live there. */
const NEEDED_MOUNTS = ['/boot'];

export interface FstabEntry {
  device: string;
  mountPoint: string;
  type: string;
}

export function parseFstab(text: string): FstabEntry[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(/\s+/))
    .filter((fields) => fields.length >= 3)
    .map(([device, mountPoint, type]) => ({
      device: device ?? '',
      mountPoint: mountPoint ?? '',
      type: type ?? '',
    }));
}

/** The filesystem an fstab device names, when it is on this image. */
export function filesystemOf(device: string, filesystems: FilesystemSeen[]): FilesystemSeen | undefined {
  const [key, value] = device.split('=', 2);
  if (key === 'UUID') return filesystems.find((f) => f.uuid === value);
  if (key === 'LABEL') return filesystems.find((f) => f.label === value);
  const volume = filesystems.find((f) => f.volume && namesVolume(device, f.volume));
  if (volume) return volume;
  const partition = firstDiskPartition(device);
  return filesystems.find((f) => f.partition === partition && !f.volume);
}

export async function mountGuest(
  env: SessionEnv,
  label: string,
  root: RootCandidate,
  filesystems: FilesystemSeen[],
): Promise<{ dir: string; bootPartition: number }> {
  const dir = await makeMountPoint(env.cleanup, 'root');
  const refuse = (why: string) =>
    new UserError(
      `the guest's root filesystem (${describeRoot(root)}) cannot be mounted read-write (${why}); check it with fsck first`,
    );
  try {
    await mountDevice(env.runner, env.cleanup, root.device, dir, {
      fsType: root.fsType,
      readOnly: env.readOnly,
    });
  } catch (error) {
    if (env.readOnly || !(error instanceof CommandError)) throw error;
    throw refuse(error.result?.stderr.trim().split('\n').pop() ?? error.message);
  }
  // The kernel may turn a read-write mount read-only (a read-only feature flag, errors): refuse then too.
  if (!env.readOnly && mountedOptions(dir).includes('ro')) throw refuse('the kernel mounted it read-only');
  const tree = new StagedTree(dir);
  let boot: Pick<FilesystemSeen, 'partition' | 'volume'> = root;
  for (const entry of parseFstab(tree.read('/etc/fstab') ?? '')) {
    if (!NEEDED_MOUNTS.includes(entry.mountPoint)) continue;
    const seen = filesystemOf(entry.device, filesystems);
    if (!seen?.type || seen.device === root.device) continue;
    await mountDevice(env.runner, env.cleanup, seen.device, tree.hostPath(entry.mountPoint), {
      fsType: seen.type,
      readOnly: env.readOnly,
    });
    if (entry.mountPoint === '/boot') boot = seen;
  }
  // GRUB is installed to read the kernels from a partition: a /boot inside LVM is not converted.
  if (boot.volume) {
    throw new UserError(
      `${label}: /boot is on the logical volume ${whereIs(boot)}; xen2kvm converts guests on LVM whose /boot is a partition of its own`,
    );
  }
  // Nothing of the host is mounted into the guest's tree: its commands get their own /proc and
  // /dev inside their sandbox, so every path under the root is on the guest's own filesystems.
  return { dir, bootPartition: boot.partition };
}
