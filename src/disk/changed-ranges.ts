/**
 * Where two images of the same size differ, in 64 KiB blocks (qcow2's default cluster size), merged
 * into ranges. Used to write a thin overlay that holds only what a conversion changed.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export const BLOCK = 64 * 1024;
const CHUNK = 64 * BLOCK;
/** Ranges are capped so each can go through one bounded buffer. */
export const MAX_RANGE = 4 * 1024 * 1024;

export interface Range {
  offset: number;
  length: number;
}

/** Compares the first `limit` bytes (a conversion writes nothing past the last partition). */
export function changedRanges(original: string, changed: string, limit = Number.POSITIVE_INFINITY): Range[] {
  const a = openSync(original, 'r');
  const b = openSync(changed, 'r');
  try {
    const size = Math.min(fstatSync(b).size, limit);
    const bufA = Buffer.alloc(CHUNK);
    const bufB = Buffer.alloc(CHUNK);
    const ranges: Range[] = [];
    for (let offset = 0; offset < size; offset += CHUNK) {
      const length = Math.min(CHUNK, size - offset);
      const readA = readSync(a, bufA, 0, length, offset);
      bufA.fill(0, readA, length);
      readSync(b, bufB, 0, length, offset);
      for (let block = 0; block < length; block += BLOCK) {
        const end = Math.min(block + BLOCK, length);
        if (bufA.compare(bufB, block, end, block, end) === 0) continue;
        const at = offset + block;
        const last = ranges[ranges.length - 1];
        if (last && last.offset + last.length === at && last.length + (end - block) <= MAX_RANGE) {
          last.length += end - block;
        } else {
          ranges.push({ offset: at, length: end - block });
        }
      }
    }
    return ranges;
  } finally {
    closeSync(a);
    closeSync(b);
  }
}
