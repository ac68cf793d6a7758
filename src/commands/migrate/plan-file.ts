/**
 * A plan saved for later (`migrate --dry-run --plan plan.json`, then `xen2kvm apply plan.json`):
 * the plan record as reviewed (the guest's changes, its commands with their checks, the files
 * written on the host, the warnings), the flags that produced it, and a checksum of every path the
 * plan touches as it was. Apply re-reviews the image and refuses unless both match exactly.
 */

import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { UserError } from '../../errors.js';
import type { HostOutput } from '../../pipeline/host-outputs.js';
import type { BootMode, PlannedCommand } from '../../pipeline/types.js';
import type { FileChange, StagedTree } from '../../tree/staged-tree.js';
import type { DomainTypeChoice } from '../../xml/domain-type.js';

/** The flags that shape a plan: saved with it, so apply makes the same one. */
export interface PlanFlags {
  xenConfig?: string;
  domainType?: DomainTypeChoice;
  name?: string;
  memory?: number;
  vcpus?: number;
  network?: string;
  bridge?: string[];
  root?: string;
  mapper?: 'auto' | 'kpartx' | 'loop';
  boot?: BootMode;
  disk?: string[];
  kernel?: string;
  kernelPackage?: string[];
}

export interface PlanFile {
  format: 'xen2kvm-plan';
  version: 2;
  image: string;
  created: string;
  rootPartition: number;
  flags: PlanFlags;
  /** sha256 of each touched path's content before the change ("absent" when it did not exist). */
  checksums: Record<string, string>;
  changes: { path: string; kind: FileChange['kind']; step: string; reason: string; content: string | null }[];
  /** The guest commands as planned: argv, what they touch, their input and staged files, their checks. */
  commands: PlannedCommand[];
  /** The files written on the host beside the guest, for the target the plan was reviewed for. */
  hostOutputs: HostOutput[];
  warnings: string[];
  /** The comparison key: changes and commands with the loop device of the whole disk left out. */
  fingerprint: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The content each change starts from, hashed: what must still be there when the plan is applied. */
export function touchedChecksums(
  tree: StagedTree,
  changes: readonly FileChange[],
  commands: readonly PlannedCommand[],
): Record<string, string> {
  const sums: Record<string, string> = {};
  for (const change of changes) {
    sums[change.path] = change.before === undefined ? 'absent' : sha256(`${change.kind}\0${change.before}`);
  }
  // What the commands rewrite (initrds, GRUB's directory) must also be as it was.
  for (const path of commands.flatMap((c) => c.touches)) {
    if (path in sums) continue;
    const host = tree.hostPath(path);
    try {
      const stat = lstatSync(host);
      sums[path] = stat.isDirectory()
        ? sha256(`dir\0${readdirSync(host).sort().join('\n')}`)
        : createHash('sha256').update(readFileSync(host)).digest('hex');
    } catch {
      sums[path] = 'absent';
    }
  }
  return sums;
}

export function writePlanFile(path: string, plan: PlanFile): void {
  writeFileSync(path, `${JSON.stringify(plan, null, 2)}\n`);
}

export function readPlanFile(path: string): PlanFile {
  let plan: PlanFile;
  try {
    plan = JSON.parse(readFileSync(path, 'utf8')) as PlanFile;
  } catch (error) {
    throw new UserError(
      `${path}: not a readable plan (${error instanceof Error ? error.message : String(error)})`,
      2,
    );
  }
  if (plan?.format !== 'xen2kvm-plan') {
    throw new UserError(`${path}: not a xen2kvm plan (write one with migrate --dry-run --plan FILE)`, 2);
  }
  if (plan.version !== 2) {
    throw new UserError(
      `${path}: a plan of another xen2kvm version (${String(plan.version)}); make it again with migrate --dry-run --plan FILE`,
      2,
    );
  }
  return plan;
}

/** Says which path or command differs between the saved plan and the one made now. */
export function comparePlans(
  saved: PlanFile,
  now: Pick<PlanFile, 'checksums' | 'fingerprint' | 'rootPartition'>,
): void {
  if (saved.rootPartition !== now.rootPartition) {
    throw new UserError(
      `the image changed since the plan was made: its root is now partition ${now.rootPartition}, not ${saved.rootPartition}`,
    );
  }
  for (const [path, sum] of Object.entries(saved.checksums)) {
    if (now.checksums[path] !== sum) {
      throw new UserError(
        `the image changed since the plan was made: ${path} is not what the plan was made from; make a new plan`,
      );
    }
  }
  if (saved.fingerprint !== now.fingerprint) {
    throw new UserError(
      'the image changed since the plan was made: the changes or commands would differ now; make a new plan',
    );
  }
}
