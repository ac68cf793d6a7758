/**
 * Applying a plan: the staged file changes are written first, then the declared commands run inside
 * the chroot in order, each followed by its check. A dry-run never reaches this module.
 */
import { type CommandRunner, inGuest } from '../exec.js';
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
  await runner.run(inGuest(root, command.argv, 'write', command.timeout));
  await command.check?.run();
}
