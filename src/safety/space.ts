/** Free-space checks made before anything is written: no room means stop, not half a conversion. */
import { statfsSync, statSync } from 'node:fs';
import { UserError } from '../errors.js';

export function freeBytes(path: string): number {
  const stats = statfsSync(path);
  return stats.bavail * stats.bsize;
}

/** Bytes a file really occupies (a sparse image costs its allocated blocks, not its size). */
export function allocatedBytes(path: string): number {
  return statSync(path).blocks * 512;
}

const MiB = 1024 * 1024;

export function requireRoom(path: string, needed: number, what: string): void {
  const free = freeBytes(path);
  if (free < needed) {
    throw new UserError(
      `no room for ${what}: ${Math.ceil(needed / MiB)} MiB needed, ${Math.floor(free / MiB)} MiB free in ${path}; free some space and run again`,
    );
  }
}
