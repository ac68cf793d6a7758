/**
 * The image a conversion writes, and how it becomes the output. In place, that is the image itself.
 * With --output, it is a sparse copy of a raw source (turned into a thin qcow2 overlay at the end for
 * --output-format qcow2), the raw working copy already made of a container or a partitionless guest,
 * or, where qemu-nbd serves a container, a qcow2 overlay over it or a raw copy of it. Every file on
 * the way is named `.partial` until it is complete, so an interrupted run leaves no output behind.
 */
import { renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CleanupStack } from '../../cleanup.js';
import { type ContainerFormat, toQcow2 } from '../../disk/container.js';
import { copySparse, qcow2Overlay } from '../../disk/copy.js';
import type { PartitionTable } from '../../disk/partition-table.js';
import type { CommandRunner } from '../../exec.js';
import { type Timings, timed } from '../../pipeline/inspect-and-plan.js';
import { allocatedBytes, requireRoom } from '../../safety/space.js';
import type { CliIo } from '../../ui/io.js';
import { taskList, withProgress } from '../../ui/task-list.js';
import { containerOutput } from './container-input.js';
import type { MigrateOptions } from './options.js';
import { copyOf } from './run-target.js';

export interface OutputSource {
  /** What the review read: the image itself, /dev/nbdN, or a raw working copy. */
  source: string;
  container?: ContainerFormat;
  /** The container is served by qemu-nbd (no raw working copy exists). */
  viaNbd: boolean;
  /** The reviewed source is a working copy of ours: it becomes the output, with no second copy. */
  workingCopy: boolean;
  /** The output's path, or the image's own in place. */
  target: string;
}

interface Run {
  io: CliIo;
  host: CommandRunner;
  cleanup: CleanupStack;
  options: MigrateOptions;
  timings: Timings;
  /** Files to delete if the run fails. */
  partials: string[];
}

/** Makes the image the apply writes to, and returns its path. */
export async function prepareWorkImage(run: Run, out: OutputSource): Promise<string> {
  const { io, host, cleanup, options, timings, partials } = run;
  const { target, container } = out;
  const copy = copyOf(options.target);
  if (copy && container && out.viaNbd) {
    const partial = `${target}.partial`;
    partials.push(partial);
    const into = copy.format === 'qcow2' ? 'a qcow2 overlay served by qemu-nbd' : 'a raw copy';
    let device = '';
    await taskList(io, [
      {
        title: `Write the conversion into ${into} of ${options.image}`,
        task: async () => {
          device = await timed(timings, 'copy', () =>
            containerOutput(host, cleanup, options.image, container, partial, copy.format),
          );
        },
      },
    ]).run();
    return device;
  }
  if (!copy || out.workingCopy) return resolve(out.source);
  const workImage = `${target}${copy.format === 'qcow2' ? '.work.raw' : ''}.partial`;
  const copySize = allocatedBytes(options.image);
  const overlayRoom = copy.format === 'qcow2' ? 64 * 1024 * 1024 : 0;
  requireRoom(resolve(target, '..'), copySize + overlayRoom, `the copy of ${options.image}`);
  partials.push(workImage);
  await taskList(io, [
    {
      title: `Copy ${options.image} to a new image (sparse, reflinked where possible)`,
      task: (_, task) =>
        withProgress(
          task,
          io,
          () => `${mib(allocatedOrZero(workImage))} of ${mib(copySize)} MiB copied`,
          () => timed(timings, 'copy', () => copySparse(host, options.image, workImage)),
        ),
    },
  ]).run();
  return workImage;
}

/** Once everything is released: the written image becomes --output (in place, nothing is left to do). */
export async function finishOutput(
  run: Run,
  out: OutputSource,
  workImage: string,
  table: PartitionTable,
): Promise<void> {
  const { host, options, timings, partials } = run;
  const { target } = out;
  const copy = copyOf(options.target);
  if (!copy) return;
  if (out.viaNbd) {
    // The nbd device is released: the overlay, or the raw copy, is the output.
    renameSync(`${target}.partial`, target);
  } else if (copy.format === 'qcow2') {
    partials.push(`${target}.partial`);
    // A raw source gets a thin overlay over it; a container source has no raw to back one.
    await timed(timings, 'qcow2', () =>
      out.workingCopy
        ? toQcow2(host, workImage, `${target}.partial`)
        : qcow2Overlay(host, options.image, workImage, `${target}.partial`, diskEnd(table)),
    );
    rmSync(workImage, { force: true });
    renameSync(`${target}.partial`, target);
  } else {
    renameSync(workImage, target);
  }
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

function allocatedOrZero(path: string): number {
  try {
    return allocatedBytes(path);
  } catch {
    return 0;
  }
}

/** End of the last partition: nothing past it is touched by a conversion. */
function diskEnd(table: PartitionTable): number {
  return Math.max(...table.partitions.map((p) => p.start + p.size));
}
