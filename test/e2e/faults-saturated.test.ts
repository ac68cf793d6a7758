/**
 * The fault points of safety.test.ts again, with SIGTERM and a busy loop per CPU: the release after
 * a signal then races every other process for the CPU, which is where a leak under load showed. Its
 * own file so that the suite can schedule it beside files that boot no guest (see
 * test/helpers/file-order.ts), and it holds every TCG boot slot while the loops run.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workingCopy } from '../../fixtures/images/fixtures.js';
import { type BootSlot, takeAllBootSlots } from '../../src/verify/boot-slot.js';
import { runCli } from '../helpers/cli.js';
import { FAULT_POINTS, killAt } from '../helpers/faults.js';
import { guestFingerprint } from '../helpers/guest-tree.js';
import { leftovers, NOTHING_LEFT } from '../helpers/host-state.js';
import { testDeadline } from '../helpers/machine-pace.js';

let dir: string;
let image: string;
let original: Awaited<ReturnType<typeof guestFingerprint>>;

// The copy and its fingerprint before the CPUs are loaded: they are not what is under test.
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'e2e-saturated-'));
  image = await workingCopy('debian12-xen-pv', join(dir, 'guest.raw'));
  original = await guestFingerprint(image);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('faults with the CPUs saturated', () => {
  // A busy loop per CPU, beside the test file running alongside: every step of the run, and the
  // release after a signal, gets a third of a core or less, which is where a race between a signal
  // and a mount shows. The loops hold every TCG boot slot while they run, as any process that loads
  // all CPUs should: a guest booting beside them under TCG would time out waiting for its disks.
  let hogs: ReturnType<typeof execa>[] = [];
  let slots: BootSlot | undefined;
  beforeAll(async () => {
    slots = await takeAllBootSlots();
    hogs = Array.from({ length: availableParallelism() }, () =>
      execa('sh', ['-c', 'while :; do :; done'], { reject: false }),
    );
  });
  afterAll(async () => {
    for (const hog of hogs) hog.kill('SIGKILL');
    await Promise.allSettled(hogs);
    slots?.release();
  });

  it('SIGTERM at every step, and once more while the review reads the guest, leaves nothing behind and a guest that rolls back', {
    timeout: testDeadline(15 * 60),
  }, async () => {
    const points = [...FAULT_POINTS, 'Rewrite /etc/fstab for virtio disks'];
    for (const [round, point] of points.entries()) {
      const where = `round ${round + 1}, SIGTERM at "${point}"`;
      const killed = await killAt(image, point, 'SIGTERM');
      expect(killed.exitCode, where).toBe(143);
      expect(await leftovers(image), where).toEqual(NOTHING_LEFT);
      if (existsSync(`${image}.xen2kvm-journal`)) {
        expect((await runCli(['rollback', image])).exitCode, where).toBe(0);
        expect(await leftovers(image), where).toEqual(NOTHING_LEFT);
      }
    }
    expect(await guestFingerprint(image)).toEqual(original);
  });
});
