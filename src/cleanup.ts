/**
 * A stack of undo actions (unmount, detach, remove a temp dir). Whatever happens - success, error,
 * Ctrl-C - `release()` runs every action in reverse order, keeps going when one fails, and reports
 * the failures together so nothing is silently left behind on the host.
 */
export interface UndoAction {
  description: string;
  undo: () => Promise<void>;
}

export class CleanupStack {
  private readonly actions: UndoAction[] = [];
  private releasing: Promise<string[]> | undefined;

  push(description: string, undo: () => Promise<void>): void {
    this.actions.push({ description, undo });
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
      } catch (error) {
        failures.push(`${action.description}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return failures;
  }
}
