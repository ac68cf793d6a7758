import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commitChange } from '../../src/tree/commit.js';
import { resolveInGuest } from '../../src/tree/confine.js';
import { StagedTree } from '../../src/tree/staged-tree.js';

let base: string;
let root: string;
let outside: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'tree-test-'));
  root = join(base, 'guest');
  outside = join(base, 'host-secret');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(outside, 'host data\n');
  writeFileSync(join(root, 'etc', 'fstab'), '/dev/xvda2 / ext4 defaults 0 1\n', { mode: 0o640 });
});

afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('StagedTree', () => {
  it('records a change only when the bytes differ, and never touches the disk itself', () => {
    const tree = new StagedTree(root);
    tree.write('/etc/fstab', '/dev/xvda2 / ext4 defaults 0 1\n', 'test', 'same bytes');
    expect(tree.allChanges()).toEqual([]);
    tree.write('/etc/fstab', '/dev/vda2 / ext4 defaults 0 1\n', 'test', 'changed');
    expect(tree.allChanges()).toHaveLength(1);
    expect(tree.read('/etc/fstab')).toBe('/dev/vda2 / ext4 defaults 0 1\n');
    expect(readFileSync(join(root, 'etc', 'fstab'), 'utf8')).toBe('/dev/xvda2 / ext4 defaults 0 1\n');
    tree.write('/etc/fstab', '/dev/xvda2 / ext4 defaults 0 1\n', 'test', 'back to the original');
    expect(tree.allChanges()).toEqual([]);
  });

  it('rewrites a file from its staged text, and leaves an absent file absent', () => {
    const tree = new StagedTree(root);
    tree.write('/etc/fstab', '/dev/xvda2 / ext4 noatime 0 1\n', 'test', 'first');
    const toVda = (text: string) => text.replace('xvda', 'vda');
    expect(tree.rewrite('/etc/fstab', toVda, 'test', 'second')).toBe(true);
    expect(tree.read('/etc/fstab')).toBe('/dev/vda2 / ext4 noatime 0 1\n');
    expect(tree.rewrite('/etc/securetty', () => 'ttyS0\n', 'test', 'absent')).toBe(false);
    expect(tree.allChanges().map((c) => c.path)).toEqual(['/etc/fstab']);
  });

  it('commits a write atomically, keeping the mode', () => {
    const tree = new StagedTree(root);
    tree.write('/etc/fstab', 'new\n', 'test', 'x');
    for (const change of tree.allChanges()) commitChange(tree, change);
    expect(readFileSync(join(root, 'etc', 'fstab'), 'utf8')).toBe('new\n');
    expect(statSync(join(root, 'etc', 'fstab')).mode & 0o777).toBe(0o640);
  });

  it('stages and commits symlinks and removals, listing them in directory views', () => {
    mkdirSync(join(root, 'etc', 'wants'));
    symlinkSync('/lib/unit@.service', join(root, 'etc', 'wants', 'unit@hvc0.service'));
    const tree = new StagedTree(root);
    tree.remove('/etc/wants/unit@hvc0.service', 'test', 'x');
    tree.symlink('/etc/wants/unit@ttyS0.service', '/lib/unit@.service', 'test', 'x');
    expect(tree.list('/etc/wants')).toEqual(['unit@ttyS0.service']);
    for (const change of tree.allChanges()) commitChange(tree, change);
    expect(readlinkSync(join(root, 'etc', 'wants', 'unit@ttyS0.service'))).toBe('/lib/unit@.service');
    expect(() => lstatSync(join(root, 'etc', 'wants', 'unit@hvc0.service'))).toThrow();
  });
});

describe('confinement to the guest root', () => {
  it('resolves an absolute symlink inside the guest, not on the host', () => {
    rmSync(join(root, 'etc', 'fstab'));
    symlinkSync(outside, join(root, 'etc', 'fstab'));
    expect(resolveInGuest(root, '/etc/fstab')).toBe(join(root, outside));
    const tree = new StagedTree(root);
    expect(tree.read('/etc/fstab')).toBeUndefined();
    tree.write('/etc/fstab', 'evil\n', 'test', 'x');
    for (const change of tree.allChanges()) commitChange(tree, change);
    expect(readFileSync(outside, 'utf8')).toBe('host data\n');
  });

  it('stops relative escapes at the guest root', () => {
    symlinkSync('../../../../host-secret', join(root, 'etc', 'passwd'));
    expect(resolveInGuest(root, '/etc/passwd')).toBe(join(root, 'host-secret'));
    expect(resolveInGuest(root, '/../../etc/../../host-secret')).toBe(join(root, 'host-secret'));
    expect(new StagedTree(root).read('/etc/passwd')).toBeUndefined();
  });

  it('gives up on symlink loops', () => {
    symlinkSync('/etc/b', join(root, 'etc', 'a'));
    symlinkSync('/etc/a', join(root, 'etc', 'b'));
    expect(() => resolveInGuest(root, '/etc/a')).toThrow(/too many symlinks/);
  });
});
