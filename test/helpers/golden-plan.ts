/**
 * The golden plans of the configuration-only guests (SUSE, Red Hat, Ubuntu): where they live, and
 * the plan text with what differs between runs and hosts made fixed.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { FixtureName } from '../../fixtures/images/fixtures.js';

export const GOLDEN_DIR = join(import.meta.dirname, '..', 'golden');

/** The fixtures whose whole plan is kept as a golden copy. */
export const GOLDEN_FIXTURES = [
  'sles11-xen',
  'rhel5-xen',
  'rhel6-xen',
  'centos7-xen',
  'ubuntu1404-xen',
] as const satisfies readonly FixtureName[];

export type GoldenFixture = (typeof GOLDEN_FIXTURES)[number];

/**
 * The plan with the scratch directory, loop device numbers and the host's capabilities made fixed,
 * ending in one newline (a CLI run's captured output loses its last one).
 */
export function normalizePlan(plan: string, dir: string): string {
  const fixed = plan
    .replaceAll(dir, '<dir>')
    .replace(/\/dev\/loop(\d+|N)\b/g, '/dev/loopN')
    .replace(
      /^# partitions mapped with .*$/m,
      '# partitions mapped with <kpartx or loop devices, as the host allows>',
    )
    .replace(
      /^(# guest commands run in a bubblewrap sandbox: .*?); (at most \d+ MiB and \d+ processes \([^)]*\)|no memory or process cap \([^)]*\)); /m,
      '$1; <memory and process caps, as the host allows>; ',
    );
  return `${fixed.trimEnd()}\n`;
}

/**
 * Compares a plan with its golden copy. The copy is only ever read here: after a deliberate change,
 * `npm run golden` (scripts/update-golden.ts) rewrites the copies, to be reviewed as a diff.
 */
export function expectGolden(fixture: GoldenFixture, plan: string): void {
  const golden = join(GOLDEN_DIR, `${fixture}.plan`);
  expect(existsSync(golden), `${golden} is missing: run npm run golden and review it`).toBe(true);
  expect(plan).toBe(readFileSync(golden, 'utf8'));
}

/** Writes a golden copy (the update script's job, never a test's). */
export function writeGolden(fixture: GoldenFixture, plan: string): void {
  writeFileSync(join(GOLDEN_DIR, `${fixture}.plan`), plan);
}
