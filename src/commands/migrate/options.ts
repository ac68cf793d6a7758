/**
 * What `xen2kvm migrate` is asked to do, and the refusals of contradictory or unsafe choices that
 * come before anything is opened.
 */
import { existsSync, statfsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { MapMethod } from '../../disk/attach.js';
import { UserError } from '../../errors.js';
import { type CommandListener, formatCommand } from '../../exec.js';

import type { BootMode, Isolation } from '../../pipeline/types.js';
import { type CliIo, writeLine } from '../../ui/io.js';
import type { DiffFormat } from '../../ui/report.js';
import { seconds } from '../../ui/task-list.js';
import type { DomainOptions } from '../../xml/domain-plan.js';
import { unmappedBridges } from '../../xml/from-xen.js';
import type { LibvirtRequest } from '../../xml/libvirt.js';
import type { VerifyOptions } from '../verify.js';
import type { PlanFile, PlanFlags } from './plan-file.js';
import type { MigrateReport } from './report-types.js';
import { copyOf, type RunTarget } from './run-target.js';

export type { Isolation };

export interface MigrateOptions {
  image: string;
  yes: boolean;
  /** Where the run writes: nothing (a review), the image itself (journaled), or a copy. */
  target: RunTarget;
  /** Where the in-place journal goes instead of beside the image (needed for a block device). */
  journalDir?: string;
  root?: string;
  mapper: MapMethod | 'auto';
  domain: DomainOptions;
  /** The guest's Xen configuration, for the domain XML (and a partitionless guest's other disks). */
  xenConfig?: string;
  /** A partitionless image: on a new whole disk with its own GRUB, or kept and booted directly. */
  boot: BootMode;
  /**
   * The guest's other Xen disks, XENDEVICE=FILE: a partitionless guest's volumes (its swap, say),
   * or where a partitioned guest's other disks were copied to (the XML points at FILE).
   */
  disks: string[];
  /** The kernel version to boot by default. */
  kernel?: string;
  /** Kernel packages (.deb/.rpm) to install into the guest. */
  kernelPackages: string[];
  verify?: Omit<VerifyOptions, 'image'>;
  /** Define (and start) the domain in libvirt once the conversion and its XML are written. */
  libvirt?: LibvirtRequest;
  isolation: Isolation;
  /** The appliance VM's accelerator (--accel). */
  applianceAccel: 'auto' | 'kvm' | 'tcg';
  verbose: boolean;
  /** How the plan is shown. */
  diffFormat: DiffFormat;
  /** Print one JSON report on stdout instead of the human summary. */
  json: boolean;
  /** Save the reviewed plan here, for `xen2kvm apply`. */
  planFile?: string;
  /** What produced the plan, saved with it so apply makes the same one. */
  planFlags?: PlanFlags;
  /** Apply only if the review comes out as this saved plan. */
  expectedPlan?: PlanFile;
  /** Receives the --json report as data too (a batch worker hands it to the batch). */
  onReport?: (report: MigrateReport) => void;
}

export function verboseListener(io: CliIo): CommandListener {
  return (spec, result, ms) =>
    writeLine(
      io.stderr,
      `  $ ${formatCommand(spec)}  [${spec.kind}, exit ${result?.exitCode ?? '-'}, ${seconds(ms)}]`,
    );
}

/** Refuses contradictory or unsafe choices before anything is opened. */
export function checkUsage(options: MigrateOptions, io: CliIo): void {
  const { target } = options;
  const copy = copyOf(target);
  if (copy && resolve(copy.output) === resolve(options.image)) {
    throw new UserError('--output names the source image itself; use --in-place to convert it in place', 2);
  }
  if (copy && !existsSync(dirname(resolve(copy.output)))) {
    throw new UserError(
      `${dirname(resolve(copy.output))} does not exist; create it, or choose another --output`,
      2,
    );
  }
  if (copy && existsSync(copy.output)) {
    throw new UserError(`${copy.output} already exists; remove it or choose another --output`, 2);
  }
  if (options.journalDir) checkJournalDir(options.journalDir);
  if (target.kind === 'review') return;
  if (target.kind === 'in-place' && !options.journalDir && isBlockDevice(options.image)) {
    throw new UserError(
      `${options.image} is a block device: an in-place journal beside it would be in /dev, lost at the next reboot; give --journal-dir DIR on a persistent filesystem, or convert a copy with --output NEW`,
      2,
    );
  }
  if (!options.yes && !io.interactive) {
    throw new UserError(
      'not a terminal, so no confirmation can be asked: review with --dry-run, then apply with --yes',
      2,
    );
  }
  if (options.yes && target.kind === 'in-place' && !target.chosen) {
    throw new UserError(
      '--yes does not choose where to write: add --in-place (journaled, undo with xen2kvm rollback) or --output NEW.raw',
      2,
    );
  }
}

export function isBlockDevice(path: string): boolean {
  try {
    return statSync(path).isBlockDevice();
  } catch {
    return false;
  }
}

/** Filesystems that do not survive a reboot: a journal there would be lost with the undo it allows. */
const VOLATILE = new Map([
  [0x01021994, 'tmpfs'],
  [0x858458f6, 'ramfs'],
]);

/** --journal-dir must be an existing directory on a filesystem that survives a reboot. */
export function checkJournalDir(dir: string): void {
  let fsType: number;
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    fsType = statfsSync(dir).type;
  } catch {
    throw new UserError(`--journal-dir ${dir} is not a directory; create it on a persistent filesystem`, 2);
  }
  const volatile = VOLATILE.get(fsType);
  if (volatile) {
    throw new UserError(
      `--journal-dir ${dir} is on ${volatile}, lost at the next reboot with the journal; choose a directory on a persistent filesystem`,
      2,
    );
  }
}

/** On a terminal, a Xen bridge with no KVM bridge given is the operator's question, asked before any task list runs. */
export async function askBridges(options: MigrateOptions, domain: DomainOptions, io: CliIo): Promise<void> {
  if (!domain.xen || !io.interactive || options.yes || options.target.kind === 'review') return;
  const bridges = new Map(domain.bridges);
  for (const xen of unmappedBridges(domain.xen, bridges)) {
    const answer = await io.ask(
      `KVM bridge for Xen bridge ${xen} (ovs:NAME for Open vSwitch; Enter keeps the name)`,
      xen,
    );
    bridges.set(xen, { name: answer.replace(/^ovs:/, ''), openvswitch: answer.startsWith('ovs:') });
  }
  domain.bridges = bridges;
}
