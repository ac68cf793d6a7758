/**
 * Carrying out an accepted plan on the attached, read-write guest: the file changes, then the
 * commands in the guest, as a task list. In place, a journal is prepared first and advanced as each
 * command starts, so `xen2kvm rollback` knows how far a run got.
 */

import type { CommandRunner } from '../../exec.js';
import { runPlannedCommand, writeChanges } from '../../pipeline/apply.js';
import { guestMounts, runCommandsInVm } from '../../pipeline/apply-in-vm.js';
import { copiesOut, type HostOutput, hostOutputPaths, writeCopiesOut } from '../../pipeline/host-outputs.js';
import { type Inspection, type Timings, timed } from '../../pipeline/inspect-and-plan.js';
import type { Isolation, PlannedCommand } from '../../pipeline/types.js';
import { advanceJournal, type PreparedJournal, prepareJournal } from '../../safety/in-place.js';
import type { FileChange } from '../../tree/staged-tree.js';
import { type CliIo, writeLine } from '../../ui/io.js';
import { taskList, withProgress } from '../../ui/task-list.js';

export interface ApplyTarget {
  /** The image being written. */
  image: string;
  /** Journal the run (in place), so it can be rolled back. */
  journaled: boolean;
  bootAreaLength: number;
  /** --journal-dir, when the journal does not go beside the image. */
  journalBase?: string;
  /** Where the guest's commands run: their sandboxes, or one boot of the appliance VM. */
  isolation?: Isolation;
  applianceAccel?: 'auto' | 'kvm' | 'tcg';
  /** The appliance VM's console log. */
  applianceLog?: string;
  /** What the run writes on the host: journaled first; files copied out of the guest here. */
  hostOutputs: readonly HostOutput[];
}

/** Applies `accepted` (the plan's changes less those the operator skipped) and every planned command. */
export async function applyPlan(
  io: CliIo,
  host: CommandRunner,
  current: Inspection,
  accepted: FileChange[],
  target: ApplyTarget,
  timings: Timings,
): Promise<PreparedJournal | undefined> {
  const { tree, commands } = current.plan;
  const inVm = target.isolation === 'vm' && commands.length > 0;
  // Refused before the journal and before anything is written: a filesystem the VM could not reach.
  if (inVm) guestMounts(current.guest);
  const journal = target.journaled
    ? await timed(timings, 'journal', async () =>
        prepareJournal({
          image: target.image,
          journalBase: target.journalBase,
          tree,
          rootPartition: current.guest.rootPartition,
          rootVolume: current.guest.rootVolume,
          bootAreaLength: target.bootAreaLength,
          changes: tree.allChanges(),
          commands,
          hostOutputs: hostOutputPaths(target.hostOutputs),
        }),
      )
    : undefined;
  if (journal) advanceJournal(journal, { state: 'applying' });
  const recordStarted = (started: readonly PlannedCommand[]) => {
    if (!journal) return;
    advanceJournal(journal, {
      commands: [
        ...journal.journal.commands,
        ...started.map((command) => ({ argv: command.argv, started: new Date().toISOString() })),
      ],
    });
  };
  const vmTask = {
    title: `Run ${commands.length} command(s) in the guest, in a throwaway VM`,
    task: async (_: unknown, task: { output?: string }) => {
      // The VM runs them all in one boot: each counts as started before it boots.
      recordStarted(commands);
      let latest = 'starting';
      await withProgress(
        task,
        io,
        (t) => `${latest} (${t.toFixed(0)} s)`,
        () =>
          timed(timings, 'run in vm', async () => {
            const outcome = await runCommandsInVm(host, current.guest, commands, {
              accel: target.applianceAccel ?? 'auto',
              consoleLog: target.applianceLog ?? 'appliance.log',
              onNote: (note) => writeLine(io.stderr, `note: ${note}`),
              onProgress: (line) => {
                latest = line;
              },
            });
            writeLine(
              io.stderr,
              `appliance VM: ${commands.length} command(s) in ${outcome.seconds.toFixed(1)} s (${outcome.accel.toUpperCase()}, kernel ${outcome.kernel})`,
            );
          }),
      );
    },
  };
  const copies = copiesOut(target.hostOutputs);
  const copyTask = {
    title: `Copy ${copies.length} file(s) out of the guest: ${copies.map((c) => c.to).join(', ')}`,
    task: () => timed(timings, 'copy out', async () => writeCopiesOut(copies, tree)),
  };
  await taskList(io, [
    {
      title: `Write ${accepted.length} file change(s) into the guest`,
      task: () => timed(timings, 'write files', async () => writeChanges(tree, accepted)),
    },
    ...(inVm ? [vmTask] : []),
    ...(inVm ? [] : commands).map((command) => ({
      title: `Run in guest: ${command.argv.join(' ')}`,
      task: async (_: unknown, task: { output?: string }) => {
        recordStarted([command]);
        await withProgress(
          task,
          io,
          (t) => `running for ${t.toFixed(0)} s`,
          () => timed(timings, `run ${command.step}`, () => runPlannedCommand(host, current.guest, command)),
        );
      },
    })),
    ...(copies.length > 0 ? [copyTask] : []),
  ]).run();
  if (journal) advanceJournal(journal, { state: 'applied' });
  return journal;
}
