/**
 * The in-place journal: before the first write, the original of every path a conversion may change
 * (files, symlinks, whole directories such as /boot/grub), the boot area in front of the first
 * partition, and the commands run. It is kept beside the image (IMAGE.xen2kvm-journal/), the
 * authority, and copied inside the guest (/var/lib/xen2kvm/journal/) for an image that moves hosts
 * without it; that copy is guest data and is used only as guest-journal.ts allows.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { basename, join, posix, resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { StagedTree } from '../tree/staged-tree.js';

export const GUEST_JOURNAL_DIR = '/var/lib/xen2kvm/journal';

export type JournalEntry =
  | { path: string; type: 'absent' }
  | { path: string; type: 'dir'; mode: number; uid: number; gid: number }
  | { path: string; type: 'file'; mode: number; uid: number; gid: number; sha256: string; size: number }
  | { path: string; type: 'symlink'; target: string; uid: number; gid: number }
  | { path: string; type: 'other' };

export interface Journal {
  version: 1;
  image: string;
  created: string;
  state: 'prepared' | 'applying' | 'applied';
  rootPartition: number;
  /** The root's logical volume (vg/lv), when it is on LVM; rootPartition is then its physical volume's. */
  rootVolume?: string;
  /** Guest paths whose whole subtree was recorded. */
  roots: string[];
  entries: JournalEntry[];
  bootArea: { length: number; sha256: string };
  commands: { argv: string[]; started: string }[];
  /** Whether /var/lib/xen2kvm existed before: rollback removes it when it did not. */
  guestDirExisted: boolean;
}

