import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BLOCK, changedRanges, MAX_RANGE } from '../../src/disk/changed-ranges.js';

const dir = mkdtempSync(join(tmpdir(), 'ranges-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pair(size: number, change: (b: Buffer) => void): [string, string] {
  const a = Buffer.alloc(size, 7);
  const b = Buffer.from(a);
  change(b);
  const pa = join(dir, `a-${Math.random()}`);
  const pb = join(dir, `b-${Math.random()}`);
  writeFileSync(pa, a);
  writeFileSync(pb, b);
  return [pa, pb];
}

describe('changed ranges', () => {
  it('finds changed blocks and merges neighbours', () => {
    const [a, b] = pair(20 * BLOCK, (buf) => {
      buf[0] = 1;
      buf[3 * BLOCK + 5] = 1;
      buf[4 * BLOCK] = 1;
      buf[20 * BLOCK - 1] = 1;
    });
    expect(changedRanges(a, b)).toEqual([
      { offset: 0, length: BLOCK },
      { offset: 3 * BLOCK, length: 2 * BLOCK },
      { offset: 19 * BLOCK, length: BLOCK },
    ]);
  });
  it('finds nothing in identical files, and ignores what lies past the limit', () => {
    const [a, b] = pair(8 * BLOCK, (buf) => {
      buf[7 * BLOCK] = 9;
    });
    expect(changedRanges(a, a)).toEqual([]);
    expect(changedRanges(a, b, 7 * BLOCK)).toEqual([]);
  });
  it('caps a range so each write stays bounded', () => {
    const [a, b] = pair(2 * MAX_RANGE, (buf) => buf.fill(0));
    const ranges = changedRanges(a, b);
    expect(ranges).toEqual([
      { offset: 0, length: MAX_RANGE },
      { offset: MAX_RANGE, length: MAX_RANGE },
    ]);
  });
});
