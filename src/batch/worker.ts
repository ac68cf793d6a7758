/**
 * A batch worker: one conversion in a process of its own (its own lock, signal handling, cleanup
 * stack and log), run from a typed request, answering with a typed reply. The program's worker
 * entry (bin/batch-worker.ts) gives it the guest steps and the IPC channel.
 */

import type { MigrateOptions } from '../commands/migrate/options.js';
import type { MigrateReport } from '../commands/migrate/report-types.js';
import { migrate } from '../commands/migrate.js';
import { errorMessage, isUserError } from '../errors.js';
import type { Step } from '../pipeline/types.js';
import type { FetchedGuest } from '../remote/fetch-guest.js';
import type { CliIo } from '../ui/io.js';
import { importFor, type JobReply, type JobRequest, optionsFor } from './job.js';

/** No terminal: a batch never prompts (its entries say --yes or --dry-run). */
function batchIo(): CliIo {
  const refuse = () => Promise.reject(new Error('a batch conversion cannot ask questions'));
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    interactive: false,
    color: false,
    choose: refuse,
    ask: refuse,
  };
}

export async function runJob(request: JobRequest, steps: readonly Step[]): Promise<JobReply> {
  const io = batchIo();
  let report: MigrateReport | undefined;
  let fetched: FetchedGuest | undefined;
  try {
    let options: MigrateOptions;
    if (request.job.source) ({ fetched, options } = await importFor(request, process.stderr));
    else options = await optionsFor(request);
    const exitCode = await migrate(
      {
        ...options,
        onReport: (made) => {
          report = made;
        },
      },
      io,
      steps,
    );
    if (!report)
      return { kind: 'failed', error: 'the conversion made no report', exitCode: exitCode || 1, fetched };
    return { ...report, exitCode, fetched };
  } catch (error) {
    const exitCode = isUserError(error) ? error.exitCode : 1;
    io.stderr.write(`xen2kvm: ${errorMessage(error)}\n`);
    return { kind: 'failed', error: errorMessage(error), exitCode, fetched };
  }
}
