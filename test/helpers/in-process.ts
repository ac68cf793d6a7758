/** Runs the CLI's main() in this process with captured streams (no terminal, no build needed). */
import { Writable } from 'node:stream';
import { main } from '../../src/cli.js';
import { guestSteps } from '../../steps/index.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export async function runMain(argv: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const exitCode = await main({ argv, stdout, stderr, interactive: false, steps: guestSteps });
  return { exitCode, stdout: stdout.text, stderr: stderr.text };
}
