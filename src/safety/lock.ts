/**
 * One xen2kvm at a time per image: a lock file holding the owner's pid, created atomically (O_EXCL)
 * and named by the image's identity - its device and inode, or the block device itself - so a
 * symlink, a hard link or a bind mount of the same image meets the same lock. A lock whose owner
 * is gone (killed, machine rebooted) is stale: it is explained and taken over. The lock appears
 * with its content already in it (written aside, then hard-linked into place, which fails if the
 * lock exists): a run that finds it never reads a half-written one and takes it for stale.
 */
import { linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { processAlive, runDir } from './run-dir.js';

/** The lock file of the image `image` names, whatever path names it. */
export function lockPath(image: string): string {
  let identity: string;
  try {
    const stat = statSync(image);
    identity = stat.isBlockDevice() ? `block-${stat.rdev}` : `file-${stat.dev}-${stat.ino}`;
  } catch {
    throw new UserError(`${image}: no such file; give the path of the guest's raw disk image`);
  }
  return join(runDir(), `${identity}.lock`);
}

export interface ImageLock {
  release(): void;
  /** Set when a stale lock was found and taken over. */
  staleFrom?: number;
}

interface LockContent {
  pid: number;
  image: string;
  started: string;
}

export function acquireLock(image: string): ImageLock {
  const path = lockPath(image);
  let staleFrom: number | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    const content: LockContent = {
      pid: process.pid,
      image: resolve(image),
      started: new Date().toISOString(),
    };
    const aside = `${path}.${process.pid}`;
    try {
      writeFileSync(aside, JSON.stringify(content), { mode: 0o600 });
      linkSync(aside, path);
      return {
        staleFrom,
        release: () => rmSync(path, { force: true }),
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner: LockContent | undefined;
      try {
        owner = JSON.parse(readFileSync(path, 'utf8')) as LockContent;
      } catch {
        owner = undefined;
      }
      if (owner && processAlive(owner.pid)) {
        throw new UserError(
          `${image} is being converted by another xen2kvm (pid ${owner.pid}, since ${owner.started}${owner.image === resolve(image) ? '' : `, as ${owner.image}`}); wait for it to finish`,
        );
      }
      staleFrom = owner?.pid ?? -1;
      rmSync(path, { force: true });
    } finally {
      rmSync(aside, { force: true });
    }
  }
  throw new UserError(`could not lock ${image}: the lock file ${path} keeps coming back`);
}
