/**
 * The part of an in-place journal about the host: the files a run writes beside the guest (the
 * domain XML, a directly booted guest's kernel and initrd), each as it was before, so a rollback
 * puts the host back too. It lives only in the journal beside the image, never in the guest's copy:
 * host paths are the host's business, and a journal adopted from the guest has none.
 */
import {
  copyFileSync,
  existsSync,
  lstatSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { writeBlob } from './journal.js';

export const HOST_OUTPUTS_FILE = 'host-outputs.json';

interface HostOutputEntry {
  path: string;
  /** The saved original's blob, or null when the path held nothing. */
  previous: string | null;
}

function read(dir: string): HostOutputEntry[] {
  const file = join(dir, HOST_OUTPUTS_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as HostOutputEntry[]) : [];
}

/** Records each path as it is now, unless an earlier run recorded it first (its original counts). */
export function recordHostOutputs(dir: string, paths: readonly string[]): void {
  const entries = read(dir);
  for (const path of paths) {
    if (entries.some((e) => e.path === path)) continue;
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat && !stat.isFile()) {
      throw new UserError(`${path} exists and is not a regular file; move it away first`, 2);
    }
    const previous = stat ? writeBlob(join(dir, 'blobs'), readFileSync(path)) : null;
    entries.push({ path, previous });
  }
  const file = join(dir, HOST_OUTPUTS_FILE);
  writeFileSync(`${file}.new`, `${JSON.stringify(entries, null, 1)}\n`, { mode: 0o600 });
  renameSync(`${file}.new`, file);
}

/** Puts each recorded host file back as it was: removed when it was new, its old bytes otherwise. */
export function restoreHostOutputs(dir: string): { restored: number; removed: number } {
  const done = { restored: 0, removed: 0 };
  for (const entry of read(dir)) {
    if (entry.previous === null) {
      if (existsSync(entry.path)) {
        rmSync(entry.path, { force: true });
        done.removed++;
      }
      continue;
    }
    const blob = join(dir, 'blobs', entry.previous);
    if (!existsSync(blob))
      throw new UserError(`the journal is missing the saved copy of ${entry.path} (${blob})`);
    copyFileSync(blob, `${entry.path}.xen2kvm-restore`);
    renameSync(`${entry.path}.xen2kvm-restore`, entry.path);
    done.restored++;
  }
  return done;
}
