/**
 * Before any step: read the partition table once and make the partitions reachable as block devices.
 * `preflight` runs before the task list starts, so bad input is refused in one line before anything
 * is attached.
 */

import { UserError } from '../errors.js';
import { type BareFilesystem, checkImageFile, requirePartitionTable } from '../inspect/image-file.js';
import type { SessionEnv } from '../pipeline/session-env.js';
import { type AttachedDisk, assertNotAttached, attachImage, type MapperChoice } from './attach.js';
import { byteSize } from './nbd.js';
import { mayHoldFilesystem, type PartitionTable } from './partition-table.js';

export interface MappedImage {
  table: PartitionTable;
  disk: AttachedDisk;
}

/**
 * `label` names the image in messages (the operator's file, when `image` is a raw working copy of
 * it); `known` is the partition table when the caller has read it already; `bare` says what an
 * image with none but a Linux filesystem is (see requirePartitionTable).
 */
export async function preflight(
  env: SessionEnv,
  image: string,
  needWrite: boolean,
  label = image,
  known?: PartitionTable,
  bare: BareFilesystem = 'refuse',
): Promise<PartitionTable> {
  await checkImageFile(image, needWrite);
  const table = known ?? (await requirePartitionTable(env.runner, image, label, bare));
  const size = byteSize(image);
  for (const p of table.partitions) {
    if (p.start + p.size > size) {
      throw new UserError(
        `${label} is truncated: partition ${p.number} ends at byte ${p.start + p.size} but the file has ${size}; restore the whole image first`,
      );
    }
  }
  if (!table.partitions.some(mayHoldFilesystem)) {
    throw new UserError(`${label} has a partition table but no partition that can hold a Linux filesystem`);
  }
  await assertNotAttached(env.runner, image);
  return table;
}

export async function mapImage(
  env: SessionEnv,
  image: string,
  table: PartitionTable,
  mapper: MapperChoice,
): Promise<MappedImage> {
  const disk = await attachImage(env.runner, image, table, mapper, env.readOnly, env.cleanup);
  return { table, disk };
}
