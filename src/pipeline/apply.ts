/**
 * Applying a plan: the staged file changes are written first, then the declared commands run inside
 * the chroot in order, each followed by its check. A dry-run never reaches this module.
 */
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CommandError, type CommandRunner, inGuest } from '../exec.js';

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
  const staged = (command.stage ?? []).map((file) => {
    if (!file.path.startsWith(`${GUEST_TMPDIR}/`))
      throw new Error(`${file.path}: staged files go under ${GUEST_TMPDIR}`);
    const host = `${root}${file.path}`;
    mkdirSync(dirname(host), { recursive: true });
    if (file.from) copyFileSync(file.from, host);
    else writeFileSync(host, file.content ?? '');
    if (file.mode !== undefined) chmodSync(host, file.mode);
    return host;
  });
  try {
    await runner.run({
      ...inGuest(root, command.argv, 'write', command.timeout, { TMPDIR: GUEST_TMPDIR, ...command.env }),
      input: command.input,
    });
  } catch (error) {
    // A known-harmless complaint (mkinitrd cannot see the root device from a chroot) leaves the
    // verdict to the check; anything else fails the command.
    const output =
      error instanceof CommandError ? `${error.result?.stdout ?? ''}\n${error.result?.stderr ?? ''}` : '';
    const tolerated =
      error instanceof CommandError && error.result && command.harmless?.some((p) => p.test(output));
    if (!tolerated || !command.check) throw error;
  } finally {
    for (const host of staged) rmSync(host, { force: true });
  }
  await command.check?.run();
}
