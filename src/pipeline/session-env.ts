/** What every phase of a run shares: how to run commands, what to undo, and whether it may write. */
import type { CleanupStack } from '../cleanup.js';
import type { CommandRunner } from '../exec.js';

export interface SessionEnv {
  runner: CommandRunner;
  cleanup: CleanupStack;
  /** Dry-run: the image is attached read-only and mounted without journal replay. */
  readOnly: boolean;
}
