/**
 * Disk images in container formats (qcow2, vhd, vhdx, vmdk, qed). Without the nbd kernel module
 * they cannot be attached directly, so xen2kvm converts them into a raw working copy with
 * qemu-img, converts that, and writes the result in the format asked for.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CleanupStack } from '../cleanup.js';
import type { CommandRunner } from '../exec.js';
import { allocatedBytes, requireRoom } from '../safety/space.js';

export type ContainerFormat = 'qcow2' | 'qcow' | 'qed' | 'vmdk' | 'vhdx' | 'vpc';

const HEAD_MAGIC: [ContainerFormat, string][] = [
  ['qcow2', 'QFI\xfb'],
  ['qed', 'QED\0'],
  ['vmdk', 'KDMV'],
  ['vmdk', '# Disk DescriptorFile'],
  ['vhdx', 'vhdxfile'],
  // A dynamic VHD starts with a copy of its footer; a fixed one has it only at the end.
  ['vpc', 'conectix'],
];

/** The container format of an image, or undefined for a raw one. */
export async function detectContainer(image: string): Promise<ContainerFormat | undefined> {
  const handle = await open(image, 'r');
  try {
    const head = Buffer.alloc(32);
    await handle.read(head, 0, head.length, 0);
    for (const [format, magic] of HEAD_MAGIC) {
      if (head.toString('latin1', 0, magic.length) === magic) {
        // qcow version 1 shares the magic; its version field says 1.
        return format === 'qcow2' && head.readUInt32BE(4) === 1 ? 'qcow' : format;
      }
    }
    const { size } = await stat(image);
    const tail = Buffer.alloc(8);
    if (size >= 512) await handle.read(tail, 0, 8, size - 512);
    return tail.toString('latin1') === 'conectix' ? 'vpc' : undefined;
  } finally {
    await handle.close();
  }
}

/** Human name of a format, as operators call them. */
export function formatName(format: ContainerFormat): string {
  return format === 'vpc' ? 'vhd' : format;
}

/**
 * A raw, sparse working copy of `image` in a new directory under `parent`, removed by the cleanup
 * stack unless the caller keeps it (by renaming the file away first).
 */
export async function rawWorkingCopy(
  runner: CommandRunner,
  cleanup: CleanupStack,
  image: string,
  format: ContainerFormat,
  parent: string,
): Promise<string> {
  requireRoom(parent, allocatedBytes(image) * 2 + 64 * 1024 * 1024, `a raw working copy of ${image}`);
  const dir = mkdtempSync(join(parent, '.xen2kvm-input-'));
  cleanup.push(`remove ${dir}`, async () => rmSync(dir, { recursive: true, force: true }));
  const raw = join(dir, 'input.raw');
  await toRaw(runner, image, format, raw);
  return raw;
}

/** A raw (sparse) copy of a container image at `output`. */
export async function toRaw(
  runner: CommandRunner,
  image: string,
  format: ContainerFormat,
  output: string,
): Promise<void> {
  await runner.run({
    file: 'qemu-img',
    args: ['convert', '-q', '-f', format, '-O', 'raw', image, output],
    kind: 'host',
    timeout: 'copy',
  });
}

export async function toQcow2(runner: CommandRunner, raw: string, output: string): Promise<void> {
  await runner.run({
    file: 'qemu-img',
    args: ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, output],
    kind: 'host',
    timeout: 'copy',
  });
}
