/** Runs the built CLI as an operator would: a separate process, piped output, no terminal. */

import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { paced } from './machine-pace.js';

export const CLI = fileURLToPath(new URL('../../dist/bin/xen2kvm.js', import.meta.url));

/** A TCG boot's deadline: 240 s on an idle machine (a boot takes about 70 s), stretched by the machine's pace. */
export function bootTimeoutSeconds(): number {
  return paced(240);
}

/** migrate's flags for a boot check under TCG that keeps its console log at `consoleLog`. */
export function bootCheckArgs(consoleLog: string): string[] {
  return [
    '--verify',
    '--accel',
    'tcg',
    '--boot-timeout',
    String(bootTimeoutSeconds()),
    '--console-log',
    consoleLog,
  ];
}

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Every CLI run of the suite holds a shared lock on this file (util-linux flock); a run given
 * `alone` holds it exclusively, so no other file's xen2kvm runs beside it. For a TCG boot whose
 * guest waits for several disks: on this 2-core machine such a guest finds them about 60 s into
 * systemd's 90 s when idle, and a conversion beside it (an initrd rebuild) pushes it past.
 */
export const SUITE_CPU_LOCK = '/tmp/xen2kvm-suite-cpu.lock';

export async function runCli(
  args: string[],
  options: {
    timeout?: number;
    cwd?: string;
    env?: Record<string, string>;
    alone?: boolean;
    /** What the program runs under: `ip netns exec NS`, to run it on another host of a test. */
    prefix?: string[];
  } = {},
): Promise<CliRun> {
  const mode = options.alone ? '--exclusive' : '--shared';
  const result = await execa(
    'flock',
    [mode, SUITE_CPU_LOCK, ...(options.prefix ?? []), 'node', CLI, ...args],
    {
      reject: false,
      stdin: 'ignore',
      cwd: options.cwd,
      timeout: options.timeout ?? paced(20 * 60) * 1000,
      env: { NO_COLOR: '1', ...options.env },
    },
  );
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/**
 * Starts `migrate --yes --in-place IMAGE` and sends `signal` as soon as its task list shows that
 * `point` started. `reached` says whether it ever did.
 */
export async function migrateKilledAt(
  image: string,
  point: string,
  signal: NodeJS.Signals,
  extraArgs: readonly string[] = [],
): Promise<CliRun & { reached: boolean }> {
  const child = execa('node', [CLI, 'migrate', '--yes', '--in-place', ...extraArgs, image], {
    reject: false,
    stdin: 'ignore',
    env: { NO_COLOR: '1' },
    // execa follows a SIGTERM with SIGKILL after 5 s; on a busy machine the release after SIGTERM
    // can take longer, and a SIGKILL then is not the fault under test.
    forceKillAfterDelay: false,
  });
  let stderr = '';
  let reached = false;
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (!reached && stderr.includes(`[STARTED] ${point}`)) {
      reached = true;
      child.kill(signal);
    }
  });
  const result = await child;
  return {
    exitCode: result.exitCode ?? -1,
    stdout: String(result.stdout),
    stderr: String(result.stderr),
    reached,
  };
}
