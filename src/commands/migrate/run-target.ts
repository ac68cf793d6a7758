/**
 * Where a run writes, as one value decided from the flags before anything is opened: a review that
 * writes nothing (and may say what an apply would do), the image itself in place (journaled), or a
 * copy at OUTPUT in a format. On a terminal with no mode flag the run is in place: the question at
 * the end offers the image itself, so an input that cannot be converted in place is refused up
 * front, not converted in a working copy that is then thrown away.
 */

import { UserError } from '../../errors.js';

/** Where an apply writes. `chosen`: named by --in-place, rather than the terminal's default. */
export type WriteTarget =
  | { kind: 'in-place'; chosen: boolean }
  | { kind: 'copy'; output: string; format: 'raw' | 'qcow2' };

/** A review (--dry-run) writes nothing; `apply` is what the flags given would make an apply do. */
export type RunTarget = { kind: 'review'; apply?: WriteTarget } | WriteTarget;

export interface TargetFlags {
  dryRun?: boolean;
  inPlace?: boolean;
  output?: string;
  outputFormat?: 'raw' | 'qcow2';
}

/** The target the flags ask for; contradictory flags are refused here, before anything is opened. */
export function runTargetOf(flags: TargetFlags): RunTarget {
  if (flags.output && flags.inPlace)
    throw new UserError('--output and --in-place exclude each other: choose one', 2);
  if (flags.outputFormat === 'qcow2' && !flags.output)
    throw new UserError('--output-format needs --output NEW', 2);
  const write: WriteTarget | undefined = flags.output
    ? { kind: 'copy', output: flags.output, format: flags.outputFormat ?? 'raw' }
    : flags.inPlace
      ? { kind: 'in-place', chosen: true }
      : undefined;
  if (flags.dryRun) return { kind: 'review', apply: write };
  return write ?? { kind: 'in-place', chosen: false };
}

/** What an apply of this run writes (a review: what the flags would make it write), if known. */
export function writeTargetOf(target: RunTarget): WriteTarget | undefined {
  return target.kind === 'review' ? target.apply : target;
}

/** Whether the run (or the apply a review describes) converts the image itself. */
export function inPlace(target: RunTarget): boolean {
  return writeTargetOf(target)?.kind === 'in-place';
}

/** The copy the run (or the apply a review describes) writes, if it writes one. */
export function copyOf(target: RunTarget): Extract<WriteTarget, { kind: 'copy' }> | undefined {
  const write = writeTargetOf(target);
  return write?.kind === 'copy' ? write : undefined;
}
