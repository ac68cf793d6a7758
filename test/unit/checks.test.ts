/** Guest command checks are data: described for the review, carried out on the host afterwards. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type CommandCheck, describeCheck, runCheck } from '../../src/pipeline/checks.js';

const dirs: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'checks-test-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A guest root whose kernel has these modules built in, and an image whose MBR holds `mbr`. */
function target(builtin: string[], mbr: Buffer) {
  const dir = scratch();
  const root = join(dir, 'root');
  mkdirSync(join(root, 'lib/modules/6.1/kernel'), { recursive: true });
  mkdirSync(join(root, 'boot'));
  writeFileSync(
    join(root, 'lib/modules/6.1/modules.builtin'),
    builtin.map((m) => `kernel/${m}.ko\n`).join(''),
  );
  const image = join(dir, 'disk.raw');
  writeFileSync(image, Buffer.concat([mbr, Buffer.alloc(1024 * 1024 - mbr.length)]));
  return { root, image };
}

const initrd: CommandCheck = {
  kind: 'initrd-holds',
  tool: 'dracut',
  kernel: '6.1',
  initrd: '/boot/initrd.img-6.1',
  modules: ['virtio_pci', 'virtio_blk', 'ext4'],
};

describe('command checks', () => {
  it('survive a round trip through JSON, as a saved plan holds them', () => {
    expect(JSON.parse(JSON.stringify(initrd))).toEqual(initrd);
    expect(describeCheck(initrd)).toBe('/boot/initrd.img-6.1 holds virtio_pci, virtio_blk, ext4');
    expect(describeCheck({ kind: 'boot-code', tool: 'grub-install' })).toBe('the MBR holds boot code');
  });

  it('pass when the modules are there (built in), and name what is missing when not', async () => {
    await expect(
      runCheck(initrd, target(['virtio_pci', 'virtio_blk', 'ext4'], Buffer.alloc(0))),
    ).resolves.toBe(undefined);
    await expect(runCheck(initrd, target(['virtio_pci'], Buffer.alloc(0)))).rejects.toThrow(
      'dracut finished but /boot/initrd.img-6.1 still lacks virtio_blk, ext4',
    );
  });

  it('read the MBR of the image for boot code', async () => {
    const check: CommandCheck = { kind: 'boot-code', tool: 'grub-install' };
    await expect(runCheck(check, target([], Buffer.alloc(440)))).rejects.toThrow(
      'grub-install finished but the MBR still holds no boot code',
    );
    await expect(runCheck(check, target([], Buffer.from([0xeb, 0x63, 0x90, 0x10])))).resolves.toBe(undefined);
  });

  it('find a package-installed kernel in /boot, or say it is not there', async () => {
    const check: CommandCheck = {
      kind: 'kernels-installed',
      tool: 'rpm',
      versions: ['6.1'],
      modules: ['virtio_blk'],
      initrdTool: true,
    };
    const t = target(['virtio_blk'], Buffer.alloc(0));
    await expect(runCheck(check, t)).rejects.toThrow('rpm finished but /boot has no kernel 6.1');
    writeFileSync(join(t.root, 'boot/vmlinuz-6.1'), '');
    await expect(runCheck(check, t)).resolves.toBe(undefined);
  });
});
