/**
 * Step 2: find the guest's root filesystem. Every Linux filesystem on the image is looked at
 * read-only; the ones holding /etc/fstab and a recognisable OS are candidates. One candidate is
 * taken; several need the operator's choice (a prompt on a terminal, else --root).
 */

import { CleanupStack } from '../src/cleanup.js';
import { type AttachedDisk, kernelHasDeviceMapper } from '../src/disk/attach.js';
import { UserError } from '../src/errors.js';
import { makeMountPoint, mountDevice } from '../src/guest/mounts.js';
import { LINUX_ROOT_FILESYSTEMS, probeFilesystem } from '../src/inspect/filesystems.js';
import { detectOs, type OsInfo } from '../src/inspect/os-release.js';
import type { SessionEnv } from '../src/pipeline/session-env.js';
import { StagedTree } from '../src/tree/staged-tree.js';

export interface RootCandidate {
  partition: number;
  device: string;
  fsType: string;
  uuid: string | undefined;
  os: OsInfo;
}

export interface FilesystemSeen {
  partition: number;
  type: string | undefined;
  uuid: string | undefined;
  label: string | undefined;
}

export interface RootSearch {
  candidates: RootCandidate[];
  filesystems: FilesystemSeen[];
}

/** Every partition is probed; each Linux one is looked at, unless `only` names the one already known. */
export async function findRoots(env: SessionEnv, disk: AttachedDisk, only?: number): Promise<RootSearch> {
  const candidates: RootCandidate[] = [];
  const filesystems: FilesystemSeen[] = [];
  for (const [partition, device] of disk.partitions) {
    const fs = await probeFilesystem(env.runner, device);
    filesystems.push({ partition, ...fs });
    if (only !== undefined && partition !== only) continue;
    if (!fs.type || !LINUX_ROOT_FILESYSTEMS.includes(fs.type)) continue;
    // Each look is mounted read-only and released at once, whatever mode the run is in.
    const look = new CleanupStack();
    const os = await lookForOs(env, look, partition, device, fs.type).finally(async () => {
      const failures = await look.release();
      if (failures.length > 0)
        throw new Error(`could not release a look at partition ${partition}: ${failures.join('; ')}`);
    });
    if (os) candidates.push({ partition, device, fsType: fs.type, uuid: fs.uuid, os });
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

/** Matches --root: a partition number (2), or a name ending in one (p2, xvda2, /dev/xvda2, vda2). */
export function matchRootOption(option: string, candidates: RootCandidate[]): RootCandidate | undefined {
  const number = Number(/(\d+)$/.exec(option.trim())?.[1]);
  return candidates.find((c) => c.partition === number);
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
    const seen = search.filesystems
      .map((f) => `p${f.partition}: ${f.type ?? 'nothing recognised'}`)
      .join(', ');
    const hint = search.filesystems.some((f) => f.type === 'crypto_LUKS')
      ? ' (an encrypted root cannot be converted)'
      : search.filesystems.some((f) => f.type === 'LVM2_member')
        ? kernelHasDeviceMapper()
          ? ' (an LVM physical volume: xen2kvm does not activate volume groups yet)'
          : " (an LVM physical volume: its logical volumes need device-mapper, which this host's kernel lacks; convert it on a host that has device-mapper)"
        : '';
    throw new UserError(`${image}: no Linux root filesystem found (${seen})${hint}`);
  }
  if (option !== undefined) {
    const chosen = matchRootOption(option, candidates);
    if (!chosen) {
      const list = candidates.map((c) => c.partition).join(', ');
      throw new UserError(`--root ${option}: no root filesystem on that partition; candidates: ${list}`, 2);
    }
    return chosen;
  }
  if (candidates.length === 1) return candidates[0] as RootCandidate;
  if (ask) return ask(candidates);
  const list = candidates.map((c) => `${c.partition} (${c.os.prettyName})`).join(', ');
  throw new UserError(`${image} holds several root filesystems: ${list}; choose one with --root N`, 2);
}
