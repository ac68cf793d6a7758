/**
 * First look at the file the operator named, before anything is attached: it must be a readable
 * regular file holding a partitioned raw disk. Everything else gets one line saying what it is and
 * what to do about it.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { detectContainer, formatName } from '../disk/container.js';
import { byteSize } from '../disk/nbd.js';
import { type PartitionTable, readPartitionTable, wholeFileTable } from '../disk/partition-table.js';
import { UserError } from '../errors.js';
import type { CommandRunner } from '../exec.js';
import { LINUX_ROOT_FILESYSTEMS, probeFilesystem } from './filesystems.js';

export async function checkImageFile(
  image: string,
  needWrite: boolean,
  allowContainers = false,
): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(image);
  } catch {
    throw new UserError(`${image}: no such file; give the path of the guest's raw disk image`);
  }
  if (info.isDirectory())
    throw new UserError(`${image} is a directory; give the path of the guest's raw disk image`);
  if (!info.isFile() && !info.isBlockDevice())
    throw new UserError(`${image} is not a regular file or block device`);
  try {
    await access(image, needWrite ? constants.R_OK | constants.W_OK : constants.R_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const what = needWrite ? 'written' : 'read';
    if (code === 'EROFS')
      throw new UserError(
        `${image} cannot be ${what}: it is on a read-only filesystem; use --output NEW on a writable one`,
      );
    throw new UserError(
      `${image} cannot be ${what} (${code}: not permitted, or the file is immutable); run as root, or use --output NEW`,
    );
  }
  const format = await detectContainer(image);
  // A container's file size says nothing of its disk's; a raw image smaller than 1 MiB is no disk.
  const size = byteSize(image);
  if (!format && size < 1024 * 1024) {
    throw new UserError(`${image} is too small (${size} bytes) to be a guest disk image`);
  }
  if (format && !allowContainers) {
    throw new UserError(
      `${image} is a ${formatName(format)} image; convert it with --output NEW (or to raw first: qemu-img convert -O raw ${image} disk.raw)`,
    );
  }
}

/**
 * What an image with no partition table but a Linux filesystem is: refused (a conversion lays such
 * a guest out anew, see fs-image-input.ts), or the whole file as its one partition (an image such a
 * conversion kept as it is, opened again by rollback or commit).
 */
export type BareFilesystem = 'refuse' | 'whole-file';

/** The partition table, or one line explaining what the image is instead. */
export async function requirePartitionTable(
  runner: CommandRunner,
  image: string,
  label = image,
  bare: BareFilesystem = 'refuse',
): Promise<PartitionTable> {
  const table = await readPartitionTable(runner, image);
  if (table) return table;
  const fs = await probeFilesystem(runner, image);
  if (bare === 'whole-file' && fs.type && LINUX_ROOT_FILESYSTEMS.includes(fs.type)) {
    return wholeFileTable(byteSize(image));
  }
  if (fs.type) {
    throw new UserError(
      `${label} holds a bare ${fs.type} filesystem and no partition table: not a Linux guest xen2kvm can convert`,
    );
  }
  throw new UserError(`${label} is not a disk image: it has no partition table and no filesystem`);
}
