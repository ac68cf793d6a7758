/**
 * A partitionless input: the image holds a bare filesystem (xen-tools' disk.img). It is turned into
 * what the rest of the pipeline converts: a new whole disk assembled from the guest's volumes (the
 * default), or, with --boot direct, the filesystem image itself presented as one "partition" at
 * offset 0, its kernel to be booted by the host.
 */

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CleanupStack } from '../cleanup.js';
import { assembleWholeDisk } from '../disk/assemble.js';
import { attachWholeFile } from '../disk/attach.js';
import { type PartitionTable, readPartitionTable, wholeFileTable } from '../disk/partition-table.js';
import {
  directLayout,
  type GivenDisk,
  planVolumes,
  type Volume,
  wholeDiskLayout,
  xenDevicePath,
} from '../disk/volumes.js';
import { UserError } from '../errors.js';
import type { CommandRunner } from '../exec.js';
import type { DeviceRenames } from '../guest/device-names.js';
import { makeMountPoint, mountDevice } from '../guest/mounts.js';
import { type FilesystemInfo, LINUX_ROOT_FILESYSTEMS, probeFilesystem } from '../inspect/filesystems.js';
import { allocatedBytes, requireRoom } from '../safety/space.js';
import { StagedTree } from '../tree/staged-tree.js';
import type { XenGuestConfig } from '../xen/guest-config.js';
import { parseDiskOption } from '../xen/local-disks.js';
import type { BootMode } from './types.js';

export interface FsImageInput {
  mode: BootMode;
  /** What the pipeline attaches: the assembled disk, or the filesystem image itself. */
  image: string;
  table: PartitionTable;
  renames: DeviceRenames;
  /** The files KVM gets, vda first. */
  disks: string[];
  /** The guest's Xen devices these disks replace (xvda1, xvda2), for the domain XML. */
  absorbed: string[];
  /** The root filesystem as the KVM guest names it (root=...). */
  rootDevice: string;
  volumes: Volume[];
  warnings: string[];
}

/** The Linux filesystem an image with no partition table holds at offset 0, if it holds one. */
export async function bareFilesystem(
  runner: CommandRunner,
  image: string,
): Promise<FilesystemInfo | undefined> {
  const fs = await probeFilesystem(runner, image);
  return fs.type && LINUX_ROOT_FILESYSTEMS.includes(fs.type) ? fs : undefined;
}

/** Reads one file from a filesystem image, mounted read-only for the moment it takes. */
async function readFromFilesystem(
  runner: CommandRunner,
  image: string,
  fsType: string,
  path: string,
): Promise<string | undefined> {
  const look = new CleanupStack();
  const read = async () => {
    const device = await attachWholeFile(runner, image, true, look);
    const dir = await makeMountPoint(look, 'fsimage');
    await mountDevice(runner, look, device, dir, { fsType, readOnly: true });
    return new StagedTree(dir).read(path);
  };
  // Released whatever happens; a failed release is worth more than the read's own error.
  const text = await read().catch(async (error: unknown) => {
    await look.release();
    throw error;
  });
  const failures = await look.release();
  if (failures.length > 0) throw new Error(`could not release ${image}: ${failures.join('; ')}`);
  return text;
}

/** The disk files the operator named for the guest's devices: the Xen config's, then --disk's. */
export async function givenDisks(
  runner: CommandRunner,
  xen: XenGuestConfig | undefined,
  diskOptions: readonly string[],
): Promise<GivenDisk[]> {
  const named = new Map<string, string>();
  for (const disk of xen?.disks ?? []) {
    if (!disk.cdrom && disk.source && !disk.block) named.set(xenDevicePath(disk.vdev), disk.source);
  }
  for (const option of diskOptions) {
    const { vdev, file } = parseDiskOption(option);
    named.set(xenDevicePath(vdev), file);
  }
  const given: GivenDisk[] = [];
  for (const [device, file] of named) {
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      throw new UserError(`${file} (the guest's ${device}): no such file`, 2);
    }
    const partitioned = (await readPartitionTable(runner, file)) !== undefined;
    given.push({ device, file, size, partitioned, fs: await probeFilesystem(runner, file) });
  }
  return given;
}

export interface FsImageOptions {
  image: string;
  fs: FilesystemInfo;
  mode: BootMode;
  given: GivenDisk[];
  /** Where a new whole disk is assembled (the output's directory, or a scratch one). */
  workParent: string;
}

/**
 * Plans the volumes from the guest's fstab and, for a whole disk, assembles it into a new file
 * that `scratch` removes unless the caller renames it away first.
 */
export async function prepareFsImage(
  runner: CommandRunner,
  scratch: CleanupStack,
  options: FsImageOptions,
): Promise<FsImageInput> {
  const fsType = options.fs.type as string;
  const fstab = await readFromFilesystem(runner, options.image, fsType, '/etc/fstab');
  if (fstab === undefined) {
    throw new UserError(
      `${options.image} holds a bare ${fsType} filesystem with no /etc/fstab: not a guest's root filesystem; give the image that holds /etc/fstab`,
    );
  }
  const size = statSync(options.image).size;
  const direct = options.mode === 'direct';
  const { volumes, warnings } = planVolumes({ file: options.image, size }, fstab, options.given, !direct);
  const root = volumes.find((v) => v.role === 'root') as Volume;
  const absorbed = volumes.flatMap((v) => (v.device ? [v.device.replace('/dev/', '')] : []));
  const rootName = (renames: DeviceRenames) =>
    root.fstabDevice.startsWith('/dev/')
      ? (renames.get(root.fstabDevice) ?? root.fstabDevice)
      : root.fstabDevice;
  if (direct) {
    const layout = directLayout(volumes);
    return {
      mode: 'direct',
      image: options.image,
      table: wholeFileTable(size),
      renames: layout.renames,
      disks: layout.disks,
      absorbed,
      rootDevice: rootName(layout.renames),
      volumes,
      warnings,
    };
  }
  const layout = wholeDiskLayout(volumes);
  const room = volumes.reduce((sum, v) => sum + (v.file ? allocatedBytes(v.file) : 0), 0);
  requireRoom(options.workParent, room + 64 * 1024 * 1024, `the new whole disk for ${options.image}`);
  const dir = mkdtempSync(join(options.workParent, '.xen2kvm-disk-'));
  scratch.push(`remove ${dir}`, async () => rmSync(dir, { recursive: true, force: true }));
  const disk = join(dir, 'disk.raw');
  await assembleWholeDisk(runner, layout, disk);
  const table = await readPartitionTable(runner, disk);
  if (!table) throw new Error(`${disk}: the new disk has no partition table`);
  return {
    mode: 'guest',
    image: resolve(disk),
    table,
    renames: layout.renames,
    disks: [resolve(disk)],
    absorbed,
    rootDevice: rootName(layout.renames),
    volumes,
    warnings,
  };
}

/** One line per volume, for the summary: "/dev/xvda1 swap (new, 512 MiB) -> /dev/vda1". */
export function describeVolumes(input: FsImageInput): string[] {
  return input.volumes.map((v) => {
    const from = v.device ?? v.fstabDevice;
    const to = v.device ? (input.renames.get(v.device) ?? '(left out)') : v.fstabDevice;
    const what = v.role === 'swap' ? 'swap' : v.mountPoint;
    const source = v.file ?? `new, ${Math.round(v.size / 1024 / 1024)} MiB`;
    return `${from} ${what} (${source}) -> ${to}`;
  });
}
