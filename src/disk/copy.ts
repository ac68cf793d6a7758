/**
 * Copy mode: the converted guest goes to a new image and the source is only ever read. The raw copy
 * is sparse and reflinked where the filesystem can; a qcow2 output is a thin overlay holding only
 * the blocks the conversion changed, backed by the untouched original.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { CommandRunner } from '../exec.js';
import { changedRanges } from './changed-ranges.js';

export async function copySparse(runner: CommandRunner, source: string, destination: string): Promise<void> {
  await runner.run({
    file: 'cp',
    args: ['--reflink=auto', '--sparse=always', '--no-preserve=all', source, destination],
    kind: 'host',
    timeout: 'copy',
  });
}

/** qemu-io commands per invocation: enough to amortise its start-up, few enough for argv. */
const WRITES_PER_CALL = 200;

/**
 * Writes `output` as a qcow2 backed by `original` that reads exactly like `converted`: only the
 * changed blocks are stored. qemu-img compare proves the result before it is kept.
 */
export async function qcow2Overlay(
  runner: CommandRunner,
  original: string,
  converted: string,
  output: string,
  /** Bytes that can differ: up to the end of the last partition. */
  limit: number,
): Promise<void> {
  await runner.run({
    file: 'qemu-img',
    args: ['create', '-q', '-f', 'qcow2', '-b', resolve(original), '-F', 'raw', output],
    kind: 'host',
    timeout: 'copy',
  });
  const ranges = changedRanges(original, converted, limit);
  const scratch = mkdtempSync(join(dirname(resolve(output)), '.xen2kvm-overlay-'));
  try {
    const source = openSync(converted, 'r');
    try {
      for (let first = 0; first < ranges.length; first += WRITES_PER_CALL) {
        const args: string[] = ['-f', 'qcow2'];
        for (const [index, range] of ranges.slice(first, first + WRITES_PER_CALL).entries()) {
          const data = Buffer.alloc(range.length);
          readSync(source, data, 0, range.length, range.offset);
          const file = join(scratch, String(index));
          writeFileSync(file, data);
          args.push('-c', `write -q -s ${file} ${range.offset} ${range.length}`);
        }
        args.push(output);
        await runner.run({ file: 'qemu-io', args, kind: 'host', timeout: 'copy' });
      }
    } finally {
      closeSync(source);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  await runner.run({
    file: 'qemu-img',
    args: ['compare', '-q', '-f', 'qcow2', '-F', 'raw', output, converted],
    kind: 'read',
    timeout: 'copy',
  });
}
