import { describe, expect, it } from 'vitest';
import { assigns, rewriteAssignments } from '../../src/guest/shell-assignments.js';

const upper = (value: string) => value.toUpperCase();

describe('KEY=value lines', () => {
  it('rewrites only the matching keys, keeping indentation, quotes and trailing space', () => {
    const text = '# A="x"\n  A="one two"  \nAB=three\nB=\'four\'\n';
    expect(rewriteAssignments(text, /A|B/, upper, { bare: 'keep' })).toBe(
      '# A="x"\n  A="ONE TWO"  \nAB=three\nB=\'FOUR\'\n',
    );
  });

  it('passes the key to the edit, so one call can treat related keys differently', () => {
    const text = 'X_DEFAULT="a"\nX="a"\n';
    const out = rewriteAssignments(text, /X(?:_DEFAULT)?/, (value, key) => `${value}-${key}`, {
      bare: 'keep',
    });
    expect(out).toBe('X_DEFAULT="a-X_DEFAULT"\nX="a-X"\n');
  });

  it('quotes a bare value when asked, or when the new value has a space', () => {
    expect(rewriteAssignments('L=a\n', /L/, (v) => `${v}b`, { bare: 'quote' })).toBe('L="ab"\n');
    expect(rewriteAssignments('L=a\n', /L/, (v) => `${v}b`, { bare: 'keep' })).toBe('L=ab\n');
    expect(rewriteAssignments('L=a\n', /L/, (v) => `${v} b`, { bare: 'keep' })).toBe('L="a b"\n');
  });

  it('keeps a trailing comment, and leaves a line with anything else after the value alone', () => {
    expect(rewriteAssignments('A="x" # note "q"\nB=y  # bare\n', /A|B/, upper, { bare: 'keep' })).toBe(
      'A="X" # note "q"\nB=Y  # bare\n',
    );
    expect(rewriteAssignments('A="a#b"\n', /A/, upper, { bare: 'keep' })).toBe('A="A#B"\n');
    const other = 'A="x" B="y"\nA=x; echo hi\n';
    expect(rewriteAssignments(other, /A/, upper, { bare: 'keep' })).toBe(other);
  });

  it('tells whether a key is assigned anywhere, and only that exact key', () => {
    expect(assigns('X_DEFAULT="a"\n', 'X')).toBe(false);
    expect(assigns('#\n  X=\n', 'X')).toBe(true);
  });
});
