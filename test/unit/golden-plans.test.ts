/**
 * The golden plans of the SUSE, Red Hat and Ubuntu guests, checked on every unit run without root:
 * each recipe's tree is planned by the same steps, XML and report code migrate's dry-run uses, and
 * the text must equal the golden copy. families.test.ts checks the same copies through the real
 * CLI on the built images (loop devices, mounts), so the two ways of getting there cannot drift.
 *
 * After a deliberate change, `npm run golden` rewrites the copies (the test is then reported as
 * skipped, never as passed); review them with git diff.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectGolden, GOLDEN_FIXTURES, normalizePlan, writeGolden } from '../helpers/golden-plan.js';
import { buildRecipeTree, planTree } from '../helpers/tree-plan.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'golden-trees-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('golden plans, planned over the recipe trees', () => {
  for (const fixture of GOLDEN_FIXTURES) {
    it(`${fixture}: the plan of its tree equals the golden copy`, async (ctx) => {
      const { root, fsType } = await buildRecipeTree(fixture, join(dir, fixture));
      const plan = normalizePlan(await planTree(join(dir, `${fixture}.raw`), root, fsType), dir);
      if (process.env.XEN2KVM_UPDATE_GOLDEN === '1') {
        writeGolden(fixture, plan);
        ctx.skip();
      }
      expect(plan).toMatch(/^# \d+ file change\(s\) in the guest$/m);
      expectGolden(fixture, plan);
    });
  }
});
