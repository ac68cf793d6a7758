/** Where a command's output goes and how it may talk to the operator. */
import type { Writable } from 'node:stream';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  /** A person at a terminal: prompts allowed, the animated task list. */
  interactive: boolean;
  color: boolean;
  /** Pick one of `choices` (only called when interactive, never under a running task list). */
  choose(message: string, choices: string[]): Promise<string>;
  /** Ask for a line of text, with a default (only called when interactive). */
  ask(message: string, initial: string): Promise<string>;
}

export function writeLine(stream: Writable, text = ''): void {
  stream.write(`${text}\n`);
}
