/**
 * Before any step: find the guest's root filesystem. Every Linux filesystem on the image is looked at
 * read-only, on partitions and, where device-mapper works, on the logical volumes of the LVM volume
 * groups the image holds; the ones holding /etc/fstab and a recognisable OS are candidates. One
 * candidate is taken; several need the operator's choice (a prompt on a terminal, else --root).
 */

import { CleanupStack } from '../cleanup.js';
import { type AttachedDisk, kernelHasDeviceMapper } from '../disk/attach.js';
import { activateVolumeGroups, namesVolume, volumeName } from '../disk/lvm.js';
import { UserError } from '../errors.js';
import { makeMountPoint, mountDevice } from '../guest/mounts.js';
import type { SessionEnv } from '../pipeline/session-env.js';
import { StagedTree } from '../tree/staged-tree.js';
import { LINUX_ROOT_FILESYSTEMS, probeFilesystem } from './filesystems.js';
import { detectOs, type OsInfo } from './os-release.js';

/** A logical volume, by volume group and name. */
export interface VolumeRef {
  vg: string;
  lv: string;
}

export interface RootCandidate {
  /** The partition holding it (for a logical volume: its volume group's physical volume). */
  partition: number;
  /** Set when it is a logical volume. */
  volume?: VolumeRef;
  device: string;
  fsType: string;
  uuid: string | undefined;
  os: OsInfo;
}

export interface FilesystemSeen {
  partition: number;
  volume?: VolumeRef;
  /** The host block device it was probed on. */
  device: string;
  type: string | undefined;
  uuid: string | undefined;
  label: string | undefined;
}

export interface RootSearch {
  candidates: RootCandidate[];
  filesystems: FilesystemSeen[];
}

/** How messages name a filesystem: p2, or xen-guest-vg/root for a logical volume. */
export function whereIs(f: Pick<FilesystemSeen, 'partition' | 'volume'>): string {
  return f.volume ? volumeName(f.volume) : `p${f.partition}`;
}

/** Every partition is probed, and every logical volume on them where device-mapper works. */
async function probeAll(env: SessionEnv, disk: AttachedDisk): Promise<FilesystemSeen[]> {
  const filesystems: FilesystemSeen[] = [];
  for (const [partition, device] of disk.partitions) {
    filesystems.push({ partition, device, ...(await probeFilesystem(env.runner, device)) });
  }
  const pvs = new Map(
    filesystems.filter((f) => f.type === 'LVM2_member').map((f) => [f.partition, f.device] as const),
  );
  if (pvs.size > 0 && kernelHasDeviceMapper()) {
    // Activated once per run; a second search (all partitions after a fixed one) reuses them.
    disk.logicalVolumes ??= await activateVolumeGroups(env.runner, env.cleanup, pvs, env.readOnly);
    for (const lv of disk.logicalVolumes) {
      filesystems.push({
        partition: lv.partition,
        volume: { vg: lv.vg, lv: lv.lv },
        device: lv.device,
        ...(await probeFilesystem(env.runner, lv.device)),
      });
    }
  }
  return filesystems;
}

/**
 * Every filesystem is probed; each Linux one is looked at, unless `only` names the partition already
 * known (for a root on LVM: its physical volume's).
 */
export async function findRoots(env: SessionEnv, disk: AttachedDisk, only?: number): Promise<RootSearch> {
  const candidates: RootCandidate[] = [];
  const filesystems = await probeAll(env, disk);
  for (const fs of filesystems) {
    const { partition, device } = fs;
    if (only !== undefined && partition !== only) continue;
    if (!fs.type || !LINUX_ROOT_FILESYSTEMS.includes(fs.type)) continue;
    // Each look is mounted read-only and released at once, whatever mode the run is in.
    const look = new CleanupStack();
    const os = await lookForOs(env, look, partition, device, fs.type).finally(async () => {
      const failures = await look.release();
      if (failures.length > 0)
        throw new Error(`could not release a look at ${whereIs(fs)}: ${failures.join('; ')}`);
    });
    if (os) candidates.push({ partition, volume: fs.volume, device, fsType: fs.type, uuid: fs.uuid, os });
  }
  return { candidates, filesystems };
}

async function lookForOs(
  env: SessionEnv,
  look: CleanupStack,
  partition: number,
  device: string,
  fsType: string,
): Promise<OsInfo | undefined> {
  const dir = await makeMountPoint(look, `look${partition}`);
  await mountDevice(env.runner, look, device, dir, { fsType, readOnly: true });
  const tree = new StagedTree(dir);
  return tree.exists('/etc/fstab') ? detectOs(tree) : undefined;
}

/**
 * Matches --root: a partition number (2), a name ending in one (p2, xvda2, /dev/xvda2, vda2), or a
 * logical volume (vg/lv, /dev/vg/lv, /dev/mapper/vg-lv).
 */
export function matchRootOption(option: string, candidates: RootCandidate[]): RootCandidate | undefined {
  const wanted = option.trim();
  const volume = candidates.find((c) => c.volume && namesVolume(wanted, c.volume));
  if (volume) return volume;
  const number = Number(/(\d+)$/.exec(wanted)?.[1]);
  return candidates.find((c) => c.partition === number && !c.volume);
}

/** How titles and prompts name a candidate: partition 2, or logical volume vg/lv. */
export function describeRoot(c: Pick<RootCandidate, 'partition' | 'volume'>): string {
  return c.volume ? `logical volume ${volumeName(c.volume)}` : `partition ${c.partition}`;
}

/** How --root names a candidate: its partition number, or vg/lv. */
export function rootOptionOf(c: Pick<RootCandidate, 'partition' | 'volume'>): string {
  return c.volume ? volumeName(c.volume) : String(c.partition);
}

export type RootChooser = (candidates: RootCandidate[]) => Promise<RootCandidate>;

export async function chooseRoot(
  image: string,
  search: RootSearch,
  option: string | undefined,
  ask: RootChooser | undefined,
): Promise<RootCandidate> {
  const { candidates } = search;
  if (candidates.length === 0) {
    const seen = search.filesystems.map((f) => `${whereIs(f)}: ${f.type ?? 'nothing recognised'}`).join(', ');
    const hint = search.filesystems.some((f) => f.type === 'crypto_LUKS')
      ? ' (an encrypted root cannot be converted)'
      : search.filesystems.some((f) => f.type === 'LVM2_member') && !kernelHasDeviceMapper()
        ? " (an LVM physical volume: its logical volumes need device-mapper, which this host's kernel lacks; convert it on a host that has device-mapper)"
        : '';
    throw new UserError(`${image}: no Linux root filesystem found (${seen})${hint}`);
  }
  if (option !== undefined) {
    const chosen = matchRootOption(option, candidates);
    if (!chosen) {
      const list = candidates.map(rootOptionOf).join(', ');
      throw new UserError(`--root ${option}: no root filesystem there; candidates: ${list}`, 2);
    }
    return chosen;
  }
  if (candidates.length === 1) return candidates[0] as RootCandidate;
  if (ask) return ask(candidates);
  const list = candidates.map((c) => `${rootOptionOf(c)} (${c.os.prettyName})`).join(', ');
  throw new UserError(`${image} holds several root filesystems: ${list}; choose one with --root N`, 2);
}
