/**
 * Runs many conversions at once: each image in its own `xen2kvm migrate` process (its own lock,
 * journal, cleanup and log file), N at a time. One failure never stops the others.
 */
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type Message, type ResultPromise } from 'execa';
import { lastLines } from '../exec.js';
import type { JobReply, JobRequest } from './job.js';
import type { ImageJob } from './manifest.js';

export interface JobResult {
  image: string;
  status: 'converted' | 'planned' | 'failed' | 'boot-check-failed' | 'define-failed' | 'skipped';
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
  /** A source entry's copy from its Xen host: bytes on the wire, of data, of disk, and seconds. */
  copy: { wireBytes: number; dataBytes: number; size: number; seconds: number; resumed: number } | null;
  /** The boot check's verdict, when the entry asked for one (verify). */
  bootCheck: { ok: boolean; seconds: number } | null;
  /** The libvirt domain, when the entry asked to define it and it was. */
  defined: string | null;
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

/** The worker entry, built beside the program's (dist/bin/batch-worker.js). */
const WORKER = fileURLToPath(new URL('../../bin/batch-worker.js', import.meta.url));

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
        copy: null,
        bootCheck: null,
        defined: null,
      };
    }
    // The output directory of a batch is the batch's to create.
    if (job.output && !options.dryRun) mkdirSync(dirname(job.output), { recursive: true });
    options.onStart?.(job);
    const started = performance.now();
    const stream = createWriteStream(log);
    const request: JobRequest = { job, dryRun: options.dryRun };
    const child = execa('node', [WORKER], {
      reject: false,
      stdin: 'ignore',
      env: { NO_COLOR: '1' },
      // Structured-clone data; execa's Message type has no room for a named interface.
      ipcInput: request as unknown as Message,
    });
    this.running.add(child);
    child.stderr?.pipe(stream, { end: false });
    const result = await child;
    this.running.delete(child);
    stream.end(`\n${String(result.stdout)}\n`);
    const seconds = (performance.now() - started) / 1000;
    const reply = (result.ipcOutput[0] as JobReply | undefined) ?? {
      kind: 'failed' as const,
      // The worker died before it could answer (killed, out of memory): its last words say why.
      error: lastLines(String(result.stderr), 1) || `worker ended with ${result.signal ?? result.exitCode}`,
      exitCode: result.exitCode ?? 1,
    };
    const entry = jobResult(job, reply, Number(seconds.toFixed(2)), log, options.dryRun);
    if (entry.status === 'converted') {
      state[job.image] = { status: entry.status, output: entry.output, finished: new Date().toISOString() };
      writeFileSync(options.stateFile, `${JSON.stringify(state, null, 1)}\n`);
    }
    return entry;
  }
}

/** A worker's reply as the batch reports it. */
export function jobResult(
  job: ImageJob,
  reply: JobReply,
  seconds: number,
  log: string,
  dryRun: boolean,
): JobResult {
  const { exitCode } = reply;
  const status: JobResult['status'] = dryRun
    ? exitCode === 0
      ? 'planned'
      : 'failed'
    : exitCode === 0
      ? 'converted'
      : exitCode === 3
        ? 'boot-check-failed'
        : reply.kind === 'converted' && reply.report.status === 'define-failed'
          ? 'define-failed'
          : 'failed';
  const converted = reply.kind === 'converted' ? reply.report : undefined;
  const disks = reply.fetched?.disks ?? [];
  const sum = (pick: (d: (typeof disks)[number]) => number) => disks.reduce((n, d) => n + pick(d), 0);
  const changes =
    reply.kind === 'planned'
      ? reply.plan.changes
      : reply.kind === 'converted'
        ? reply.report.changes
        : undefined;
  return {
    image: job.image,
    status,
    exitCode,
    seconds,
    output: (reply.kind === 'converted' ? reply.report.output : null) ?? job.output ?? null,
    changes: changes ? changes.length : null,
    files: changes ? changes.map((c) => c.path) : [],
    steps: reply.kind === 'converted' ? reply.report.steps : {},
    warnings:
      reply.kind === 'planned'
        ? [...reply.plan.warnings]
        : reply.kind === 'converted'
          ? reply.report.warnings
          : [],
    log,
    error:
      status === 'failed'
        ? reply.kind === 'failed'
          ? reply.error
          : 'failed'
        : status === 'define-failed' && reply.kind === 'converted'
          ? (reply.report.libvirt?.error ?? null)
          : null,
    copy: reply.fetched
      ? {
          wireBytes: sum((d) => d.wireBytes),
          dataBytes: sum((d) => d.dataBytes),
          size: sum((d) => d.size),
          seconds: Number(sum((d) => d.seconds).toFixed(2)),
          resumed: sum((d) => d.resumedFrom.length),
        }
      : null,
    bootCheck: converted?.bootCheck
      ? { ok: converted.bootCheck.ok, seconds: converted.bootCheck.seconds }
      : null,
    defined: converted?.libvirt?.defined ? converted.libvirt.domain : null,
  };
}
