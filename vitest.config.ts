import { defineConfig } from 'vitest/config';
import { machinePace } from './test/helpers/machine-pace.js';

// Deadlines are hang detectors, not speed checks: stretched by how slow the machine is when the
// suite starts, and at least doubled for load that arrives later.
const stretch = Math.max(2, machinePace());

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end files attach loop devices and boot qemu: one file at a time keeps them from
    // competing for the machine's two cores and its loop devices.
    fileParallelism: false,
    // The longest test (a conversion and a TCG boot) takes about 4 minutes on an idle machine.
    testTimeout: Math.round(5 * 60_000 * stretch),
    // A cold fixture build (debootstrap) or the KVM host VM runs in a hook.
    hookTimeout: Math.round(40 * 60_000 * stretch),
    // Fails the run if anything of xen2kvm is left on the host at the end, whichever test leaked it.
    globalSetup: ['./test/helpers/suite-leftovers.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
