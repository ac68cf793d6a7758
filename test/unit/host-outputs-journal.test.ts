/** The journal's record of the host files a run writes, and what rollback does with it. */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { copyIntoGuest } from '../../src/safety/guest-journal.js';
import {
  HOST_OUTPUTS_FILE,
  recordHostOutputs,
  restoreHostOutputs,
} from '../../src/safety/host-outputs-journal.js';
import { GUEST_JOURNAL_DIR } from '../../src/safety/journal.js';
import { StagedTree } from '../../src/tree/staged-tree.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'host-outputs-'));
  dirs.push(dir);
  return dir;
}

describe('host files in the in-place journal', () => {
  it('puts back a replaced file and removes a new one; an earlier record keeps its original', () => {
    const dir = scratch();
    const journal = join(dir, 'web01.raw.xen2kvm-journal');
    mkdirSync(join(journal, 'blobs'), { recursive: true });
    const xml = join(dir, 'web01.xml');
    const kernel = join(dir, 'web01.vmlinuz-6.1');
    writeFileSync(xml, 'the operator kept this');
    recordHostOutputs(journal, [xml, kernel]);
    writeFileSync(xml, 'converted');
    writeFileSync(kernel, 'kernel');
    // A second run over the same journal must not take the converted XML for the original.
    recordHostOutputs(journal, [xml]);
    expect(restoreHostOutputs(journal)).toEqual({ restored: 1, removed: 1 });
    expect(readFileSync(xml, 'utf8')).toBe('the operator kept this');
    expect(existsSync(kernel)).toBe(false);
  });

  it("is never copied into the guest's journal", () => {
    const dir = scratch();
    const journal = join(dir, 'journal');
    mkdirSync(join(journal, 'blobs'), { recursive: true });
    writeFileSync(join(journal, 'journal.json'), '{}');
    recordHostOutputs(journal, [join(dir, 'web01.xml')]);
    const root = join(dir, 'root');
    mkdirSync(root);
    copyIntoGuest(new StagedTree(root), journal);
    expect(existsSync(join(root, GUEST_JOURNAL_DIR, 'journal.json'))).toBe(true);
    expect(existsSync(join(root, GUEST_JOURNAL_DIR, HOST_OUTPUTS_FILE))).toBe(false);
  });

  it('refuses to take over a path that is not a regular file', () => {
    const dir = scratch();
    const journal = join(dir, 'journal');
    mkdirSync(join(journal, 'blobs'), { recursive: true });
    mkdirSync(join(dir, 'web01.xml'));
    expect(() => recordHostOutputs(journal, [join(dir, 'web01.xml')])).toThrow(/is not a regular file/);
  });
});
