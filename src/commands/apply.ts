/**
 * `xen2kvm apply PLAN`: a plan saved with `migrate --dry-run --plan FILE`, carried out exactly. It
 * is migrate run with the flags the plan was made with and this command's own (where and how to
 * apply it); the review made now must come out as the saved one, or nothing is written.
 */
import type { Step } from '../pipeline/types.js';
import type { CliIo } from '../ui/io.js';
import { type MigrateFlags, migrateOptions } from './migrate/from-flags.js';
import { readPlanFile } from './migrate/plan-file.js';
import { migrate } from './migrate.js';

export async function applySavedPlan(
  planPath: string,
  flags: MigrateFlags,
  io: CliIo,
  steps: readonly Step[],
): Promise<number> {
  const plan = readPlanFile(planPath);
  const options = await migrateOptions(plan.image, { ...flags, ...plan.flags });
  return migrate({ ...options, expectedPlan: plan }, io, steps);
}
