/** Releasing what a run mounted or attached, with one clear refusal when something stays behind. */
import type { CleanupStack } from '../cleanup.js';
import { UserError } from '../errors.js';
import { type CliIo, writeLine } from '../ui/io.js';
import { type Timings, timed } from './inspect-and-plan.js';

export async function releaseAll(io: CliIo, cleanup: CleanupStack, timings: Timings): Promise<void> {
  if (cleanup.size === 0) return;
  const failures = await timed(timings, 'unmount', () => cleanup.release());
  if (failures.length > 0) {
    for (const failure of failures) writeLine(io.stderr, `xen2kvm: cleanup failed: ${failure}`);
    throw new UserError(
      'some mounts or loop devices could not be released; run xen2kvm cleanup, or release them by hand',
    );
  }
}
