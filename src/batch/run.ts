/**
 * Runs many conversions at once: each image in its own `xen2kvm migrate` process (its own lock,
 * journal, cleanup and log file), N at a time. One failure never stops the others.
 */
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import type { ImageJob } from './manifest.js';

export interface JobResult {
  image: string;
  status: 'converted' | 'planned' | 'failed' | 'boot-check-failed' | 'skipped';
  exitCode: number;
  seconds: number;
  output: string | null;
  changes: number | null;
  /** Guest paths changed, and seconds per step, from the conversion's own report. */
  files: string[];
  steps: Record<string, number>;
  warnings: string[];
  log: string;
  error: string | null;
}

export interface BatchOptions {
  jobs: number;
  logDir: string;
  dryRun: boolean;
  force: boolean;
  /** Where finished images are recorded, so a rerun skips them. */
  stateFile: string;
  onStart?: (job: ImageJob) => void;
  onDone?: (result: JobResult) => void;
}

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

/** As many conversions as there are cores, and no more than the free loop devices allow (about 4 each). */
export function defaultJobs(): number {
  let free = 0;
  try {
    for (const name of readdirSync('/sys/block').filter((n) => n.startsWith('loop'))) {
      if (!existsSync(`/sys/block/${name}/loop/backing_file`)) free++;
    }
  } catch {
    free = 0;
  }
  const byLoops = Math.floor(free / 4);
  // The kernel creates loop devices on demand, so few free ones is no hard limit.
  return Math.max(1, Math.min(cpus().length, byLoops > 0 ? byLoops : cpus().length));
}

export function argsFor(job: ImageJob, dryRun: boolean): string[] {
  const args = ['migrate', '--json', dryRun ? '--dry-run' : '--yes'];
  if (job.mode === 'in-place') args.push('--in-place');
  else if (job.output) args.push('--output', job.output, '--output-format', job.outputFormat);
  if (job.xenConfig) args.push('--xen-config', job.xenConfig);
  for (const [xen, kvm] of Object.entries(job.bridges)) args.push('--bridge', `${xen}=${kvm}`);
  if (job.network) args.push('--network', job.network);
  if (job.memory) args.push('--memory', String(job.memory));
  if (job.vcpus) args.push('--vcpus', String(job.vcpus));
  if (job.verify && !dryRun) args.push('--verify');
  for (const file of job.kernelPackages) args.push('--kernel-package', file);
  if (job.kernel) args.push('--kernel', job.kernel);
  for (const [xen, file] of Object.entries(job.disks)) args.push('--disk', `${xen}=${file}`);
  if (job.boot) args.push('--boot', job.boot);
  if (job.isolation) args.push('--isolation', job.isolation);
  args.push(job.image);
  return args;
}

type State = Record<string, { status: string; output: string | null; finished: string }>;

function readState(file: string): State {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as State;
  } catch {
    return {};
  }
}

/** A log file name per image, unique even when two images share a base name. */
function logName(job: ImageJob, index: number): string {
  return `${String(index + 1).padStart(3, '0')}-${basename(job.image).replace(/[^\w.-]/g, '_')}.log`;
}

export class BatchRun {
  private readonly running = new Set<ResultPromise>();

  stop(signal: NodeJS.Signals): void {
    for (const child of this.running) child.kill(signal);
  }

  async run(jobs: ImageJob[], options: BatchOptions): Promise<JobResult[]> {
    mkdirSync(options.logDir, { recursive: true });
    const state = readState(options.stateFile);
    const results: JobResult[] = new Array(jobs.length);
    let next = 0;
    const worker = async () => {
      for (let index = next++; index < jobs.length; index = next++) {
        const job = jobs[index] as ImageJob;
        results[index] = await this.one(job, index, options, state);
        options.onDone?.(results[index] as JobResult);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.jobs, jobs.length)) }, worker));
    return results;
  }

  private async one(job: ImageJob, index: number, options: BatchOptions, state: State): Promise<JobResult> {
    const log = join(options.logDir, logName(job, index));
    const previous = state[job.image];
    const done =
      previous?.status === 'converted' &&
      (job.mode === 'in-place' || (previous.output !== null && existsSync(previous.output)));
    if (done && !options.force && !options.dryRun) {
      writeFileSync(log, `skipped: converted on ${previous.finished} (use --force to convert again)\n`);
      return {
        image: job.image,
        status: 'skipped',
        exitCode: 0,
        seconds: 0,
        output: previous.output,
        changes: null,
        files: [],
        steps: {},
        warnings: [],
        log,
        error: null,
      };
    }
    // The output directory of a batch is the batch's to create.
    if (job.output && !options.dryRun) mkdirSync(dirname(job.output), { recursive: true });
    options.onStart?.(job);
    const started = performance.now();
    const stream = createWriteStream(log);
    const child = execa('node', [CLI, ...argsFor(job, options.dryRun)], {
      reject: false,
      stdin: 'ignore',
      env: { NO_COLOR: '1' },
    });
    this.running.add(child);
    child.stderr?.pipe(stream, { end: false });
    const result = await child;
    this.running.delete(child);
    stream.end(`\n${String(result.stdout)}\n`);
    const seconds = (performance.now() - started) / 1000;
    let report: Record<string, unknown> = {};
    try {
      report = JSON.parse(String(result.stdout)) as Record<string, unknown>;
    } catch {
      report = { status: 'failed', error: String(result.stderr).trim().split('\n').pop() ?? 'no report' };
    }
    const exitCode = result.exitCode ?? 1;
    const status: JobResult['status'] = options.dryRun
      ? exitCode === 0
        ? 'planned'
        : 'failed'
      : exitCode === 0
        ? 'converted'
        : exitCode === 3
          ? 'boot-check-failed'
          : 'failed';
    const changes = Array.isArray(report.changes) ? report.changes.length : null;
    const entry: JobResult = {
      image: job.image,
      status,
      exitCode,
      seconds: Number(seconds.toFixed(2)),
      output: (report.output as string | null | undefined) ?? job.output ?? null,
      changes,
      files: Array.isArray(report.changes) ? (report.changes as { path: string }[]).map((c) => c.path) : [],
      steps: (report.steps as Record<string, number> | undefined) ?? {},
      warnings: Array.isArray(report.warnings) ? (report.warnings as string[]) : [],
      log,
      error: status === 'failed' ? String(report.error ?? 'failed') : null,
    };
    if (status === 'converted') {
      state[job.image] = { status, output: entry.output, finished: new Date().toISOString() };
      writeFileSync(options.stateFile, `${JSON.stringify(state, null, 1)}\n`);
    }
    return entry;
  }
}
