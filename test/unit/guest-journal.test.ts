/**
 * The journal copy inside a guest is guest data: it is written without following what the guest
 * put in its way, and read back only after every check, on a real directory tree.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adoptGuestJournal, copyIntoGuest } from '../../src/safety/guest-journal.js';
import type { Journal } from '../../src/safety/journal.js';
import { StagedTree } from '../../src/tree/staged-tree.js';

let base: string;
let root: string;
let host: string;
const sha = (data: string) => createHash('sha256').update(data).digest('hex');
const IMAGE = { rootPartition: 2, bootAreaMax: 1024 * 1024 };

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'guest-journal-'));
  root = join(base, 'guest');
  host = join(base, 'host');
  mkdirSync(join(root, 'var/lib/xen2kvm/journal/blobs'), { recursive: true });
  mkdirSync(host);
  writeFileSync(join(host, 'secret'), 'host data\n');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

/** Puts a journal (and blobs) into the guest as a hostile guest would. */
function plant(journal: Partial<Journal>, blobs: Record<string, string> = {}): void {
  const full: Journal = {
    version: 1,
    image: '/elsewhere/guest.raw',
    created: '2026-01-01T00:00:00Z',
    state: 'applied',
    rootPartition: 2,
    roots: ['/etc/fstab'],
    entries: [
      { path: '/etc/fstab', type: 'file', mode: 0o644, uid: 0, gid: 0, sha256: sha('fstab\n'), size: 6 },
    ],
    bootArea: { length: 512, sha256: sha('mbr') },
    commands: [],
    guestDirExisted: true,
    ...journal,
  };
  writeFileSync(join(root, 'var/lib/xen2kvm/journal/journal.json'), JSON.stringify(full));
  for (const [name, content] of Object.entries({
    [sha('fstab\n')]: 'fstab\n',
    [sha('mbr')]: 'mbr',
    ...blobs,
  })) {
    writeFileSync(join(root, 'var/lib/xen2kvm/journal/blobs', name), content);
  }
}

const adopt = () => adoptGuestJournal(new StagedTree(root), join(base, 'beside'), IMAGE);

describe("the guest's journal", () => {
  it('is adopted with its originals when every check holds', () => {
    plant({});
    expect(adopt().entries).toHaveLength(1);
    expect(readFileSync(join(base, 'beside/blobs', sha('fstab\n')), 'utf8')).toBe('fstab\n');
  });

  it('is refused for paths that are not canonical or lie outside what it says it recorded', () => {
    plant({ roots: ['/etc/../../host'] });
    expect(adopt).toThrow(/the path "\/etc\/..\/..\/host" is not canonical/);
    plant({ entries: [{ path: '/dev/sda', type: 'absent' }] });
    expect(adopt).toThrow(/\/dev\/sda lies outside the paths it says it recorded/);
  });

  it('is refused when an original is missing, a symlink to the host, or not what its hash says', () => {
    plant({});
    rmSync(join(root, 'var/lib/xen2kvm/journal/blobs', sha('fstab\n')));
    symlinkSync(join(host, 'secret'), join(root, 'var/lib/xen2kvm/journal/blobs', sha('fstab\n')));
    // The symlink is resolved inside the guest, where nothing of that name exists.
    expect(adopt).toThrow(/the saved original [0-9a-f]{64} is missing/);
    rmSync(join(root, 'var/lib/xen2kvm/journal/blobs', sha('fstab\n')));
    plant({}, { [sha('fstab\n')]: 'forged\n' });
    expect(adopt).toThrow(/does not match its hash/);
  });

  it('is refused for another root or a boot area reaching into the partitions', () => {
    plant({ rootPartition: 1 });
    expect(adopt).toThrow(/names another root filesystem/);
    plant({ bootArea: { length: 2 * 1024 * 1024, sha256: sha('mbr') } });
    expect(adopt).toThrow(/boot area is not within the 1048576 bytes/);
  });

  it('is written in place of whatever the guest put there, never through its symlinks', () => {
    const journal = join(base, 'beside');
    mkdirSync(join(journal, 'blobs'), { recursive: true });
    writeFileSync(join(journal, 'journal.json'), '{}');
    writeFileSync(join(journal, 'blobs', 'abc'), 'saved');
    rmSync(join(root, 'var/lib/xen2kvm/journal'), { recursive: true });
    symlinkSync(host, join(root, 'var/lib/xen2kvm/journal'));
    copyIntoGuest(new StagedTree(root), journal);
    expect(lstatSync(join(root, 'var/lib/xen2kvm/journal')).isDirectory()).toBe(true);
    expect(readFileSync(join(root, 'var/lib/xen2kvm/journal/blobs/abc'), 'utf8')).toBe('saved');
    expect(existsSync(join(host, 'blobs'))).toBe(false);
    expect(existsSync(join(host, 'journal.json'))).toBe(false);
  });
});
