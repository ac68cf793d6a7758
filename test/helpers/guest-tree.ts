/**
 * Looking into and editing test images from the host: a fingerprint of everything a guest holds
 * (every path under its root filesystem with type, mode, owner, symlink target and content hash,
 * plus the boot area in front of the first partition), and read-write access to build hostile images.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { execa } from 'execa';
import { readImageHead } from '../../src/disk/mbr.js';

interface SfdiskTable {
  partitiontable: { sectorsize?: number; partitions: { start: number; size: number; type: string }[] };
}

async function readTable(image: string) {
  const { stdout } = await execa('sfdisk', ['-J', image]);
  const table = (JSON.parse(stdout) as SfdiskTable).partitiontable;
  return { sector: table.sectorsize ?? 512, partitions: table.partitions };
}

/**
 * Mounts the image's Linux root partition (the last of type 83) on a temporary directory for `use`,
 * then releases it. An image with no partition table is mounted whole (a bare filesystem).
 */
async function withRootMounted<T>(
  image: string,
  readOnly: boolean,
  use: (dir: string) => Promise<T> | T,
): Promise<T> {
  const partitioned = (await execa('sfdisk', ['-d', image], { reject: false })).exitCode === 0;
  let range: string[] = [];
  if (partitioned) {
    const { sector, partitions } = await readTable(image);
    const root = partitions.filter((p) => p.type === '83').pop();
    if (!root) throw new Error(`${image}: no Linux partition`);
    range = ['-o', String(root.start * sector), '--sizelimit', String(root.size * sector)];
  }
  const loop = (
    await execa('losetup', ['-f', '--show', ...(readOnly ? ['-r'] : []), ...range, image])
  ).stdout.trim();
  const dir = mkdtempSync(join(tmpdir(), 'guest-tree-'));
  try {
    await execa('mount', [...(readOnly ? ['-o', 'ro,noload'] : []), loop, dir]);
    try {
      return await use(dir);
    } finally {
      await execa('umount', [dir]);
    }
  } finally {
    rmdirSync(dir);
    await execa('losetup', ['-d', loop]);
  }
}

function bootAreaHash(image: string, length: number): string {
  return createHash('sha256').update(readImageHead(image, length)).digest('hex');
}

function treeHash(dir: string): { tree: string; files: number } {
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
  return { tree: hash.digest('hex'), files };
}

/** Two images with equal fingerprints hold the same files byte for byte (timestamps aside). */
export async function guestFingerprint(
  image: string,
): Promise<{ tree: string; bootArea: string; files: number }> {
  const { sector, partitions } = await readTable(image);
  const bootArea = bootAreaHash(image, Math.min(...partitions.map((p) => p.start)) * sector);
  const { tree, files } = await withRootMounted(image, true, treeHash);
  return { tree, bootArea, files };
}

/** Mounts the image's root filesystem read-write on the host and lets `edit` change it (to build hostile images). */
export async function editGuest(image: string, edit: (root: string) => Promise<void> | void): Promise<void> {
  await withRootMounted(image, false, edit);
}

/**
 * Reads files from one partition of an image (its number), or from a bare filesystem image
 * (partition undefined), mounted read-only for the moment it takes. Missing files read as undefined.
 */
export async function readFromPartition(
  image: string,
  partition: number | undefined,
  paths: string[],
): Promise<(string | undefined)[]> {
  let range: string[] = [];
  if (partition !== undefined) {
    const { stdout } = await execa('sfdisk', ['-J', image]);
    const table = (
      JSON.parse(stdout) as {
        partitiontable: { sectorsize?: number; partitions: { node: string; start: number; size: number }[] };
      }
    ).partitiontable;
    const sector = table.sectorsize ?? 512;
    const p = table.partitions.find((entry) => entry.node.endsWith(String(partition)));
    if (!p) throw new Error(`${image}: no partition ${partition}`);
    range = ['-o', String(p.start * sector), '--sizelimit', String(p.size * sector)];
  }
  const loop = (await execa('losetup', ['-f', '--show', '-r', ...range, image])).stdout.trim();
  const dir = mkdtempSync(join(tmpdir(), 'guest-tree-'));
  try {
    await execa('mount', ['-o', 'ro', loop, dir]);
    try {
      return paths.map((path) => {
        try {
          return readFileSync(join(dir, path), 'utf8');
        } catch {
          return undefined;
        }
      });
    } finally {
      await execa('umount', [dir]);
    }
  } finally {
    rmdirSync(dir);
    await execa('losetup', ['-d', loop]);
  }
}
