/**
 * One batch entry as the conversion it asks for: the migrate options a worker runs it with, and
 * what the worker hands back. Typed end to end: nothing is turned into argv and parsed again.
 */

import { conversionFlags, fetchOptionsOf } from '../commands/import.js';
import { type MigrateFlags, migrateOptions } from '../commands/migrate/from-flags.js';
import type { MigrateOptions } from '../commands/migrate/options.js';
import type { MigrateReport } from '../commands/migrate/report-types.js';
import { UserError } from '../errors.js';
import { type FetchedGuest, type FetchOptions, fetchGuest } from '../remote/fetch-guest.js';
import type { ImageJob } from './manifest.js';

/** What the batch sends a worker. */
export interface JobRequest {
  job: ImageJob;
  dryRun: boolean;
}

/** What a worker sends back: the run's report, or why it failed; its exit code; what an import copied. */
export type JobReply = (MigrateReport | { kind: 'failed'; error: string }) & {
  exitCode: number;
  fetched?: FetchedGuest;
};

/** The flags an entry stands for, as `xen2kvm migrate` would take them. */
export function flagsFor(job: ImageJob, dryRun: boolean): MigrateFlags {
  return {
    json: true,
    dryRun,
    yes: !dryRun,
    inPlace: job.mode === 'in-place',
    output: job.mode === 'in-place' ? undefined : job.output,
    // A format only means something for a copy (the manifest's defaults may name one for all).
    outputFormat: job.mode === 'in-place' ? undefined : job.outputFormat,
    xenConfig: job.xenConfig,
    bridge: Object.entries(job.bridges).map(([xen, kvm]) => `${xen}=${kvm}`),
    network: job.network,
    memory: job.memory,
    vcpus: job.vcpus,
    verify: job.verify && !dryRun,
    kernelPackage: job.kernelPackages,
    kernel: job.kernel,
    disk: Object.entries(job.disks).map(([xen, file]) => `${xen}=${file}`),
    boot: job.boot,
    isolation: job.isolation,
    define: job.define && !dryRun,
    start: job.start && !dryRun,
    connect: job.define || job.start ? job.connect : undefined,
  };
}

/** The options a worker runs an entry with: what `migrate --json` would run for the same flags. */
export function optionsFor({ job, dryRun }: JobRequest): Promise<MigrateOptions> {
  return migrateOptions(job.image, flagsFor(job, dryRun));
}

/** A source entry's guest copied from its Xen host, and the options that convert the copy. */
export async function importFor(
  { job, dryRun }: JobRequest,
  progress: FetchOptions['progress'],
): Promise<{ fetched: FetchedGuest; options: MigrateOptions }> {
  if (dryRun || !job.source || !job.output)
    throw new UserError(
      `${job.image}: a dry-run does not copy guests from their Xen host; review with import, or migrate --dry-run on a copy`,
    );
  const fetched = await fetchGuest(
    job.source,
    fetchOptionsOf(
      { outputDir: job.output, sshConfig: job.sshConfig, shutdown: job.shutdown, bandwidth: job.bandwidth },
      progress,
    ),
  );
  const options = await migrateOptions(
    fetched.image,
    conversionFlags(fetched, flagsFor(job, dryRun), job.output),
  );
  return { fetched, options };
}
