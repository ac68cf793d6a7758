/**
 * Applying a plan: the staged file changes are written first, then the declared commands run inside
 * the guest's sandbox in order, each followed by its check. A dry-run never reaches this module.
 */
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AttachedDisk } from '../disk/attach.js';
import {
  CommandError,
  type CommandResult,
  type CommandRunner,
  type CommandSpec,
  inGuest,
  lastLines,
} from '../exec.js';

/** Where guest commands keep their temporary files: recorded by the journal, removed by rollback. */
export const GUEST_TMPDIR = '/var/lib/xen2kvm/tmp';

import type { SandboxDevice } from '../sandbox/bubblewrap.js';
import { commitChange } from '../tree/commit.js';
import { resolveInGuest } from '../tree/confine.js';
import type { FileChange, StagedTree } from '../tree/staged-tree.js';
import { runCheck } from './checks.js';
import type { Guest, PlannedCommand } from './types.js';

/** The block devices of this image: the whole disk and its partitions, named as the command needs. */
function imageDevices(disk: AttachedDisk, names: PlannedCommand['partitionNames']): SandboxDevice[] {
  const partitions = [...disk.partitions].map(([number, host]) => ({
    host,
    at: names === 'numbered' ? `${disk.disk}${number}` : host,
  }));
  return [{ host: disk.disk, at: disk.disk }, ...partitions];
}

export function writeChanges(tree: StagedTree, changes: readonly FileChange[]): void {
  for (const change of changes) commitChange(tree, change);
}

/** Puts a command's staged files into the guest (under GUEST_TMPDIR); returns their host paths. */
export function stageFiles(root: string, command: PlannedCommand): string[] {
  // Temporary files go where the journal covers them, so an interrupted command leaves nothing behind.
  // Resolved inside the guest: a symlink on the way (/var -> /etc) must not lead onto the host.
  mkdirSync(resolveInGuest(root, GUEST_TMPDIR), { recursive: true });
  return (command.stage ?? []).map((file) => {
    if (!file.path.startsWith(`${GUEST_TMPDIR}/`))
      throw new Error(`${file.path}: staged files go under ${GUEST_TMPDIR}`);
    const host = resolveInGuest(root, file.path);
    mkdirSync(dirname(host), { recursive: true });
    if (file.from) copyFileSync(file.from, host);
    else writeFileSync(host, file.content ?? '');
    if (file.mode !== undefined) chmodSync(host, file.mode);
    return host;
  });
}

/** Whether output holds one of the complaints (regular expressions, any case) a tool makes harmlessly. */
export function isHarmless(patterns: readonly string[], output: string): boolean {
  return patterns.some((pattern) => new RegExp(pattern, 'i').test(output));
}

/** A known-harmless complaint (mkinitrd cannot see the root device from a chroot) leaves the verdict to the check. */
function tolerated(command: PlannedCommand, result: CommandResult | undefined): boolean {
  const output = `${result?.stdout ?? ''}\n${result?.stderr ?? ''}`;
  return Boolean(result && command.check && isHarmless(command.harmless ?? [], output));
}

/** The verdict on a command that ran elsewhere (the appliance VM): its exit code, then its check. */
export async function judgeCommand(
  guest: Pick<Guest, 'root' | 'image'>,
  command: PlannedCommand,
  spec: CommandSpec,
  result: CommandResult,
): Promise<void> {
  if (result.exitCode !== 0 && !tolerated(command, result)) {
    const tail = lastLines(result.stderr || result.stdout, 3);
    throw new CommandError(spec, result, `exit code ${result.exitCode}${tail ? `: ${tail}` : ''}`);
  }
  if (command.check) await runCheck(command.check, guest);
}

export async function runPlannedCommand(
  runner: CommandRunner,
  guest: Pick<Guest, 'root' | 'disk' | 'image'>,
  command: PlannedCommand,
): Promise<void> {
  const root = guest.root;
  const staged = stageFiles(root, command);
  try {
    await runner.run({
      ...inGuest(
        root,
        command.argv,
        'write',
        command.timeout,
        { TMPDIR: GUEST_TMPDIR, ...command.env },
        command.writesBootArea ? imageDevices(guest.disk, command.partitionNames) : [],
      ),
      input: command.input,
    });
  } catch (error) {
    if (!(error instanceof CommandError) || !tolerated(command, error.result)) throw error;
  } finally {
    for (const host of staged) rmSync(host, { force: true });
  }
  if (command.check) await runCheck(command.check, guest);
}
