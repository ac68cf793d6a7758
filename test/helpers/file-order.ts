/**
 * The order the two workers take the test files in. Vitest's own order (longest last time first)
 * knows nothing of what the files do to each other; on two cores these do:
 * - faults-saturated loads every CPU for its whole run, so it goes first, beside files that boot no
 *   guest (a TCG boot beside it would wait for its boot slot, holding a worker idle);
 * - the files that boot guests under TCG come after, one worker each, so their boots seldom queue
 *   for the host's single TCG boot slot;
 * - sandbox, whose appliance VMs run under TCG for about five minutes but take no boot slot (they
 *   wait for no device on a clock), early enough to overlap the boot files rather than run last;
 * - short files last, to fill whichever worker frees up first.
 * faults-saturated must not run beside layouts: it holds every boot slot and calls runCli (a shared
 * suite lock), while layouts' /boot-partition boot holds that lock exclusively and waits for a slot.
 * This order keeps them apart (layouts starts only after three longer files); a hand-picked pair of
 * files run together could deadlock until the deadlines.
 */
import { basename } from 'node:path';
import type { TestSpecification } from 'vitest/node';
import { BaseSequencer } from 'vitest/node';

const ORDER = [
  'faults-saturated.test.ts',
  'bad-input.test.ts',
  'hostile.test.ts',
  'safety.test.ts',
  'sandbox.test.ts',
  'layouts.test.ts',
  'families.test.ts',
  'rpm-guests.test.ts',
  'formats.test.ts',
  'migrate.test.ts',
  'kernels.test.ts',
  'libvirt.test.ts',
  'fleet.test.ts',
  'interactive.test.ts',
  'batch.test.ts',
  'scripting.test.ts',
  'interrupt.test.ts',
];

function rank(spec: TestSpecification): number {
  const index = ORDER.indexOf(basename(spec.moduleId));
  // Files not listed (unit tests, new files) after the listed ones, in their own order.
  return index === -1 ? ORDER.length : index;
}

export default class FileOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => rank(a) - rank(b));
  }
}
