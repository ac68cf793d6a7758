/**
 * Makes an image's partitions reachable as block devices. kpartx is preferred (device-mapper maps,
 * the way the manual procedure does it); where the kernel has no device-mapper, each partition gets
 * its own loop device at its offset (losetup -o/--sizelimit). The caller learns which path was taken.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CleanupStack } from '../cleanup.js';
import { UserError } from '../errors.js';
import type { CommandRunner } from '../exec.js';
import type { LogicalVolume } from './lvm.js';
import type { PartitionTable } from './partition-table.js';

export type MapMethod = 'kpartx' | 'loop';

export interface MapperChoice {
  method: MapMethod;
  /** Why this method, for the operator. */
  reason: string;
}

export interface AttachedDisk extends MapperChoice {
  readOnly: boolean;
  /** Loop device of the whole image (grub-install needs the whole disk). */
  disk: string;
  /** Partition number -> block device. */
  partitions: Map<number, string>;
  /** The logical volumes of the image's volume groups, once activated (see lvm.ts). */
  logicalVolumes?: LogicalVolume[];
}

export function kernelHasDeviceMapper(): boolean {
  try {
    return /\bdevice-mapper\b/.test(readFileSync('/proc/misc', 'utf8')) && existsSync('/dev/mapper/control');
  } catch {
    return false;
  }
}

/** Whether a program is installed (on PATH). */
export function onPath(program: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(':')
    .some((dir) => existsSync(`${dir}/${program}`));
}

/** kpartx where device-mapper works, else loop devices at partition offsets. */
export function chooseMapper(requested: MapMethod | 'auto' = 'auto'): MapperChoice {
  const dmOk = kernelHasDeviceMapper();
  const kpartxOk = onPath('kpartx');
  if (requested === 'loop') return { method: 'loop', reason: 'loop devices requested' };
  if (requested === 'kpartx') {
    if (!dmOk) throw new UserError('--mapper kpartx: this kernel has no device-mapper; use --mapper loop', 2);
    if (!kpartxOk)
      throw new UserError('--mapper kpartx: kpartx is not installed; install it or use --mapper loop', 2);
    return { method: 'kpartx', reason: 'kpartx requested' };
  }
  if (dmOk && kpartxOk) return { method: 'kpartx', reason: 'device-mapper available' };
  const why = dmOk ? 'kpartx is not installed' : 'this kernel has no device-mapper';
  return { method: 'loop', reason: `${why}, so loop devices at partition offsets` };
}

/** Refuses an image some other process already has attached (another run, a manual kpartx, qemu-nbd...). */
/** Loop devices attached to `image` (losetup -j), whoever attached them. */
export async function loopDevicesOf(runner: CommandRunner, image: string): Promise<string[]> {
  // 'host', not 'read': it must still run in the cleanup after an interruption, which refuses 'read'.
  const { stdout } = await runner.run({
    file: 'losetup',
    args: ['-j', image],
    kind: 'host',
    timeout: 'query',
  });
  return stdout
    .split('\n')
    .map((line) => line.split(':')[0]?.trim())
    .filter((d): d is string => Boolean(d));
}

export async function assertNotAttached(runner: CommandRunner, image: string): Promise<void> {
  const devices = await loopDevicesOf(runner, image);
  if (devices.length > 0) {
    throw new UserError(
      `${image} is already attached to ${devices.join(', ')}; unmount and detach it (losetup -d) before converting`,
    );
  }
}

async function attachLoop(
  runner: CommandRunner,
  image: string,
  readOnly: boolean,
  cleanup: CleanupStack,
  range?: { offset: number; size: number },
): Promise<string> {
  const args = ['-f', '--show'];
  if (readOnly) args.push('-r');
  if (range) args.push('-o', String(range.offset), '--sizelimit', String(range.size));
  args.push(image);
  const detachIfAttached = async (device: string) => {
    if (!(await loopDevicesOf(runner, image)).includes(device)) return;
    await runner.run({ file: 'losetup', args: ['-d', device], kind: 'host', timeout: 'attach' });
    // A device something still has open (a probe of every block device by another program) is
    // only marked to detach on its last close: wait for it, so a run that attaches the image
    // again right after (rollback's look, then its write) does not find it still attached.
    for (let i = 0; i < 50 && (await loopDevicesOf(runner, image)).includes(device); i++)
      await new Promise((done) => setTimeout(done, 100));
  };
  return cleanup.acquire(
    { kind: 'loop', backing: resolve(image) },
    async () => (await runner.run({ file: 'losetup', args, kind: 'host', timeout: 'attach' })).stdout.trim(),
    (device) => ({ description: `detach ${device}`, undo: () => detachIfAttached(device) }),
    // Killed after attaching but before printing the device: the image is locked, so any loop
    // device on it is this run's; the ones still in use by this run are detached by their own undo.
    async () => {
      for (const device of await loopDevicesOf(runner, image)) await detachIfAttached(device);
    },
  );
}

/** One loop device over the whole file: for an image that is itself a filesystem. */
export function attachWholeFile(
  runner: CommandRunner,
  image: string,
  readOnly: boolean,
  cleanup: CleanupStack,
): Promise<string> {
  return attachLoop(runner, image, readOnly, cleanup);
}

/** Parses `kpartx -av` output lines: "add map loop0p2 (254:1): 0 3667968 linear 7:0 526336". */
export function parseKpartxMaps(output: string): Map<number, string> {
  const maps = new Map<number, string>();
  for (const match of output.matchAll(/^add map (\S+?p?(\d+)) /gm)) {
    const [, name, number] = match;
    if (name && number) maps.set(Number(number), `/dev/mapper/${name}`);
  }
  return maps;
}

export async function attachImage(
  runner: CommandRunner,
  image: string,
  table: PartitionTable,
  choice: MapperChoice,
  readOnly: boolean,
  cleanup: CleanupStack,
): Promise<AttachedDisk> {
  const disk = await attachLoop(runner, image, readOnly, cleanup);
  const partitions = new Map<number, string>();
  if (choice.method === 'kpartx') {
    const args = ['-a', '-v', ...(readOnly ? ['-r'] : []), disk];
    const stdout = await cleanup.acquire(
      { kind: 'kpartx', disk },
      async () => (await runner.run({ file: 'kpartx', args, kind: 'host', timeout: 'attach' })).stdout,
      () => ({
        description: `remove partition maps of ${disk}`,
        undo: async () => {
          await runner.run({ file: 'kpartx', args: ['-d', disk], kind: 'host', timeout: 'attach' });
        },
      }),
    );
    for (const [number, device] of parseKpartxMaps(stdout)) partitions.set(number, device);
  } else {
    for (const p of table.partitions) {
      partitions.set(
        p.number,
        await attachLoop(runner, image, readOnly, cleanup, { offset: p.start, size: p.size }),
      );
    }
  }
  return { ...choice, readOnly, disk, partitions };
}
