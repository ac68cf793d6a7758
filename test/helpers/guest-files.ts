/** Small guest trees of a few files, for unit tests of what reads a guest; removed after each test. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { StagedTree } from '../../src/tree/staged-tree.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A guest root holding these files (guest path -> text), as a staged tree. */
export function guestWith(files: Record<string, string>): StagedTree {
  const root = mkdtempSync(join(tmpdir(), 'guest-files-'));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return new StagedTree(root);
}
