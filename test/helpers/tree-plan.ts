/**
 * The review of a configuration-only fixture made over its tree of files, without root: the recipe
 * builds the guest's files into a directory (XEN2KVM_FIXTURE_TREE_ONLY=1) instead of a disk, and
 * the same code migrate's dry-run uses - the guest's facts, every step, the XML, the report - plans
 * over that tree. The disk is described as the recipe would lay it out (msdos, p1 swap, p2 root, no
 * boot code), attached nowhere.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { reviewRecord, reviewReport } from '../../src/commands/migrate/review-report.js';
import type { AttachedDisk } from '../../src/disk/attach.js';
import type { PartitionTable } from '../../src/disk/partition-table.js';
import { detectOs } from '../../src/inspect/os-release.js';
import { guestFacts } from '../../src/pipeline/guest-facts.js';
import { GuestPlanner } from '../../src/pipeline/plan.js';
import { StagedTree } from '../../src/tree/staged-tree.js';
import { renderPlan } from '../../src/ui/report.js';
import { planDomainXml } from '../../src/xml/domain-plan.js';
import { guestSteps } from '../../steps/index.js';

const RECIPES = join(import.meta.dirname, '..', '..', 'fixtures', 'images');
const MIB = 1024 * 1024;

/** The disk config_guest_disk lays out: 512 MiB, msdos, p1 64 MiB swap at 1 MiB, p2 the root. */
function recipeTable(): PartitionTable {
  const rootStart = MIB + 64 * MIB;
  return {
    label: 'dos',
    sectorSize: 512,
    partitions: [
      { number: 1, start: MIB, size: 64 * MIB, type: '82', bootable: false },
      { number: 2, start: rootStart, size: 512 * MIB - rootStart, type: '83', bootable: false },
    ],
  };
}

const UNATTACHED: AttachedDisk = {
  method: 'loop',
  reason: 'not attached: planned over the recipe tree',
  readOnly: true,
  disk: '/dev/loopN',
  partitions: new Map([
    [1, '/dev/loopN'],
    [2, '/dev/loopN'],
  ]),
};

/** Builds a configuration-only recipe's tree into `dir`/root (no root privileges needed). */
export async function buildRecipeTree(
  recipe: string,
  dir: string,
): Promise<{ root: string; fsType: string }> {
  await execa('bash', [join(RECIPES, recipe, 'build.sh'), dir], {
    env: { XEN2KVM_FIXTURE_TREE_ONLY: '1' },
  });
  return { root: join(dir, 'root'), fsType: readFileSync(join(dir, 'fstype'), 'utf8').trim() };
}

/** `xen2kvm migrate --dry-run IMAGE` as it reads for the guest whose files are under `root`. */
export async function planTree(image: string, root: string, fsType: string): Promise<string> {
  const tree = new StagedTree(root);
  const os = detectOs(tree);
  if (!os) throw new Error(`${root}: no release file the planner recognises`);
  const table = recipeTable();
  const guest = await guestFacts(
    {
      image,
      label: image,
      root,
      table,
      disk: UNATTACHED,
      os,
      rootPartition: 2,
      bootPartition: 2,
      rootFsType: fsType,
      bootCode: Buffer.alloc(440),
    },
    {},
  );
  const planner = new GuestPlanner(guest);
  for (const step of guestSteps) await step.plan(planner.contextFor(step));
  const xml = planDomainXml(image, { type: 'kvm', network: 'default', bridges: new Map() });
  const reviewed = { mapped: { table, disk: UNATTACHED }, guest, plan: planner.result() };
  return renderPlan(
    reviewReport({
      reviewed,
      record: reviewRecord(reviewed, { xml }),
      options: { image, target: { kind: 'review' }, isolation: 'sandbox' },
      color: false,
    }),
  );
}
