import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK, readCopyState, receiveDisk, SENDER } from '../../src/remote/disk-stream.js';

let dir: string;
let disk: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'disk-stream-'));
  disk = join(dir, 'disk.raw');
  // 40 MiB with data in a few chunks, a partial last chunk, and zeros elsewhere.
  const bytes = Buffer.alloc(40 * CHUNK + 12345);
  for (const at of [0, 3, 17, 18, 39]) bytes.fill(at + 1, at * CHUNK, at * CHUNK + 4096);
  bytes.fill(7, 40 * CHUNK, 40 * CHUNK + 100);
  writeFileSync(disk, bytes);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The sender's output for the disk from `start` on, as a stream (what ssh's stdout would carry). */
function send(start: number): Readable {
  const child = spawn('python3', ['-c', SENDER, disk, String(start)], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return child.stdout;
}

/** The first `limit` bytes of a stream: a connection cut there. */
async function* cutAfter(stream: Readable, limit: number): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const take = chunk.subarray(0, Math.max(0, limit - seen));
    seen += chunk.length;
    if (take.length > 0) yield take;
    if (seen >= limit) {
      stream.destroy();
      return;
    }
  }
}

describe('copying a disk as frames', () => {
  it('sends only the chunks that hold data, and what arrives is the disk, sparse, digest checked', async () => {
    const target = join(dir, 'whole.raw');
    const result = await receiveDisk(send(0), target, `${target}.state`);
    expect(readFileSync(target).equals(readFileSync(disk))).toBe(true);
    expect(result.dataBytes).toBe(5 * CHUNK + 12345);
    // Only the data chunks take space: 6 of the 41.
    expect(statSync(target).blocks * 512).toBeLessThan(10 * CHUNK);
    // The finished copy's state says so, with the whole disk's SHA-256.
    expect(readCopyState(`${target}.state`)).toEqual({
      size: statSync(disk).size,
      done: statSync(disk).size,
      sha256: createHash('sha256').update(readFileSync(disk)).digest('hex'),
    });
    expect(result.sha256).toBe(readCopyState(`${target}.state`)?.sha256);
  });

  it('resumes a copy cut off mid-way from the last checkpoint, and ends identical', async () => {
    const target = join(dir, 'resumed.raw');
    const state = `${target}.state`;
    const cut = Readable.from(cutAfter(send(0), 3 * CHUNK + 500_000));
    await expect(receiveDisk(cut, target, state, undefined, 2 * CHUNK)).rejects.toThrow(/cut off/);
    const done = readCopyState(state)?.done ?? 0;
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(statSync(disk).size);
    const result = await receiveDisk(send(done), target, state, undefined, undefined, readCopyState(state));
    expect(result.start).toBe(done);
    expect(readFileSync(target).equals(readFileSync(disk))).toBe(true);
    // The digest covers the whole disk, the part copied before the cut included.
    expect(result.sha256).toBe(createHash('sha256').update(readFileSync(disk)).digest('hex'));
  });

  it('refuses a sender that starts anywhere but where the copy stands', async () => {
    const target = join(dir, 'misplaced.raw');
    await expect(
      receiveDisk(send(CHUNK), target, `${target}.state`, undefined, undefined, {
        size: statSync(disk).size,
        done: 0,
      }),
    ).rejects.toThrow(/the sender started at 1048576, not where this copy stands/);
  });

  it('refuses what arrived when a byte changed on the way', async () => {
    const target = join(dir, 'corrupt.raw');
    const raw = execFileSync('python3', ['-c', SENDER, disk, '0'], { maxBuffer: 1 << 30 });
    // The first data byte of the first data frame (after the 20-byte header and 13-byte frame head).
    raw[33] = (raw[33] as number) ^ 0xff;
    await expect(receiveDisk(Readable.from([raw]), target, `${target}.state`)).rejects.toThrow(
      /what arrived differs from what was sent/,
    );
  });
});
