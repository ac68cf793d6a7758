/** The tests' image digest reads only data, so it must still tell bytes apart and ignore allocation. */
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { contentDigest } from '../helpers/host-state.js';

const dir = mkdtempSync(join(tmpdir(), 'digest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file of `size` bytes that is all hole. */
function hole(path: string, size: number): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  closeSync(fd);
}

describe('contentDigest', () => {
  it('gives a hole and written zeros the same digest, and any changed byte or length another', async () => {
    const MiB = 1024 * 1024;
    const sparse = join(dir, 'sparse');
    hole(sparse, 3 * MiB + 17);
    const dense = join(dir, 'dense');
    writeFileSync(dense, Buffer.alloc(3 * MiB + 17));
    expect(await contentDigest(sparse)).toBe(await contentDigest(dense));

    const changed = Buffer.alloc(3 * MiB + 17);
    changed[2 * MiB + 5] = 1;
    writeFileSync(dense, changed);
    expect(await contentDigest(dense)).not.toBe(await contentDigest(sparse));

    const longer = join(dir, 'longer');
    hole(longer, 3 * MiB + 18);
    expect(await contentDigest(longer)).not.toBe(await contentDigest(sparse));
  });
});
