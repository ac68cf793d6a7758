/**
 * Step 3: mount the root, then the guest's own fstab entries that live on the same image (a separate
 * /boot), then /dev, /proc and /sys for the chroot when applying.
 */
import type { AttachedDisk } from '../src/disk/attach.js';
import { UserError } from '../src/errors.js';
import { CommandError } from '../src/exec.js';
import { firstDiskPartition } from '../src/guest/device-names.js';
import { bindMount, makeMountPoint, mountDevice, mountedOptions } from '../src/guest/mounts.js';
import type { SessionEnv } from '../src/pipeline/session-env.js';
import { StagedTree } from '../src/tree/staged-tree.js';
import type { FilesystemSeen, RootCandidate } from './find-root.js';

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

/** The partition an fstab device names, when it is on this image. */
export function partitionOf(device: string, filesystems: FilesystemSeen[]): number | undefined {
  const [key, value] = device.split('=', 2);
  if (key === 'UUID') return filesystems.find((f) => f.uuid === value)?.partition;
  if (key === 'LABEL') return filesystems.find((f) => f.label === value)?.partition;
  return firstDiskPartition(device);
}

export async function mountGuest(
  env: SessionEnv,
  disk: AttachedDisk,
  root: RootCandidate,
  filesystems: FilesystemSeen[],
): Promise<{ dir: string; bootPartition: number }> {
  const dir = await makeMountPoint(env.cleanup, 'root');
  const refuse = (why: string) =>
    new UserError(
      `the guest's root filesystem (partition ${root.partition}) cannot be mounted read-write (${why}); check it with fsck first`,
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
  let bootPartition = root.partition;
  for (const entry of parseFstab(tree.read('/etc/fstab') ?? '')) {
    if (!NEEDED_MOUNTS.includes(entry.mountPoint)) continue;
    const partition = partitionOf(entry.device, filesystems);
    const device = partition === undefined ? undefined : disk.partitions.get(partition);
    const fsType = filesystems.find((f) => f.partition === partition)?.type;
    if (!device || !fsType || partition === root.partition) continue;
    await mountDevice(env.runner, env.cleanup, device, tree.hostPath(entry.mountPoint), {
      fsType,
      readOnly: env.readOnly,
    });
    if (entry.mountPoint === '/boot' && partition !== undefined) bootPartition = partition;
  }
  // Guest commands (the chroot) need /dev, /proc and /sys; a review runs none that needs them.
  if (!env.readOnly) {
    for (const special of ['/dev', '/proc', '/sys']) {
      await bindMount(env.runner, env.cleanup, special, tree.hostPath(special));
    }
  }
  return { dir, bootPartition };
}
