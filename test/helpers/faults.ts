/** Killing a conversion at a named step, shared by the fault tests. */
import { expect } from 'vitest';
import { migrateKilledAt } from './cli.js';

/** An in-place conversion killed with `signal` when `point` starts; it must get there. */
export async function killAt(image: string, point: string, signal: 'SIGTERM' | 'SIGKILL') {
  const run = await migrateKilledAt(image, point, signal);
  expect(run.reached, `the run never reached "${point}"`).toBe(true);
  return run;
}

/** Where a conversion is killed: the attach, the mount, the review's planning, the writes, each guest command. */
export const FAULT_POINTS = [
  'Map partitions (read-write)',
  'Mount the guest (read-write)',
  'Rewrite /etc/fstab for virtio disks',
  'Write 7 file change(s) into the guest',
  'Run in guest: update-initramfs',
  'Run in guest: grub-install',
];
