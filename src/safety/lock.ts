/**
 * One xen2kvm at a time per image: a lock file holding the owner's pid. A lock whose owner is gone
 * (killed, machine rebooted) is stale: it is explained and taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import { processAlive, statePath } from './run-dir.js';

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
  const path = statePath(image, 'lock');
  let staleFrom: number | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      const content: LockContent = {
        pid: process.pid,
        image: resolve(image),
        started: new Date().toISOString(),
      };
      writeSync(fd, JSON.stringify(content));
      closeSync(fd);
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
          `${image} is being converted by another xen2kvm (pid ${owner.pid}, since ${owner.started}); wait for it to finish`,
        );
      }
      staleFrom = owner?.pid ?? -1;
      rmSync(path, { force: true });
    }
  }
  throw new UserError(`could not lock ${image}: the lock file ${path} keeps coming back`);
}
