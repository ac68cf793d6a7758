/**
 * A fingerprint of everything a guest holds: every path under its root filesystem with its type,
 * mode, owner, symlink target and content hash, plus the boot area in front of the first partition.
 * Two images with equal fingerprints hold the same files byte for byte (timestamps aside).
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { execa } from 'execa';

interface SfdiskTable {
  partitiontable: { sectorsize?: number; partitions: { start: number; size: number; type: string }[] };
}

export async function guestFingerprint(
  image: string,
): Promise<{ tree: string; bootArea: string; files: number }> {
  const { stdout } = await execa('sfdisk', ['-J', image]);
  const table = (JSON.parse(stdout) as SfdiskTable).partitiontable;
  const sector = table.sectorsize ?? 512;
  const root = table.partitions.find((p) => p.type === '83') ?? table.partitions[0];
  if (!root) throw new Error(`${image}: no partition`);
  const first = Math.min(...table.partitions.map((p) => p.start)) * sector;
  const head = Buffer.alloc(first);
  const fd = openSync(image, 'r');
  readSync(fd, head, 0, first, 0);
  closeSync(fd);
  const boot = createHash('sha256').update(head).digest('hex');
  const loop = (
    await execa('losetup', [
      '-f',
      '--show',
      '-r',
      '-o',
      String(root.start * sector),
      '--sizelimit',
      String(root.size * sector),
      image,
    ])
  ).stdout.trim();
  const dir = mkdtempSync(join(tmpdir(), 'fingerprint-'));
  try {
    await execa('mount', ['-o', 'ro,noload', loop, dir]);
    try {
      const hash = createHash('sha256');
      let files = 0;
      const walk = (path: string) => {
        const host = join(dir, path);
        const stat = lstatSync(host);
        const common = `${path}\0${stat.mode}\0${stat.uid}\0${stat.gid}`;
        if (stat.isSymbolicLink()) hash.update(`${common}\0link\0${readlinkSync(host)}\n`);
        else if (stat.isFile()) {
          files++;
          hash.update(`${common}\0file\0${createHash('sha256').update(readFileSync(host)).digest('hex')}\n`);
        } else if (stat.isDirectory()) {
          hash.update(`${common}\0dir\n`);
          for (const name of readdirSync(host).sort()) walk(posix.join(path, name));
        } else hash.update(`${common}\0other\0${stat.rdev}\n`);
      };
      walk('/');
      return { tree: hash.digest('hex'), bootArea: boot, files };
    } finally {
      await execa('umount', [dir]);
    }
  } finally {
    rmdirSync(dir);
    await execa('losetup', ['-d', loop]);
  }
}

/** Mounts the image's root filesystem read-write on the host and lets `edit` change it (to build hostile images). */
export async function editGuest(image: string, edit: (root: string) => Promise<void> | void): Promise<void> {
  const { stdout } = await execa('sfdisk', ['-J', image]);
  const table = (JSON.parse(stdout) as SfdiskTable).partitiontable;
  const sector = table.sectorsize ?? 512;
  const root = table.partitions.find((p) => p.type === '83');
  if (!root) throw new Error(`${image}: no Linux partition`);
  const loop = (
    await execa('losetup', [
      '-f',
      '--show',
      '-o',
      String(root.start * sector),
      '--sizelimit',
      String(root.size * sector),
      image,
    ])
  ).stdout.trim();
  const dir = mkdtempSync(join(tmpdir(), 'edit-guest-'));
  try {
    await execa('mount', [loop, dir]);
    try {
      await edit(dir);
    } finally {
      await execa('umount', [dir]);
    }
  } finally {
    rmdirSync(dir);
    await execa('losetup', ['-d', loop]);
  }
}
