import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end files attach loop devices and boot qemu: one file at a time keeps them from
    // competing for the machine's two cores and its loop devices.
    fileParallelism: false,
    // Generous: an end-to-end test hashes 2 GiB images and converts them, slowly on a busy machine.
    testTimeout: 180_000,
    hookTimeout: 40 * 60_000,
    // Fails the run if anything of xen2kvm is left on the host at the end, whichever test leaked it.
    globalSetup: ['./test/helpers/suite-leftovers.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
