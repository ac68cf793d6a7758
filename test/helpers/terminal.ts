/** Driving the CLI in a real pseudo-terminal (tmux): read the screen, wait for text, send keys. */
import { execa } from 'execa';
import { paced } from './machine-pace.js';

export async function screen(session: string): Promise<string> {
  const { stdout } = await execa('tmux', ['capture-pane', '-p', '-J', '-S', '-200', '-t', session]);
  return stdout;
}

/** Waits for `pattern` on the screen, up to `baseSeconds` stretched by the machine's pace. */
export async function waitFor(session: string, pattern: RegExp, baseSeconds = 60): Promise<string> {
  const seconds = paced(baseSeconds);
  for (let i = 0; i < seconds * 4; i++) {
    const text = await screen(session);
    if (pattern.test(text)) return text;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${pattern} on the terminal; it shows:\n${await screen(session)}`);
}

export async function keys(session: string, ...names: string[]): Promise<void> {
  for (const name of names) await execa('tmux', ['send-keys', '-t', session, name]);
}

/** Starts `command` (a shell line) in a new 200x50 terminal; returns the session name. */
export async function startTerminal(command: string): Promise<string> {
  const session = `xen2kvm-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  // A tmux server already running would hand the command its own environment, not this file's.
  const scope = ['TMPDIR', 'XEN2KVM_RUN_DIR'].flatMap((name) =>
    process.env[name] ? ['-e', `${name}=${process.env[name]}`] : [],
  );
  await execa('tmux', ['new-session', '-d', '-s', session, '-x', '200', '-y', '50', ...scope, command]);
  return session;
}

export async function stopTerminal(session: string): Promise<void> {
  await execa('tmux', ['kill-session', '-t', session], { reject: false });
}
