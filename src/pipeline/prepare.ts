/**
 * Everything before planning: check the file, map it, find and mount the root, and gather what
 * the steps need to know about the guest. Dry-run and apply share it; only `env.readOnly` differs.
 */

import { chooseRoot, findRoots, type RootChooser, type RootSearch } from '../../steps/find-root.js';
import { type MappedImage, mapImage } from '../../steps/map.js';
import { mountGuest } from '../../steps/mount.js';
import type { MapperChoice } from '../disk/attach.js';
import { readBootCode } from '../disk/mbr.js';
import type { PartitionTable } from '../disk/partition-table.js';
import { UserError } from '../errors.js';
import { type DeviceRenames, NO_RENAMES } from '../guest/device-names.js';
import { findKernels } from '../inspect/kernels.js';
import { StagedTree } from '../tree/staged-tree.js';
import type { SessionEnv } from './session-env.js';
import type { Guest } from './types.js';

export interface PrepareOptions {
  image: string;
  /** The operator's name for the image, in messages (image may be a raw working copy of it). */
  label?: string;
  mapper: MapperChoice;
  root?: string;
  askRoot?: RootChooser;
  /** Explicit device renames, for filesystem images laid out anew. */
  renames?: DeviceRenames;
  boot?: 'guest' | 'direct';
}

/** Families whose whole conversion xen2kvm can carry out today. */
const SUPPORTED_FAMILIES = ['debian'];

export async function mapPhase(
  env: SessionEnv,
  options: PrepareOptions,
  table: PartitionTable,
): Promise<MappedImage> {
  return mapImage(env, options.image, table, options.mapper);
}

export async function findRootPhase(env: SessionEnv, options: PrepareOptions, mapped: MappedImage) {
  // A fixed number (an apply after its review, a rollback) needs no look at the other partitions.
  const fixed = options.root !== undefined && /^\d+$/.test(options.root) ? Number(options.root) : undefined;
  let search: RootSearch = await findRoots(env, mapped.disk, fixed);
  // Nothing on the named partition: look at them all, so the refusal can list the candidates.
  if (fixed !== undefined && search.candidates.length === 0) search = await findRoots(env, mapped.disk);
  const root = await chooseRoot(options.label ?? options.image, search, options.root, options.askRoot);
  if (!SUPPORTED_FAMILIES.includes(root.os.family)) {
    throw new UserError(
      `${options.label ?? options.image}: ${root.os.prettyName} (${root.os.family} family) is not supported yet; supported: Debian and Ubuntu guests`,
    );
  }
  return { search, root };
}

export async function mountPhase(
  env: SessionEnv,
  options: PrepareOptions,
  mapped: MappedImage,
  found: Awaited<ReturnType<typeof findRootPhase>>,
): Promise<Guest> {
  const rootDir = await mountGuest(env, mapped.disk, found.root, found.search.filesystems);
  const tree = new StagedTree(rootDir);
  return {
    image: options.image,
    label: options.label ?? options.image,
    root: rootDir,
    os: found.root.os,
    table: mapped.table,
    disk: mapped.disk,
    rootPartition: found.root.partition,
    rootFsType: found.root.fsType,
    bootCode: await readBootCode(options.image),
    kernels: findKernels(tree),
    renames: options.renames ?? NO_RENAMES,
    boot: options.boot ?? 'guest',
  };
}
