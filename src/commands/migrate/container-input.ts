/**
 * qcow2, vhd, vmdk... inputs. Where the nbd module is loaded, qemu-nbd serves the container as a block
 * device: the review reads it read-only, and the conversion writes a qcow2 overlay backed by it (or
 * a raw copy, for --output-format raw). Elsewhere a raw working copy made by qemu-img convert is
 * reviewed and converted, as it always was.
 */
import { dirname, resolve } from 'node:path';
import type { CleanupStack } from '../../cleanup.js';
import { type ContainerFormat, formatName, rawWorkingCopy, toRaw } from '../../disk/container.js';
import { chooseNbd, connectNbd } from '../../disk/nbd.js';
import { readPartitionTable } from '../../disk/partition-table.js';
import type { CommandRunner } from '../../exec.js';
import { type Timings, timed } from '../../pipeline/inspect-and-plan.js';
import { allocatedBytes, requireRoom } from '../../safety/space.js';
import type { CliIo } from '../../ui/io.js';
import { taskList } from '../../ui/task-list.js';

export interface ContainerSource {
  /** What the review reads: /dev/nbdN, or the raw working copy. */
  source: string;
  viaNbd: boolean;
}

/**
 * Makes a container readable for the review. `cleanup` holds an nbd connection (released with the
 * review's mounts); `inputs` holds a raw working copy until the end of the run. A container with no
 * partition table (a bare filesystem) goes the raw way, as partitionless images are laid out from files.
 */
export async function openContainer(
  io: CliIo,
  host: CommandRunner,
  cleanup: CleanupStack,
  inputs: CleanupStack,
  image: string,
  format: ContainerFormat,
  workParent: string,
  timings: Timings,
): Promise<ContainerSource> {
  const nbd = chooseNbd();
  let why = nbd.reason;
  if (nbd.use) {
    let device = '';
    await taskList(io, [
      {
        title: `Attach the ${formatName(format)} image read-only with qemu-nbd (${nbd.reason})`,
        task: async (_, task) => {
          device = await timed(timings, 'nbd', () => connectNbd(host, cleanup, image, format, true));
          task.title = `Attached the ${formatName(format)} image read-only on ${device} with qemu-nbd (${nbd.reason})`;
        },
      },
    ]).run();
    if (await readPartitionTable(host, device)) return { source: device, viaNbd: true };
    // Nothing else is held yet: this releases the connection only.
    await cleanup.release();
    why = 'no partition table';
  }
  let source = '';
  await taskList(io, [
    {
      title: `Make a raw working copy of the ${formatName(format)} image (${why}: qemu-img convert)`,
      task: async () => {
        source = await timed(timings, 'raw copy', () =>
          rawWorkingCopy(host, inputs, image, format, workParent),
        );
      },
    },
  ]).run();
  return { source, viaNbd: false };
}

/**
 * The image an apply through nbd writes, at `partial` (renamed to the output once released): a qcow2
 * overlay backed by the untouched container, served read-write on its own nbd device; or, for raw
 * output, a raw copy of the container.
 */
export async function containerOutput(
  host: CommandRunner,
  cleanup: CleanupStack,
  image: string,
  format: ContainerFormat,
  partial: string,
  outputFormat: 'raw' | 'qcow2',
): Promise<string> {
  if (outputFormat === 'raw') {
    // A raw copy costs at least what the container holds (more, when the container is compressed).
    requireRoom(dirname(partial), allocatedBytes(image) + 64 * 1024 * 1024, `a raw copy of ${image}`);
    await toRaw(host, image, format, partial);
    return partial;
  }
  await host.run({
    file: 'qemu-img',
    args: ['create', '-q', '-f', 'qcow2', '-b', resolve(image), '-F', format, partial],
    kind: 'host',
    timeout: 'copy',
  });
  return connectNbd(host, cleanup, partial, 'qcow2', false);
}
