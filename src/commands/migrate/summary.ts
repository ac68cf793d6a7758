/** What migrate tells the operator about a run: the plan's summary lines and the time each step took. */
import { identifyBootCode } from '../../disk/mbr.js';
import type { Inspection, Timings } from '../../pipeline/inspect-and-plan.js';
import type { MigrateOptions } from './options.js';
import { copyOf, inPlace } from './run-target.js';

export function summaryLines(
  { mapped, guest }: Inspection,
  options: Pick<MigrateOptions, 'image' | 'target'>,
  newDisk: boolean,
): string[] {
  const { disk } = mapped;
  const kernels = guest.kernels.map((k) => `${k.version}${k.xenOnly ? ' (Xen only)' : ''}`).join(', ');
  // A plan is read before anything happens: it says what the apply would do with the flags given.
  const copy = copyOf(options.target);
  const mode = copy
    ? `would copy to ${copy.output} (${copy.format}); ${options.image} is only read`
    : newDisk
      ? 'needs --output NEW.raw (the guest gets a new whole disk)'
      : inPlace(options.target)
        ? 'would convert in place, with a journal for xen2kvm rollback'
        : 'mode not chosen yet: --in-place converts this image (journaled), --output NEW writes a copy';
  return [
    `partitions mapped with ${disk.method === 'kpartx' ? 'kpartx' : 'loop devices'}: ${disk.reason}`,
    `root: ${guest.rootVolume ? `logical volume ${guest.rootVolume} (on partition ${guest.rootPartition})` : `partition ${guest.rootPartition}`} (${guest.rootFsType}), ${guest.os.prettyName}`,
    `kernels: ${kernels || 'none found in /boot'}`,
    ...guest.kernelPackages.map(
      (p) =>
        `kernel package: ${p.file} (${p.name}${p.versions.length ? `, kernel ${p.versions.join(', ')}` : ''})`,
    ),
    `boots by default: ${guest.bootKernel ?? 'no kernel that runs on KVM'}`,
    `boot code in the MBR: ${identifyBootCode(guest.bootCode)}`,
    `apply: ${mode}`,
  ];
}

/** Sums the phases that ran twice (review and apply) so each step shows once. */
export function sumTimings(timings: Timings): [string, number][] {
  const sums = new Map<string, number>();
  for (const [name, ms] of timings) sums.set(name, (sums.get(name) ?? 0) + ms);
  return [...sums];
}

export function formatTimings(timings: Timings): string {
  return sumTimings(timings)
    .map(([name, ms]) => `${name} ${(ms / 1000).toFixed(2)} s`)
    .join(', ');
}
