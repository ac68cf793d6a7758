/**
 * What a migrate run reports, as data: `--json` prints it, and a batch worker hands it to the batch
 * as it is (typed, never re-read from text).
 */
import type { planJson } from '../../ui/report.js';
import type { BootCheckResult } from '../../verify/boot-check.js';
import type { NotCarried } from '../../xen/guest-config.js';

/** The plan of a dry-run, as `--diff-format json` / `--json` print it. */
export type PlanReport = ReturnType<typeof planJson>;

/** A conversion that was written (and booted, with --verify). */
export interface ConvertedReport {
  /** define-failed: converted, but libvirt refused the --define or --start (see libvirt.error). */
  status: 'converted' | 'boot-check-failed' | 'define-failed';
  image: string;
  mode: 'copy' | 'in-place';
  output: string | null;
  outputFormat: 'raw' | 'qcow2' | null;
  journal: string | null;
  domainXml: string;
  /** A partitionless guest's volumes and where each went. */
  layout: string[] | null;
  directBoot: { kernel: string; initrd?: string; cmdline: string } | null;
  changes: { path: string; kind: string; step: string }[];
  commands: string[][];
  warnings: string[];
  /** The Xen configuration's settings the KVM guest does not get, each with why. */
  xenSettingsNotCarried: NotCarried[];
  seconds: number;
  /** Seconds per phase and step. */
  steps: Record<string, number>;
  bootCheck: BootCheckResult | null;
  /** What --define/--start did, when asked. */
  libvirt: LibvirtReport | null;
}

export interface LibvirtReport {
  uri: string;
  domain: string;
  defined: boolean;
  replaced: boolean;
  started: boolean;
  error: string | null;
}

export type MigrateReport =
  | { kind: 'planned'; plan: PlanReport }
  | { kind: 'converted'; report: ConvertedReport };
