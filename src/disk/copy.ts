/**
 * Copy mode: the converted guest goes to a new image and the source is only ever read. The raw copy
 * is sparse and reflinked where the filesystem can; a qcow2 output is a thin overlay holding only
 * what the conversion changed, backed by the untouched original.
 */
import { resolve } from 'node:path';
import type { CommandRunner } from '../exec.js';

export async function copySparse(runner: CommandRunner, source: string, destination: string): Promise<void> {
  await runner.run({
    file: 'cp',
    args: ['--reflink=auto', '--sparse=always', '--no-preserve=all', source, destination],
    kind: 'host',
    timeout: 'copy',
  });
}

/** Writes only the clusters in which `converted` differs from `original`, as a qcow2 backed by it. */
export async function qcow2Overlay(
  runner: CommandRunner,
  original: string,
  converted: string,
  output: string,
): Promise<void> {
  await runner.run({
    file: 'qemu-img',
    args: [
      'convert',
      '-q',
      '-f',
      'raw',
      '-O',
      'qcow2',
      '-B',
      resolve(original),
      '-F',
      'raw',
      converted,
      output,
    ],
    kind: 'host',
    timeout: 'copy',
  });
}
