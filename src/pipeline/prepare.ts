/**
 * Everything before planning: check the file, map it, find and mount the root, and gather what
 * the steps need to know about the guest. Dry-run and apply share it; only `env.readOnly` differs.
 */

import type { MapperChoice } from '../disk/attach.js';
import { volumeName } from '../disk/lvm.js';
import { type MappedImage, mapImage } from '../disk/map-image.js';
import { readBootCode } from '../disk/mbr.js';
import type { PartitionTable } from '../disk/partition-table.js';
import { requireProfile } from '../families/index.js';
import type { DeviceRenames } from '../guest/device-names.js';
import { mountGuest } from '../guest/mount-guest.js';
import { chooseRoot, findRoots, type RootChooser, type RootSearch } from '../inspect/find-root.js';
import { type BootChoices, guestFacts } from './guest-facts.js';
import type { SessionEnv } from './session-env.js';
import type { Guest } from './types.js';

export interface PrepareOptions extends BootChoices {
  image: string;
  /** The operator's name for the image, in messages (image may be a raw working copy of it). */
  label?: string;
  mapper: MapperChoice;
  root?: string;
  askRoot?: RootChooser;
  /** Explicit device renames, for filesystem images laid out anew. */
  renames?: DeviceRenames;
  /** Whether the operator may be asked which kernel to boot (a terminal, no --yes). */
  promptKernel?: boolean;
}

export async function mapPhase(
  env: SessionEnv,
  options: PrepareOptions,
  table: PartitionTable,
): Promise<MappedImage> {
  return mapImage(env, options.image, table, options.mapper);
}

export async function findRootPhase(env: SessionEnv, options: PrepareOptions, mapped: MappedImage) {
  // A fixed number (an apply after its review, a rollback) needs no look at the other partitions
  // (for a root on LVM, the number is its physical volume's).
  const fixed = options.root !== undefined && /^\d+$/.test(options.root) ? Number(options.root) : undefined;
  let search: RootSearch = await findRoots(env, mapped.disk, fixed);
  // Nothing on the named partition: look at them all, so the refusal can list the candidates.
  if (fixed !== undefined && search.candidates.length === 0) search = await findRoots(env, mapped.disk);
  const root = await chooseRoot(options.label ?? options.image, search, options.root, options.askRoot);
  // Refused here, before anything is mounted.
  requireProfile(options.label ?? options.image, root.os);
  return { search, root };
}

export async function mountPhase(
  env: SessionEnv,
  options: PrepareOptions,
  mapped: MappedImage,
  found: Awaited<ReturnType<typeof findRootPhase>>,
): Promise<Guest> {
  const { dir: rootDir, bootPartition } = await mountGuest(
    env,
    options.label ?? options.image,
    found.root,
    found.search.filesystems,
  );
  return guestFacts(
    {
      image: options.image,
      label: options.label ?? options.image,
      root: rootDir,
      table: mapped.table,
      disk: mapped.disk,
      os: found.root.os,
      rootPartition: found.root.partition,
      rootVolume: found.root.volume && volumeName(found.root.volume),
      bootPartition,
      rootFsType: found.root.fsType,
      bootCode: await readBootCode(options.image),
      renames: options.renames,
    },
    options,
  );
}
