/**
 * Planning: every guest step declares its file changes and commands against one staged tree.
 * Nothing is written here; dry-run and apply share all of it.
 */
import type { DeviceRenames } from '../guest/device-names.js';
import type { KernelArgsPolicy } from '../guest/kernel-args.js';
import { type GuestFiles, StagedTree } from '../tree/staged-tree.js';
import type { Guest, PlannedCommand, Step, StepContext } from './types.js';

export interface GuestPlan {
  tree: StagedTree;
  commands: PlannedCommand[];
  warnings: string[];
}

/** A guest that names its NICs ethN (ifupdown, ifcfg) keeps those names only with net.ifnames=0. */
export function kernelArgsFor(tree: GuestFiles, renames?: DeviceRenames): KernelArgsPolicy {
  const interfaces = tree.read('/etc/network/interfaces') ?? '';
  const ifcfgEth = tree.list('/etc/sysconfig/network-scripts').some((n) => /^ifcfg-eth\d/.test(n));
  const legacyNames = /^\s*(auto|allow-hotplug|iface)\s+eth\d/m.test(interfaces) || ifcfgEth;
  return { extra: legacyNames ? ['net.ifnames=0'] : [], complete: true, renames };
}

/** The shared state the steps plan into; `contextFor` gives each step its view of it. */
export class GuestPlanner {
  readonly tree: StagedTree;
  readonly commands: PlannedCommand[] = [];
  readonly warnings: string[] = [];
  private readonly kernelArgs: KernelArgsPolicy;

  constructor(private readonly guest: Guest) {
    this.tree = new StagedTree(guest.root);
    this.kernelArgs = kernelArgsFor(this.tree, guest.renames);
  }

  contextFor(step: Step): StepContext {
    return {
      guest: this.guest,
      tree: this.tree.forStep(step.id),
      kernelArgs: this.kernelArgs,
      command: (command) => this.commands.push({ ...command, step: step.id }),
      warn: (message) => this.warnings.push(`${step.id}: ${message}`),
    };
  }

  result(): GuestPlan {
    return { tree: this.tree, commands: this.commands, warnings: this.warnings };
  }
}
