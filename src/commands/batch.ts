/**
 * `xen2kvm batch MANIFEST` (and `xen2kvm migrate A.raw B.raw ...`): many conversions, N at a time,
 * a log file per image, a summary table, an optional JSON report; a rerun skips what is done.
 */
import { basename, join, resolve } from 'node:path';
import { type ImageJob, parseManifest } from '../batch/manifest.js';
import { BatchRun, defaultJobs, type JobResult } from '../batch/run.js';
import { UserError } from '../errors.js';
import type { BootMode, Isolation } from '../pipeline/types.js';
import { type CliIo, writeLine } from '../ui/io.js';
import { bridgeOptions } from './migrate/from-flags.js';

export interface BatchCommandOptions {
  jobs: number;
  dryRun: boolean;
  force: boolean;
  json: boolean;
  logDir?: string;
  /** Names the state file and the default log directory. */
  stateBase: string;
}

function table(results: JobResult[]): string {
  const rows = results.map((r) => [
    r.image,
    r.status,
    `${r.seconds.toFixed(1)} s`,
    r.changes === null ? '-' : String(r.changes),
    r.error ?? r.log,
  ]);
  const header = ['image', 'status', 'time', 'changes', 'log / error'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export async function runBatch(jobs: ImageJob[], options: BatchCommandOptions, io: CliIo): Promise<number> {
  const human = options.json ? io.stderr : io.stdout;
  const batch = new BatchRun();
  const stop = (signal: NodeJS.Signals) => {
    writeLine(io.stderr, `xen2kvm: ${signal} received, stopping the conversions in progress...`);
    batch.stop(signal);
  };
  process.on('SIGINT', stop).on('SIGTERM', stop);
  const started = performance.now();
  const logDir = options.logDir ?? `${options.stateBase}.logs`;
  writeLine(
    io.stderr,
    `${jobs.length} image(s), ${options.jobs} at a time${options.dryRun ? ' (dry-run)' : ''}; logs in ${logDir}`,
  );
  let results: JobResult[];
  try {
    results = await batch.run(jobs, {
      jobs: options.jobs,
      logDir,
      dryRun: options.dryRun,
      force: options.force,
      stateFile: `${options.stateBase}.state.json`,
      onStart: (job) => writeLine(io.stderr, `started   ${job.image}`),
      onDone: (r) => writeLine(io.stderr, `${r.status.padEnd(9)} ${r.image} (${r.seconds.toFixed(1)} s)`),
    });
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop);
  }
  const failed = results.filter((r) => r.status === 'failed' || r.status === 'boot-check-failed');
  const seconds = (performance.now() - started) / 1000;
  writeLine(human, table(results));
  writeLine(
    human,
    `${results.length - failed.length} of ${results.length} image(s) done, ${failed.length} failed, in ${seconds.toFixed(1)} s`,
  );
  if (options.json) {
    io.stdout.write(
      `${JSON.stringify({ status: failed.length ? 'some-failed' : 'done', seconds: Number(seconds.toFixed(2)), images: results }, null, 2)}\n`,
    );
  }
  return failed.length > 0 ? 1 : 0;
}

export async function batchFromManifest(
  manifest: string,
  options: Omit<BatchCommandOptions, 'stateBase'>,
  io: CliIo,
): Promise<number> {
  const jobs = parseManifest(manifest);
  return runBatch(jobs, { ...options, stateBase: resolve(manifest) }, io);
}

/** `migrate A B ...`: the same options for every image, run as a batch. */
export async function batchFromImages(
  images: string[],
  opts: Record<string, unknown>,
  io: CliIo,
): Promise<number> {
  if (!opts.dryRun && !opts.inPlace && !opts.outputDir) {
    throw new UserError('several images: add --in-place, --output-dir DIR, or --dry-run', 2);
  }
  if (opts.output) throw new UserError('several images: use --output-dir DIR, not --output', 2);
  if ((opts.disk as string[] | undefined)?.length) {
    throw new UserError(
      "several images: --disk names one guest's disks; give them per image in a batch manifest",
      2,
    );
  }
  if (opts.define || opts.start) {
    throw new UserError(
      'several images: --define and --start take one image; convert the batch, then define each with xen2kvm xml or virsh define NAME.xml',
      2,
    );
  }
  const bridges = bridgeOptions(opts.bridge as string[]);
  const format = (opts.outputFormat as 'raw' | 'qcow2') ?? 'raw';
  const jobs = images.map((image, index) => ({
    image: resolve(image),
    mode: opts.inPlace ? ('in-place' as const) : ('copy' as const),
    output: opts.outputDir
      ? join(resolve(opts.outputDir as string), `${basename(image).replace(/\.[^.]+$/, '')}.${format}`)
      : undefined,
    outputFormat: format,
    xenConfig: undefined,
    bridges: Object.fromEntries(
      [...bridges.bridges].map(([xen, t]) => [xen, `${t.openvswitch ? 'ovs:' : ''}${t.name}`]),
    ),
    network: opts.network as string | undefined,
    memory: opts.memory as number | undefined,
    vcpus: opts.vcpus as number | undefined,
    verify: Boolean(opts.verify),
    kernelPackages: ((opts.kernelPackage as string[] | undefined) ?? []).map((file) => resolve(file)),
    kernel: opts.kernel as string | undefined,
    disks: {},
    boot: opts.boot as BootMode | undefined,
    isolation: opts.isolation as Isolation | undefined,
    line: index + 1,
  }));
  return runBatch(
    jobs,
    {
      jobs: (opts.jobs as number | undefined) ?? defaultJobs(),
      dryRun: Boolean(opts.dryRun),
      force: false,
      json: Boolean(opts.json),
      stateBase: join(process.cwd(), 'xen2kvm-batch'),
    },
    io,
  );
}
