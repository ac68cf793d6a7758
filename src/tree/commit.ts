/**
 * Applies staged changes to the guest: each file is written beside its target and renamed over it,
 * so a crash leaves either the old or the new file, never half of one. Owner and mode are kept.
 */
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { FileChange, StagedTree } from './staged-tree.js';

/**
 * The name a change is written under before it is renamed over its target. The journal records it
 * too, so a run killed between the write and the rename leaves nothing a rollback misses.
 */
export function temporaryPathOf(path: string): string {
  return `${path}.xen2kvm-new`;
}

export function commitChange(tree: StagedTree, change: FileChange): void {
  // A write follows symlinks inside the guest (its path is canonical already); a symlink or a removal
  // acts on the directory entry itself.
  const host = change.kind === 'write' ? tree.hostPath(change.path) : tree.entryHostPath(change.path);
  if (change.kind === 'remove') {
    rmSync(host, { force: true });
    return;
  }
  mkdirSync(dirname(host), { recursive: true });
  const temporary = temporaryPathOf(host);
  rmSync(temporary, { force: true });
  if (change.kind === 'symlink') {
    symlinkSync(change.target, temporary);
  } else {
    const previous = statIfFile(host);
    writeFileSync(temporary, change.after, { mode: previous?.mode ?? 0o644 });
    if (previous) {
      chmodSync(temporary, previous.mode & 0o7777);
      chownSync(temporary, previous.uid, previous.gid);
    }
  }
  renameSync(temporary, host);
}

function statIfFile(path: string): { mode: number; uid: number; gid: number } | undefined {
  try {
    const stat = lstatSync(path);
    return stat.isFile() ? { mode: stat.mode, uid: stat.uid, gid: stat.gid } : undefined;
  } catch {
    return undefined;
  }
}
