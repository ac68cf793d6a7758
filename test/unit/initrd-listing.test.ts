import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { listInitramfs } from '../../src/guest/initrd-listing.js';

const dir = mkdtempSync(join(tmpdir(), 'initrd-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A newc archive of `files` (paths relative to a fresh tree), built by cpio itself. */
async function cpio(name: string, files: string[]): Promise<Buffer> {
  const tree = join(dir, `${name}-tree`);
  for (const file of files) {
    mkdirSync(join(tree, file, '..'), { recursive: true });
    writeFileSync(join(tree, file), `content of ${file}\n`);
  }
  const { stdout } = await execa('cpio', ['-o', '-H', 'newc', '--quiet'], {
    cwd: tree,
    input: files.join('\n'),
    encoding: 'buffer',
  });
  return Buffer.from(stdout);
}

describe('listing an initramfs in-process', () => {
  it('reads an uncompressed early archive followed by a gzip-compressed main archive', async () => {
    const early = await cpio('early', ['kernel/x86/microcode/GenuineIntel.bin']);
    const main = await cpio('main', [
      'usr/lib/modules/6.1.0/kernel/drivers/block/virtio_blk.ko',
      'conf/modules',
    ]);
    const padded = Buffer.concat([early, Buffer.alloc(512 - (early.length % 512))]);
    const gz = Buffer.from((await execa('gzip', ['-c'], { input: main, encoding: 'buffer' })).stdout);
    const path = join(dir, 'initrd.img');
    writeFileSync(path, Buffer.concat([padded, gz]));
    expect(listInitramfs(path)).toEqual([
      'kernel/x86/microcode/GenuineIntel.bin',
      'usr/lib/modules/6.1.0/kernel/drivers/block/virtio_blk.ko',
      'conf/modules',
    ]);
  });
  it('gives up (for the guest tool to answer) on compressions it cannot read', async () => {
    const main = await cpio('zst', ['a.ko']);
    const path = join(dir, 'initrd.zst');
    // zstd's frame magic followed by anything: not readable here.
    writeFileSync(path, Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), main]));
    expect(listInitramfs(path)).toBeUndefined();
    expect(readFileSync(path).length).toBeGreaterThan(4);
  });
});
