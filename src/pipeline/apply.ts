/**
 * Applying a plan: the staged file changes are written first, then the declared commands run inside
 * the chroot in order, each followed by its check. A dry-run never reaches this module.
 */
import { mkdirSync } from 'node:fs';
import { type CommandRunner, inGuest } from '../exec.js';

/** Where guest commands keep their temporary files: recorded by the journal, removed by rollback. */
export const GUEST_TMPDIR = '/var/lib/xen2kvm/tmp';

import { commitChange } from '../tree/commit.js';
import type { FileChange, StagedTree } from '../tree/staged-tree.js';
import type { PlannedCommand } from './types.js';

export function writeChanges(tree: StagedTree, changes: readonly FileChange[]): void {
  for (const change of changes) commitChange(tree, change);
}

export async function runPlannedCommand(
  runner: CommandRunner,
  root: string,
  command: PlannedCommand,
): Promise<void> {
  // Temporary files go where the journal covers them, so an interrupted command leaves nothing behind.
  mkdirSync(`${root}${GUEST_TMPDIR}`, { recursive: true });
  await runner.run(inGuest(root, command.argv, 'write', command.timeout, { TMPDIR: GUEST_TMPDIR }));
  await command.check?.run();
}
