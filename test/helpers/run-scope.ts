/**
 * Vitest setup file: each test file gets a TMPDIR and an XEN2KVM_RUN_DIR of its own, inherited by
 * every xen2kvm it starts, so files can run side by side and each judges only what its own runs
 * left (host-state.ts). Removed at the end of the file unless something is still mounted in it.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { xen2kvmMounts } from './host-snapshot.js';

const root = mkdtempSync('/tmp/x2k-test-');
mkdirSync(join(root, 'run'), { mode: 0o700 });
process.env.TMPDIR = root;
process.env.XEN2KVM_RUN_DIR = join(root, 'run');

afterAll(() => {
  // A leak is reported by the test that made it and by the suite's teardown; never delete through a mount.
  if (xen2kvmMounts(root).length === 0) rmSync(root, { recursive: true, force: true });
});
