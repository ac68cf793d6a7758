/**
 * SIGINT (Ctrl-C) or SIGTERM in the middle of a conversion (while the initrd is being rebuilt): the run stops, says so
 * in one line, releases every mount and loop device, and a rerun finishes the conversion.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture, workingCopy } from '../../fixtures/images/fixtures.js';
import { migrateKilledAt, runCli } from '../helpers/cli.js';
import { leftovers, NOTHING_LEFT } from '../helpers/host-state.js';

let dir: string;

beforeAll(async () => {
  // Built here, under the hook's time limit, not by the first test that needs it.
  await ensureFixture('debian12-xen-pv');
  dir = mkdtempSync(join(tmpdir(), 'e2e-interrupt-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('interrupting a conversion', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)(
    '%s during the initrd rebuild releases everything and a rerun completes',
    async (signal, exitCode) => {
      const image = await workingCopy('debian12-xen-pv', join(dir, `${signal}.raw`));
      const result = await migrateKilledAt(image, 'Run in guest: update-initramfs', signal);
      expect(result.reached).toBe(true);
      expect(result.exitCode).toBe(exitCode);
      expect(result.stderr.trimEnd().split('\n').pop()).toBe(
        `xen2kvm: interrupted by ${signal}; everything the run had mounted or mapped was released`,
      );
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(await leftovers(image)).toEqual(NOTHING_LEFT);

      const rerun = await runCli(['migrate', '--yes', '--in-place', image]);
      expect(rerun.exitCode).toBe(0);
      expect(rerun.stdout).toMatch(/0 file\(s\) changed, 2 command\(s\) run/);
      expect(await leftovers(image)).toEqual(NOTHING_LEFT);
    },
  );
});
