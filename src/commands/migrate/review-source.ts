/**
 * What a migrate run reviews: the image itself, a container served by qemu-nbd or copied to raw,
 * or a bare filesystem laid out on a new whole disk (or kept, for direct kernel boot). The partition
 * table is read once here, and the image's preflight checks run on it.
 */
import { dirname, resolve } from 'node:path';
import type { CleanupStack } from '../../cleanup.js';
import { type ContainerFormat, detectContainer, formatName } from '../../disk/container.js';
import { preflight } from '../../disk/map-image.js';
import { type PartitionTable, readPartitionTable } from '../../disk/partition-table.js';
import { UserError } from '../../errors.js';
import type { CommandRunner } from '../../exec.js';
import { checkImageFile } from '../../inspect/image-file.js';
import type { FsImageInput } from '../../pipeline/fs-image-input.js';
import { type Timings, timed } from '../../pipeline/inspect-and-plan.js';
import type { SessionEnv } from '../../pipeline/session-env.js';
import type { CliIo } from '../../ui/io.js';
import type { DomainOptions } from '../../xml/domain-plan.js';
import { openContainer } from './container-input.js';
import type { MigrateOptions } from './options.js';
import { partitionlessInput } from './partitionless.js';
import { copyOf, inPlace } from './run-target.js';

export interface ReviewSource {
  /** The disk the review attaches: the image, /dev/nbdN, or a raw working copy. */
  source: string;
  container?: ContainerFormat;
  viaNbd: boolean;
  /** Set when the image is a bare filesystem. */
  fsInput?: FsImageInput;
  table: PartitionTable;
}

export interface SourceRun {
  io: CliIo;
  host: CommandRunner;
  options: MigrateOptions;
  timings: Timings;
  /** Holds an nbd connection, released with the review's mounts. */
  cleanup: CleanupStack;
  /** Holds working copies until the end of the run. */
  inputs: CleanupStack;
}

export async function openReviewSource(
  run: SourceRun,
  review: SessionEnv,
  domain: DomainOptions,
): Promise<ReviewSource> {
  const { io, host, options, timings } = run;
  const writesInPlace = inPlace(options.target);
  const copy = copyOf(options.target);
  await checkImageFile(options.image, writesInPlace, true);
  const container = await detectContainer(options.image);
  if (container && writesInPlace) {
    throw new UserError(
      `${options.image} is a ${formatName(container)} image: in-place conversion works on raw images; use --output NEW (raw, or --output-format qcow2)`,
      2,
    );
  }
  let source = options.image;
  let viaNbd = false;
  if (container) {
    const parent = copy ? dirname(resolve(copy.output)) : (process.env.XEN2KVM_WORK_DIR ?? '/var/tmp');
    ({ source, viaNbd } = await openContainer(
      io,
      host,
      run.cleanup,
      run.inputs,
      options.image,
      container,
      parent,
      timings,
    ));
  }
  const sourceTable = await timed(timings, 'check', () => readPartitionTable(review.runner, source));
  const fsInput = await partitionlessInput(
    io,
    host,
    run.inputs,
    options,
    source,
    domain,
    timings,
    sourceTable,
  );
  if (fsInput) return { source: fsInput.image, container, viaNbd, fsInput, table: fsInput.table };
  const table = await timed(timings, 'check', () =>
    preflight(review, source, writesInPlace, options.image, sourceTable),
  );
  return { source, container, viaNbd, table };
}
