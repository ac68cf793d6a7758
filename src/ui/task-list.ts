/**
 * listr2 task lists, drawn on stderr so stdout stays for the report: the animated renderer at a
 * terminal, one plain line per event otherwise (pipes, CI, logs).
 */
import { Listr, ListrLogger, type ListrTask, PRESET_TIMER, ProcessOutput } from 'listr2';
import type { CliIo } from './io.js';

export function taskList<Ctx>(
  io: CliIo,
  tasks: ListrTask<Ctx>[],
): Listr<Ctx, 'default' | 'simple', 'simple'> {
  const stderr = io.stderr as NodeJS.WriteStream;
  const logger = () =>
    new ListrLogger({ processOutput: new ProcessOutput(stderr, stderr), useIcons: io.color });
  return new Listr<Ctx, 'default' | 'simple', 'simple'>(tasks, {
    concurrent: false,
    exitOnError: true,
    // listr2's own SIGINT handler exits the process at once; ours must first unmount and detach.
    registerSignalListeners: false,
    renderer: io.interactive ? 'default' : 'simple',
    fallbackRenderer: 'simple',
    rendererOptions: {
      logger: logger(),
      collapseSubtasks: false,
      timer: PRESET_TIMER,
    },
    fallbackRendererOptions: {
      logger: logger(),
      timer: PRESET_TIMER,
    },
    silentRendererCondition: process.env.XEN2KVM_SILENT === '1',
  });
}

/** Seconds with one decimal, for timings shown to the operator. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Progress for a long step on a terminal: `describe` is shown under the running task every second
 * (elapsed seconds, bytes copied...). Without a terminal nothing is added: logs stay one line a step.
 */
export async function withProgress<T>(
  task: { output?: string },
  io: Pick<CliIo, 'interactive'>,
  describe: (elapsedSeconds: number) => string,
  work: () => Promise<T>,
): Promise<T> {
  if (!io.interactive) return work();
  const started = performance.now();
  const timer = setInterval(() => {
    task.output = describe((performance.now() - started) / 1000);
  }, 1000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
