/**
 * The host-side initrd lister, on archives made by cpio itself and compressed by the real tools of
 * every format guests use. Nothing of a guest's runs to read them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { listInitramfs } from '../../src/guest/initrd-listing.js';

const dir = mkdtempSync(join(tmpdir(), 'initrd-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A newc archive of `files` (paths relative to a fresh tree), built by cpio itself. */
async function cpio(name: string, files: string[], size = 0): Promise<Buffer> {
  const tree = join(dir, `${name}-tree`);
  for (const file of files) {
    mkdirSync(join(tree, file, '..'), { recursive: true });
    writeFileSync(join(tree, file), `content of ${file}\n${'x'.repeat(size)}`);
  }
  const { stdout } = await execa('cpio', ['-o', '-H', 'newc', '--quiet'], {
    cwd: tree,
    input: files.join('\n'),
    encoding: 'buffer',
  });
  return Buffer.from(stdout);
}

async function compress(tool: string[], data: Buffer): Promise<Buffer> {
  const [file, ...args] = tool;
  return Buffer.from((await execa(file as string, args, { input: data, encoding: 'buffer' })).stdout);
}

/** Pads an archive to 512 bytes, as dracut and initramfs-tools do before the next one. */
const padded = (archive: Buffer) => Buffer.concat([archive, Buffer.alloc(512 - (archive.length % 512))]);

function initrd(name: string, ...parts: Buffer[]): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat(parts));
  return path;
}

const MAIN = ['usr/lib/modules/6.1.0/kernel/drivers/block/virtio_blk.ko', 'conf/modules', 'init'];
const EARLY = ['kernel/x86/microcode/GenuineIntel.bin'];

describe('listing an initramfs on the host', () => {
  const formats: [string, string[]][] = [
    ['gzip', ['gzip', '-c']],
    ['xz', ['xz', '-c', '--check=crc32']],
    ['lzma', ['xz', '--format=lzma', '-c']],
    ['bzip2', ['bzip2', '-c']],
    ['lz4', ['lz4', '-l', '-c']],
    ['lzo', ['lzop', '-c']],
    ['zstd', ['zstd', '-c', '-q']],
  ];
  for (const [name, tool] of formats) {
    it(`reads an early microcode archive followed by a ${name}-compressed main archive`, async () => {
      const early = padded(await cpio(`early-${name}`, EARLY));
      const main = await compress(tool, await cpio(`main-${name}`, MAIN, 100_000));
      expect(await listInitramfs(initrd(`initrd-${name}`, early, main))).toEqual({
        paths: [...EARLY, ...MAIN],
      });
    });
  }

  it('reads an uncompressed initramfs, and several archives one after another', async () => {
    const a = padded(await cpio('a', ['a.bin']));
    const b = padded(await cpio('b', ['b.bin']));
    const main = await compress(['zstd', '-c', '-q'], await cpio('c', MAIN));
    expect(await listInitramfs(initrd('plain', await cpio('plain', MAIN)))).toEqual({ paths: MAIN });
    expect(await listInitramfs(initrd('several', a, b, main))).toEqual({
      paths: ['a.bin', 'b.bin', ...MAIN],
    });
  });

  it('stops a decompression bomb at its byte cap, in bounded time and memory', async () => {
    // 256 MiB of zeros inside one cpio member, gzip-compressed to a quarter of a megabyte.
    const header = (await cpio('bomb-head', ['zeros'])).subarray(0, 110 + 6);
    const size = 256 * 1024 ** 2;
    const head = Buffer.from(header);
    // The member claims 4 GiB: offsets past 2^31 must still add up.
    head.write('ffffffff', 6 + 6 * 8, 'latin1');
    const zeros = await execa('sh', ['-c', `{ cat; head -c ${size} /dev/zero; } | gzip -1 -c`], {
      input: head,
      encoding: 'buffer',
    });
    const path = initrd('bomb', Buffer.from(zeros.stdout));
    const rss = process.memoryUsage().rss;
    const listing = await listInitramfs(path, {
      maxBytes: 32 * 1024 ** 2,
      maxMs: 30_000,
      maxFileBytes: 1024 ** 3,
    });
    expect(listing).toEqual({ unreadable: 'gzip: more than 32 MiB decompressed (a decompression bomb?)' });
    expect(process.memoryUsage().rss - rss).toBeLessThan(200 * 1024 ** 2);
    const zstdBomb = await compress(['zstd', '-c', '-q', '-1'], Buffer.alloc(128 * 1024 ** 2));
    const slow = await listInitramfs(initrd('zstd-bomb', await cpio('z', ['z']), zstdBomb), {
      maxBytes: 16 * 1024 ** 2,
      maxMs: 30_000,
      maxFileBytes: 1024 ** 3,
    });
    // Zeros where a cpio header belongs: not an archive, the decompressor stopped at once.
    expect(slow).toEqual({ unreadable: 'its zstd stream holds no cpio archive' });
  });

  it('says what it cannot read instead of guessing', async () => {
    expect(await listInitramfs(initrd('garbage', Buffer.from('MZ this is no initramfs')))).toEqual({
      unreadable: 'unknown format at byte 0 (4d5a2074)',
    });
    const truncated = (await compress(['xz', '-c'], await cpio('t', MAIN, 50_000))).subarray(0, 200);
    const listing = await listInitramfs(initrd('truncated', truncated));
    expect(listing).toHaveProperty('unreadable');
    expect((listing as { unreadable: string }).unreadable).toMatch(/^xz: /);
  });
});
