/**
 * A plan saved for later (`migrate --dry-run --plan plan.json`, then `xen2kvm apply plan.json`):
 * the reviewed changes and commands, the options that produced them, and a checksum of every path
 * the plan touches as it was. Apply re-reviews the image and refuses unless both match exactly.
 */

import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import type { FileChange, StagedTree } from '../tree/staged-tree.js';
import type { BootMode, PlannedCommand } from './types.js';

export interface PlanOptions {
  xenConfig?: string;
  bridges: string[];
  network: string;
  name?: string;
  memoryMiB?: number;
  vcpus?: number;
  root?: string;
  mapper: string;
  boot?: BootMode;
  disks?: string[];
  kernel?: string;
  kernelPackages?: string[];
}

export interface PlanFile {
  format: 'xen2kvm-plan';
  version: 1;
  image: string;
  created: string;
  rootPartition: number;
  options: PlanOptions;
  /** sha256 of each touched path's content before the change ("absent" when it did not exist). */
  checksums: Record<string, string>;
  changes: { path: string; kind: FileChange['kind']; step: string; reason: string; content: string | null }[];
  commands: { step: string; argv: string[]; why: string }[];
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
  if (plan.format !== 'xen2kvm-plan' || plan.version !== 1) {
    throw new UserError(`${path}: not a xen2kvm plan (write one with migrate --dry-run --plan FILE)`, 2);
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

export function planCommands(commands: readonly PlannedCommand[]) {
  return commands.map((c) => ({ step: c.step, argv: c.argv, why: c.why }));
}
