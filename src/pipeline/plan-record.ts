/**
 * The one record of everything a run will do to the guest and beside it: the guest's file changes,
 * the commands run inside it, the files written on the host, and the warnings. The review prints
 * it, the in-place journal records what it touches, the apply carries it out, and `--plan` saves it.
 */
import type { FileChange } from '../tree/staged-tree.js';
import type { HostOutput } from './host-outputs.js';
import type { GuestPlan } from './plan.js';
import type { PlannedCommand } from './types.js';

export interface PlanRecord {
  changes: readonly FileChange[];
  commands: readonly PlannedCommand[];
  hostOutputs: readonly HostOutput[];
  warnings: readonly string[];
}

/** The record of a guest plan and what the run writes beside it; `warnings` come first. */
export function planRecord(
  plan: GuestPlan,
  hostOutputs: readonly HostOutput[],
  warnings: readonly string[],
): PlanRecord {
  return { changes: plan.tree.allChanges(), commands: plan.commands, hostOutputs, warnings };
}
