/** Unified diffs of planned file changes, coloured only when the output is a terminal. */
import { createTwoFilesPatch } from 'diff';
import pc from 'picocolors';
import type { FileChange } from '../tree/staged-tree.js';

function describe(change: FileChange): { before: string; after: string } {
  switch (change.kind) {
    case 'write':
      return { before: change.before ?? '', after: change.after };
    case 'symlink':
      return {
        before: change.before === undefined ? '' : `symlink -> ${change.before}\n`,
        after: `symlink -> ${change.target}\n`,
      };
    case 'remove':
      return { before: change.before.endsWith('\n') ? change.before : `${change.before}\n`, after: '' };
  }
}

export function unifiedDiff(change: FileChange): string {
  const { before, after } = describe(change);
  const existed = change.kind === 'remove' || change.before !== undefined;
  const from = existed ? `a${change.path}` : '/dev/null';
  const to = change.kind === 'remove' ? '/dev/null' : `b${change.path}`;
  const patch = createTwoFilesPatch(from, to, before, after, '', '', { context: 3 });
  // Drop the "Index:"/"===" header lines createTwoFilesPatch adds: git-style ---/+++ is enough.
  return patch
    .split('\n')
    .filter((line) => !line.startsWith('Index: ') && !/^=+$/.test(line))
    .join('\n')
    .replace(/\t$/gm, '');
}

export function colorDiff(diff: string, color: boolean): string {
  if (!color) return diff;
  return diff
    .split('\n')
    .map((line) => {
      if (line.startsWith('+++') || line.startsWith('---')) return pc.bold(line);
      if (line.startsWith('+')) return pc.green(line);
      if (line.startsWith('-')) return pc.red(line);
      if (line.startsWith('@@')) return pc.cyan(line);
      return line;
    })
    .join('\n');
}
