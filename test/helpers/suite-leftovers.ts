/**
 * Vitest global setup: remembers what the host held before the suite, and at the end fails the run
 * if the suite left anything of xen2kvm behind (a test that leaked it has already failed too).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { added, type HostState, hostState } from './host-snapshot.js';

let before: HostState;
let rootsBefore: string[] = [];
const testRoots = () => readdirSync('/tmp').filter((name) => name.startsWith('x2k-test-'));

export async function setup(): Promise<void> {
  before = await hostState(true);
  rootsBefore = testRoots();
}

export async function teardown(): Promise<void> {
  const left = added(before, await hostState(true));
  // A test file's TMPDIR still there held a mount when the file ended; one with nothing in it is a
  // file whose tests were all skipped (vitest runs no afterAll then), removed here.
  left.tempDirs = testRoots()
    .filter((name) => !rootsBefore.includes(name))
    .filter((name) => {
      const root = join('/tmp', name);
      const empty =
        readdirSync(root).every((entry) => entry === 'run') && readdirSync(join(root, 'run')).length === 0;
      if (empty) rmSync(root, { recursive: true });
      return !empty;
    });
  const lines = Object.entries(left).flatMap(([kind, items]) =>
    (items as string[]).map((item) => `  ${kind}: ${item}`),
  );
  if (lines.length > 0) throw new Error(`the suite left these on the host:\n${lines.join('\n')}`);
}
