/**
 * An image converted in place, opened with its journal: what `rollback` and `commit` both start
 * from. The journal beside the image is the authority; the guest's own copy is used only when asked
 * (--from-guest-journal), and only as guest-journal.ts allows.
 */

import { CleanupStack } from '../cleanup.js';
import { chooseMapper, type MapMethod } from '../disk/attach.js';
import { preflight } from '../disk/map-image.js';
import { bootAreaLength } from '../disk/partition-table.js';
import { InterruptedError, UserError } from '../errors.js';
import { HostCommandRunner, ReadOnlyRunner } from '../exec.js';
import { inspectAndPlan, type Timings } from '../pipeline/inspect-and-plan.js';
import { releaseAll } from '../pipeline/release.js';
import type { SessionEnv } from '../pipeline/session-env.js';
import type { StagedTree } from '../tree/staged-tree.js';
import { type CliIo, writeLine } from '../ui/io.js';
import { adoptGuestJournal, hasGuestJournal, removeFromGuest } from './guest-journal.js';
import { processesHolding } from './holders.js';
import { type Journal, journalDir, readJournal } from './journal.js';
import { acquireLock } from './lock.js';
import { recoverLeftovers } from './recovery.js';
import { RecoveryLog } from './recovery-log.js';

export interface Opened {
  tree: StagedTree;
  journal: Journal | undefined;
  dir: string;
}

export interface JournalOptions {
  mapper: MapMethod | 'auto';
  /** Use the copy of the journal inside the guest when none is beside the image (it is guest data). */
  fromGuestJournal: boolean;
  /** migrate's --journal-dir, when the journal is not beside the image. */
  journalDir?: string;
}

/**
 * Locks the image, attaches it read-write, mounts the guest, and runs `work` on it; always
 * releases. An image with no journal beside it is refused before anything is attached, and one
 * whose guest holds no journal either is refused after a read-only look: a refusal leaves the
 * image byte-identical (mounting read-write alone rewrites an ext4 superblock).
 */
export async function withJournaledGuest<T>(
  image: string,
  options: JournalOptions,
  io: CliIo,
  action: 'roll back' | 'commit',
  work: (opened: Opened) => T,
): Promise<T> {
  const dir = journalDir(image, options.journalDir);
  const beside = readJournal(dir);
  if (!beside && !options.fromGuestJournal) {
    throw new UserError(
      `${image} has no xen2kvm journal beside it (${dir}): nothing to undo or keep (it was not converted in place, or was committed; if it moved hosts without it, --from-guest-journal uses the guest's own copy)`,
    );
  }
  const host = new HostCommandRunner();
  const lock = acquireLock(image);
  const cleanup = new CleanupStack(new RecoveryLog(image), () => host.interrupted);
  const timings: Timings = [];
  const stop = (signal: NodeJS.Signals) => host.interrupt(signal);
  process.on('SIGINT', stop).on('SIGTERM', stop);
  try {
    for (const line of await recoverLeftovers(host, image)) writeLine(io.stderr, `note: ${line}`);
    const holders = processesHolding(image);
    if (holders.length > 0) {
      throw new UserError(
        `${image} is open in ${holders.map((h) => `${h.command} (pid ${h.pid})`).join(', ')}; stop it first`,
      );
    }
    if (!beside) {
      const look: SessionEnv = { runner: new ReadOnlyRunner(host), cleanup, readOnly: true };
      const { plan } = await inspectAndPlan(
        io,
        look,
        { image, mapper: chooseMapper(options.mapper) },
        await preflight(look, image, false, image, undefined, 'whole-file'),
        timings,
        [],
      );
      const found = hasGuestJournal(plan.tree);
      await releaseAll(io, cleanup, timings);
      if (!found) throw noJournal(image, action);
    }
    const env: SessionEnv = { runner: host, cleanup, readOnly: false };
    // A bare filesystem converted in place (--boot direct keeps the guest's filesystem image as it
    // is) is the whole file as its one partition, as migrate saw it.
    const table = await preflight(env, image, true, image, undefined, 'whole-file');
    const prepare = {
      image,
      mapper: chooseMapper(options.mapper),
      root: beside ? (beside.rootVolume ?? String(beside.rootPartition)) : undefined,
    };
    const { guest, plan } = await inspectAndPlan(io, env, prepare, table, timings, []);
    let journal = beside;
    if (!journal && hasGuestJournal(plan.tree)) {
      // The copy beside the image is gone (the image moved hosts): the guest's copy, once checked.
      journal = adoptGuestJournal(plan.tree, dir, {
        rootPartition: guest.rootPartition,
        rootVolume: guest.rootVolume,
        bootAreaMax: bootAreaLength(table),
      });
      writeLine(
        io.stderr,
        `note: using the journal kept inside the guest (${guest.rootVolume ? `logical volume ${guest.rootVolume}` : `partition ${guest.rootPartition}`})`,
      );
    }
    const result = work({ tree: plan.tree, journal, dir });
    await releaseAll(io, cleanup, timings);
    return result;
  } catch (error) {
    await releaseAll(io, cleanup, timings);
    if (host.interrupted) throw new InterruptedError(host.interrupted);
    throw error;
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop);
    lock.release();
  }
}

export function removeGuestJournal(tree: StagedTree, journal: Journal): void {
  removeFromGuest(tree, journal.guestDirExisted);
}

/** Neither beside the image nor inside the guest: the refusal of rollback and commit alike. */
export function noJournal(image: string, action: string): UserError {
  return new UserError(`${image} has no xen2kvm journal, inside the guest either: nothing to ${action}`);
}
