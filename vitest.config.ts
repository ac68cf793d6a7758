import { defineConfig } from 'vitest/config';
import FileOrder from './test/helpers/file-order.js';
import { machinePace } from './test/helpers/machine-pace.js';

// Deadlines are hang detectors, not speed checks: stretched by how slow the machine is when the
// suite starts, and at least doubled for load that arrives later.
const stretch = Math.max(2, machinePace());

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two files at a time: most of an end-to-end test is one busy thread (qemu's TCG, an initrd
    // rebuild, a copy), so two overlap well on two cores. Each file has its own TMPDIR and run dir.
    fileParallelism: true,
    maxWorkers: 2,
    setupFiles: ['./test/helpers/run-scope.ts'],
    // Which file goes beside which: see file-order.ts.
    sequence: { sequencer: FileOrder },
    // The longest test (a conversion and a TCG boot) takes about 4 minutes on an idle machine.
    testTimeout: Math.round(5 * 60_000 * stretch),
    // A cold fixture build (debootstrap) or the KVM host VM runs in a hook.
    hookTimeout: Math.round(40 * 60_000 * stretch),
    // Fails the run if anything of xen2kvm is left on the host at the end, whichever test leaked it.
    globalSetup: ['./test/helpers/suite-leftovers.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
