/** Runs the built CLI as an operator would: a separate process, piped output, no terminal. */

import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCli(
  args: string[],
  options: { timeout?: number; cwd?: string } = {},
): Promise<CliRun> {
  const result = await execa('node', [CLI, ...args], {
    reject: false,
    stdin: 'ignore',
    cwd: options.cwd,
    timeout: options.timeout ?? 10 * 60_000,
    env: { NO_COLOR: '1' },
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}
