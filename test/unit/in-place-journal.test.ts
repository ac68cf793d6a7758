/** The in-place journal covers what a write leaves half-done: the temporary file beside its target. */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareJournal } from '../../src/safety/in-place.js';
import { restore } from '../../src/safety/journal.js';
import { temporaryPathOf } from '../../src/tree/commit.js';
import { type FileChange, StagedTree } from '../../src/tree/staged-tree.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function guest(files: Record<string, string>): { image: string; tree: StagedTree; root: string } {
  const dir = mkdtempSync(join(tmpdir(), 'in-place-journal-'));
  dirs.push(dir);
  const root = join(dir, 'root');
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  mkdirSync(join(root, 'var/lib'), { recursive: true });
  const image = join(dir, 'guest.raw');
  writeFileSync(image, Buffer.alloc(4096));
  return { image, tree: new StagedTree(root), root };
}

const fstab: FileChange = {
  kind: 'write',
  path: '/etc/fstab',
  before: 'xvda1 / ext4\n',
  after: 'vda1 / ext4\n',
  step: 'fstab',
  reason: 'virtio',
};

function journalFor(g: { image: string; tree: StagedTree }) {
  return prepareJournal({
    image: g.image,
    tree: g.tree,
    rootPartition: 1,
    bootAreaLength: 512,
    changes: [fstab],
    commands: [],
  });
}

describe('the in-place journal and interrupted writes', () => {
  it('a run killed between writing the new file and renaming it: rollback removes the temporary file', () => {
    const g = guest({ 'etc/fstab': 'xvda1 / ext4\n' });
    const prepared = journalFor(g);
    // What a SIGKILL after writeFileSync and before renameSync leaves.
    writeFileSync(join(g.root, temporaryPathOf('/etc/fstab')), 'vda1 / ext4\n');
    restore(g.tree, prepared.journal, join(prepared.dir, 'blobs'));
    expect(existsSync(join(g.root, temporaryPathOf('/etc/fstab')))).toBe(false);
    expect(readFileSync(join(g.root, 'etc/fstab'), 'utf8')).toBe('xvda1 / ext4\n');
  });

  it("a guest's own file of the temporary's name is recorded, and put back as it was", () => {
    const g = guest({
      'etc/fstab': 'xvda1 / ext4\n',
      [temporaryPathOf('etc/fstab')]: 'the guest keeps this',
    });
    const prepared = journalFor(g);
    writeFileSync(join(g.root, temporaryPathOf('/etc/fstab')), 'vda1 / ext4\n');
    restore(g.tree, prepared.journal, join(prepared.dir, 'blobs'));
    expect(readFileSync(join(g.root, temporaryPathOf('/etc/fstab')), 'utf8')).toBe('the guest keeps this');
  });
});
