/** Where a run writes: one value from the flags, contradictions refused before anything is opened. */
import { describe, expect, it } from 'vitest';
import { copyOf, inPlace, runTargetOf } from '../../src/commands/migrate/run-target.js';

describe('run targets', () => {
  it('follow the flags: a review, in place, or a copy in its format', () => {
    expect(runTargetOf({ dryRun: true })).toEqual({ kind: 'review', apply: undefined });
    expect(runTargetOf({ dryRun: true, output: 'n.qcow2', outputFormat: 'qcow2' })).toEqual({
      kind: 'review',
      apply: { kind: 'copy', output: 'n.qcow2', format: 'qcow2' },
    });
    expect(runTargetOf({ inPlace: true })).toEqual({ kind: 'in-place', chosen: true });
    expect(runTargetOf({ output: 'n.raw' })).toEqual({ kind: 'copy', output: 'n.raw', format: 'raw' });
  });

  it('are in place with no mode flag (on a terminal the question offers the image itself)', () => {
    const target = runTargetOf({});
    expect(target).toEqual({ kind: 'in-place', chosen: false });
    expect(inPlace(target)).toBe(true);
    expect(copyOf(target)).toBeUndefined();
    // A review with no mode flag says nothing of an apply: neither in place nor a copy.
    expect(inPlace(runTargetOf({ dryRun: true }))).toBe(false);
  });

  it('refuse contradictory flags in one line', () => {
    expect(() => runTargetOf({ inPlace: true, output: 'n.raw' })).toThrow(
      '--output and --in-place exclude each other: choose one',
    );
    expect(() => runTargetOf({ inPlace: true, outputFormat: 'qcow2' })).toThrow(
      '--output-format needs --output NEW',
    );
  });
});
