/**
 * The operator at a terminal: a real pseudo-terminal (tmux) running `xen2kvm migrate IMAGE` without
 * --yes. The plan is shown, the question asked; "no" leaves the image byte-identical, "yes" converts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workingCopy } from '../../fixtures/images/fixtures.js';
import { CLI } from '../helpers/cli.js';
import { leftovers, NOTHING_LEFT, sha256 } from '../helpers/host-state.js';

let dir: string;
let image: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'e2e-interactive-'));
  image = await workingCopy('debian12-xen-pv', join(dir, 'guest.raw'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function screen(session: string): Promise<string> {
  const { stdout } = await execa('tmux', ['capture-pane', '-p', '-J', '-S', '-200', '-t', session]);
  return stdout;
}

async function waitFor(session: string, pattern: RegExp, seconds = 60): Promise<string> {
  for (let i = 0; i < seconds * 4; i++) {
    const text = await screen(session);
    if (pattern.test(text)) return text;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${pattern} on the terminal; it shows:\n${await screen(session)}`);
}

async function migrateAnswering(answer: 'y' | 'n'): Promise<{ screen: string; exitCode: number }> {
  const session = `xen2kvm-test-${answer}-${process.pid}`;
  const command = `node ${CLI} migrate ${image}; echo "EXIT=$?"; sleep 120`;
  await execa('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '50', command]);
  try {
    await waitFor(session, /Apply these 7 change\(s\) and 2 command\(s\)/);
    await execa('tmux', ['send-keys', '-t', session, answer]);
    await execa('tmux', ['send-keys', '-t', session, 'Enter']);
    const text = await waitFor(session, /EXIT=\d+/);
    return { screen: text, exitCode: Number(/EXIT=(\d+)/.exec(text)?.[1]) };
  } finally {
    await execa('tmux', ['kill-session', '-t', session], { reject: false });
  }
}

describe('interactive migrate on a terminal', () => {
  it('shows the plan, and a "no" leaves the image untouched', async () => {
    const before = await sha256(image);
    const run = await migrateAnswering('n');
    expect(run.screen).toContain('+++ b/etc/fstab');
    expect(run.screen).toMatch(/aborted; .*guest\.raw was not modified/);
    expect(run.exitCode).toBe(1);
    expect(await sha256(image)).toBe(before);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });

  it('a "yes" converts it', async () => {
    const run = await migrateAnswering('y');
    expect(run.screen).toMatch(/converted .*guest\.raw in place: 7 file\(s\) changed, 2 command\(s\) run/);
    expect(run.exitCode).toBe(0);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });
});
