/** The operator's review of a plan on a terminal, before anything is written. */
import type { FileChange } from '../../tree/staged-tree.js';
import { colorDiff, unifiedDiff } from '../../ui/diff.js';
import type { CliIo } from '../../ui/io.js';

const ACCEPT_ALL = 'Apply all of it';
const FILE_BY_FILE = 'Review it file by file';
const ABORT = 'Abort: change nothing';

/**
 * The operator's review on a terminal: everything at once, or each file's diff with accept, skip
 * or abort. Skipped paths go into `skipped`. Returns false when the operator aborts.
 */
export async function reviewChanges(
  io: CliIo,
  changes: readonly FileChange[],
  question: string,
  skipped: Set<string>,
): Promise<boolean> {
  const first = await io.choose(question, [ACCEPT_ALL, FILE_BY_FILE, ABORT]);
  if (first === ABORT) return false;
  if (first === ACCEPT_ALL) return true;
  for (const [index, change] of changes.entries()) {
    io.stdout.write(`${colorDiff(unifiedDiff(change), io.color).trimEnd()}\n`);
    const answer = await io.choose(`(${index + 1}/${changes.length}) ${change.path}: ${change.reason}`, [
      'accept',
      'skip',
      'abort',
    ]);
    if (answer === 'abort') return false;
    if (answer === 'skip') skipped.add(change.path);
  }
  return true;
}
