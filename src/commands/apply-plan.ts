/**
 * Carrying out an accepted plan on the attached, read-write guest: the file changes, then the
 * commands in the guest, as a task list. In place, a journal is prepared first and advanced as each
 * command starts, so `xen2kvm rollback` knows how far a run got.
 */
import type { CommandRunner } from '../exec.js';
import { runPlannedCommand, writeChanges } from '../pipeline/apply.js';
import { type Inspection, type Timings, timed } from '../pipeline/inspect-and-plan.js';
import { advanceJournal, type PreparedJournal, prepareJournal } from '../safety/in-place.js';
import type { FileChange } from '../tree/staged-tree.js';
import type { CliIo } from '../ui/io.js';
import { taskList, withProgress } from '../ui/task-list.js';

export interface ApplyTarget {
  /** The image being written. */
  image: string;
  /** Journal the run (in place), so it can be rolled back. */
  journaled: boolean;
  bootAreaLength: number;
  /** --journal-dir, when the journal does not go beside the image. */
  journalBase?: string;
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
        }),
      )
    : undefined;
  if (journal) advanceJournal(journal, { state: 'applying' });
  await taskList(io, [
    {
      title: `Write ${accepted.length} file change(s) into the guest`,
      task: () => timed(timings, 'write files', async () => writeChanges(tree, accepted)),
    },
    ...commands.map((command) => ({
      title: `Run in guest: ${command.argv.join(' ')}`,
      task: async (_: unknown, task: { output?: string }) => {
        if (journal) {
          advanceJournal(journal, {
            commands: [
              ...journal.journal.commands,
              { argv: command.argv, started: new Date().toISOString() },
            ],
          });
        }
        await withProgress(
          task,
          io,
          (t) => `running for ${t.toFixed(0)} s`,
          () => timed(timings, `run ${command.step}`, () => runPlannedCommand(host, current.guest, command)),
        );
      },
    })),
  ]).run();
  if (journal) advanceJournal(journal, { state: 'applied' });
  return journal;
}
