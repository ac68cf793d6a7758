/**
 * Writes the new whole disk a partitionless guest's volumes go into: the msdos label, each
 * filesystem image copied to its partition (sparse: holes stay holes), and a fresh swap signature
 * for a swap area that had no file, with the UUID or label the guest's fstab expects.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CommandRunner } from '../exec.js';
import type { WholeDiskLayout } from './volumes.js';

const SECTOR = 512;

/** sfdisk's script for the layout (its partitions are numbered 1..n, so lines go in order). */
export function sfdiskScript(layout: WholeDiskLayout): string {
  const lines = ['label: dos'];
  for (const p of layout.partitions) {
    const fields = [`start=${p.start / SECTOR}`, `size=${p.size / SECTOR}`, `type=${p.type}`];
    if (p.bootable) fields.push('bootable');
    lines.push(fields.join(', '));
  }
  return `${lines.join('\n')}\n`;
}

async function writeAt(runner: CommandRunner, source: string, disk: string, offset: number): Promise<void> {
  await runner.run({
    file: 'dd',
    args: [
      `if=${source}`,
      `of=${disk}`,
      'bs=4M',
      'oflag=seek_bytes',
      `seek=${offset}`,
      'conv=notrunc,sparse',
      'status=none',
    ],
    kind: 'host',
    timeout: 'copy',
  });
}

export async function assembleWholeDisk(
  runner: CommandRunner,
  layout: WholeDiskLayout,
  disk: string,
): Promise<void> {
  writeFileSync(disk, '');
  truncateSync(disk, layout.size);
  const scratch = mkdtempSync(join(dirname(disk), '.xen2kvm-layout-'));
  try {
    await runner.run({
      file: 'sfdisk',
      args: ['-q', '--no-reread', '--no-tell-kernel', disk],
      input: sfdiskScript(layout),
      kind: 'host',
      timeout: 'query',
    });
    for (const p of layout.partitions) {
      if (p.volume.file) {
        await writeAt(runner, p.volume.file, disk, p.start);
        continue;
      }
      // A swap area with no file: a sparse one, with the UUID or label fstab names it by.
      const swap = join(scratch, `swap${p.number}`);
      writeFileSync(swap, '');
      truncateSync(swap, p.size);
      const [key, value] = p.volume.fstabDevice.split('=', 2);
      const args = ['-q'];
      if (key === 'UUID' && value) args.push('-U', value);
      if (key === 'LABEL' && value) args.push('-L', value);
      await runner.run({ file: 'mkswap', args: [...args, swap], kind: 'host', timeout: 'query' });
      await writeAt(runner, swap, disk, p.start);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