/** Where an image's journal lives: beside it, or in `base` (--journal-dir, for a block device). */
export function journalDir(image: string, base?: string): string {
  return base
    ? join(resolve(base), `${basename(image)}.xen2kvm-journal`)
    : `${resolve(image)}.xen2kvm-journal`;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Durable write: the bytes are on disk before the function returns. */
function writeDurably(path: string, data: string | Buffer): void {
  const temporary = `${path}.new`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

export function readJournal(dir: string): Journal | undefined {
  const file = join(dir, 'journal.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as Journal;
}

export function saveJournal(dir: string, journal: Journal): void {
  mkdirSync(join(dir, 'blobs'), { recursive: true, mode: 0o700 });
  writeDurably(join(dir, 'journal.json'), `${JSON.stringify(journal, null, 1)}\n`);
}

/** True when `path` is `root` or inside it. */
export function within(root: string, path: string): boolean {
  return root === '/' || path === root || path.startsWith(`${root}/`);
}

/** The smallest set of roots covering `paths`. */
export function coveringRoots(paths: string[]): string[] {
  const sorted = [...new Set(paths)].sort((a, b) => a.length - b.length);
  const roots: string[] = [];
  for (const path of sorted) if (!roots.some((root) => within(root, path))) roots.push(path);
  return roots.sort();
}

/** Bytes the journal will take for these roots (file contents; blobs are not deduplicated here). */
export function estimateSnapshotBytes(tree: StagedTree, roots: readonly string[]): number {
  let total = 0;
  const walk = (path: string) => {
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(tree.entryHostPath(path));
    } catch {
      return;
    }
    if (stat.isFile()) total += stat.size;
    else if (stat.isDirectory() && !stat.isSymbolicLink()) {
      for (const name of readdirSync(tree.entryHostPath(path))) walk(posix.join(path, name));
    }
  };
  for (const root of roots) walk(root);
  return total;
}

/** Records `root` and everything under it, storing file contents as blobs named by their hash. */
export function snapshot(tree: StagedTree, root: string, blobs: string): JournalEntry[] {
  const entries: JournalEntry[] = [];
  const walk = (path: string) => {
    const host = tree.entryHostPath(path);
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(host);
    } catch {
      entries.push({ path, type: 'absent' });
      return;
    }
    if (stat.isSymbolicLink()) {
      entries.push({ path, type: 'symlink', target: readlinkSync(host), uid: stat.uid, gid: stat.gid });
    } else if (stat.isDirectory()) {
      entries.push({ path, type: 'dir', mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid });
      for (const name of readdirSync(host).sort()) walk(posix.join(path, name));
    } else if (stat.isFile()) {
      const data = readFileSync(host);
      const hash = sha256(data);
      if (!existsSync(join(blobs, hash))) writeDurably(join(blobs, hash), data);
      entries.push({
        path,
        type: 'file',
        mode: stat.mode & 0o7777,
        uid: stat.uid,
        gid: stat.gid,
        sha256: hash,
        size: data.length,
      });
    } else {
      // Device nodes, sockets and fifos are neither saved nor restored.
      entries.push({ path, type: 'other' });
    }
  };
  walk(root);
  return entries;
}

export function writeBootArea(image: string, data: Buffer): void {
  const fd = openSync(image, 'r+');
  try {
    writeSync(fd, data, 0, data.length, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface RestoreSummary {
  restored: number;
  removed: number;
}

/** Puts every recorded root back exactly as recorded: extra entries removed, files rewritten. */
export function restore(tree: StagedTree, journal: Journal, blobs: string): RestoreSummary {
  const summary: RestoreSummary = { restored: 0, removed: 0 };
  const recorded = new Map(journal.entries.map((e) => [e.path, e]));
  // Remove what was not there (deepest first), and what changed type.
  const removeExtra = (path: string) => {
    const host = tree.entryHostPath(path);
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(host);
    } catch {
      return;
    }
    const entry = recorded.get(path);
    if (stat.isDirectory() && !stat.isSymbolicLink()) {
      for (const name of readdirSync(host)) removeExtra(posix.join(path, name));
    }
    const keep =
      entry !== undefined &&
      entry.type !== 'absent' &&
      ((entry.type === 'dir' && stat.isDirectory()) ||
        (entry.type === 'file' && stat.isFile()) ||
        (entry.type === 'symlink' && stat.isSymbolicLink()) ||
        entry.type === 'other');
    if (!keep) {
      rmSync(host, { recursive: true, force: true });
      summary.removed++;
    }
  };
  for (const root of journal.roots) removeExtra(root);
  for (const entry of journal.entries) {
    const host = tree.entryHostPath(entry.path);
    if (entry.type === 'dir') {
      mkdirSync(host, { recursive: true });
      chownSync(host, entry.uid, entry.gid);
      chmodSync(host, entry.mode);
    } else if (entry.type === 'file') {
      const current = existsSync(host) ? sha256(readFileSync(host)) : undefined;
      if (current !== entry.sha256) {
        const blob = join(blobs, entry.sha256);
        if (!existsSync(blob))
          throw new UserError(`the journal is missing the saved copy of ${entry.path} (${blob})`);
        // Never through an entry of that name the guest may have put there.
        rmSync(`${host}.xen2kvm-restore`, { force: true });
        copyFileSync(blob, `${host}.xen2kvm-restore`, 1);
        renameSync(`${host}.xen2kvm-restore`, host);
        summary.restored++;
      }
      chownSync(host, entry.uid, entry.gid);
      chmodSync(host, entry.mode);
    } else if (entry.type === 'symlink') {
      let current: string | undefined;
      try {
        current = readlinkSync(host);
      } catch {
        current = undefined;
      }
      if (current !== entry.target) {
        rmSync(host, { force: true });
        symlinkSync(entry.target, host);
        summary.restored++;
      }
      lchownSync(host, entry.uid, entry.gid);
    }
  }
  return summary;
}

export function writeBlob(blobs: string, data: Buffer): string {
  const hash = sha256(data);
  mkdirSync(blobs, { recursive: true });
  if (!existsSync(join(blobs, hash))) writeDurably(join(blobs, hash), data);
  return hash;
}
