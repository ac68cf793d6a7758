/**
 * A stack of undo actions (unmount, detach, remove a temp dir). Whatever happens - success, error,
 * Ctrl-C - `release()` runs every action in reverse order, keeps going when one fails, and reports
 * the failures together so nothing is silently left behind on the host.
 */
import { InterruptedError } from './errors.js';
import type { RecoveryLog, RecoveryRecord } from './safety/recovery-log.js';

export interface UndoAction {
  description: string;
  undo: () => Promise<void>;
  /** What to release should this process die before undoing it (written to the recovery log). */
  record?: RecoveryRecord;
}

export class CleanupStack {
  private readonly actions: UndoAction[] = [];
  private releasing: Promise<string[]> | undefined;

  constructor(
    private readonly log?: RecoveryLog,
    /** The signal that interrupted the run, if one did: nothing new is acquired after it. */
    private readonly interruptedBy: () => string | undefined = () => undefined,
  ) {}

  push(description: string, undo: () => Promise<void>, record?: RecoveryRecord): void {
    if (record) this.log?.add(record);
    this.actions.push({ description, undo, record });
  }

  /**
   * Acquires something that must be released (a mount, a loop device). The recovery record is
   * written before the acquisition starts, so a SIGKILL at any instant leaves a trace to clean up.
   */
  async acquire<T>(
    record: RecoveryRecord,
    take: () => Promise<T>,
    release: (value: T) => { description: string; undo: () => Promise<void> },
    /** Undoes what a take that failed half-way (killed mid-command) may still have done. */
    salvage?: () => Promise<void>,
  ): Promise<T> {
    // After Ctrl-C or SIGTERM the run only releases: attaching or mounting more would be undone at once.
    const signal = this.interruptedBy();
    if (signal) throw new InterruptedError(signal);
    this.log?.add(record);
    let value: T;
    try {
      value = await take();
    } catch (error) {
      if (salvage)
        this.actions.push({
          description: `release what a failed ${record.kind} left`,
          undo: salvage,
          record,
        });
      else this.log?.remove(record);
      throw error;
    }
    const { description, undo } = release(value);
    this.actions.push({ description, undo, record });
    return value;
  }

  get size(): number {
    return this.actions.length;
  }

  /** Runs every pending undo action, newest first. Returns the descriptions of those that failed. */
  release(): Promise<string[]> {
    this.releasing ??= this.releaseAll().finally(() => {
      this.releasing = undefined;
    });
    return this.releasing;
  }

  private async releaseAll(): Promise<string[]> {
    const failures: string[] = [];
    for (let action = this.actions.pop(); action; action = this.actions.pop()) {
      try {
        await action.undo();
        if (action.record) this.log?.remove(action.record);
      } catch (error) {
        failures.push(`${action.description}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return failures;
  }
}
