/**
 * Resolves a path inside the guest's root the way the guest's kernel would, following symlinks
 * (absolute ones relative to the guest root), but never leaving the root: `..` stops at it.
 * Host-side reads and writes of guest files go through this, so a hostile image cannot make the
 * tool read or write a host file through a symlink.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';

const MAX_SYMLINKS = 40;

export class EscapeError extends Error {}

/** Returns the host path for `guestPath` (absolute, in the guest's namespace). */
export function resolveInGuest(root: string, guestPath: string): string {
  const pending = guestPath.split('/').filter(Boolean);
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = posix.join(root, ...resolved, part);
    let isLink = false;
    try {
      isLink = lstatSync(candidate).isSymbolicLink();
    } catch {
      // A missing component: the rest of the path is taken literally (it may be about to be created).
    }
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    if (++hops > MAX_SYMLINKS) throw new EscapeError(`too many symlinks resolving ${guestPath}`);
    const target = readlinkSync(candidate);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter(Boolean));
  }
  return posix.join(root, ...resolved);
}
