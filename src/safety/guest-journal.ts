/**
 * The copy of the journal kept inside the guest is guest data: whoever is root in the guest can
 * rewrite it. It is written without following anything the guest put in its way, and it is read
 * back only when the operator asks (the image moved hosts without the copy beside it), checked
 * first: every path canonical, every saved original present as a regular file whose hash is its
 * name, the boot area no longer than the gap in front of the first partition, the root the one the
 * image holds. What it then restores is confined to the guest's own filesystems (nothing of the
 * host is mounted under the guest's root), so at worst it changes the guest's own files.
 */

import { createHash } from 'node:crypto';
import { copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { StagedTree } from '../tree/staged-tree.js';
import { HOST_OUTPUTS_FILE } from './host-outputs-journal.js';
import { GUEST_JOURNAL_DIR, type Journal, saveJournal } from './journal.js';

/** Writes the journal directory beside the image into the guest, replacing whatever is there. */
export function copyIntoGuest(tree: StagedTree, dir: string): void {
  // The last component is not followed: a symlink the guest put there is removed, not written through.
  const target = tree.entryHostPath(GUEST_JOURNAL_DIR);
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true, mode: 0o700 });
  copyFresh(dir, target, [HOST_OUTPUTS_FILE]);
}

/** Copies a directory tree into a directory this process just made (so nothing in it is the guest's). */
function copyFresh(from: string, to: string, leaveOut: readonly string[] = []): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (leaveOut.includes(entry.name)) continue;
    if (entry.isDirectory()) {
      mkdirSync(join(to, entry.name), { mode: 0o700 });
      copyFresh(join(from, entry.name), join(to, entry.name));
    } else if (entry.isFile()) {
      // COPYFILE_EXCL: never through something already there.
      copyFileSync(join(from, entry.name), join(to, entry.name), 1);
    }
  }
}

/** Removes the guest's copy (the entries themselves, never what a symlink there points at). */
export function removeFromGuest(tree: StagedTree, guestDirExisted: boolean): void {
  rmSync(tree.entryHostPath(GUEST_JOURNAL_DIR), { recursive: true, force: true });
  if (!guestDirExisted) rmSync(tree.entryHostPath('/var/lib/xen2kvm'), { recursive: true, force: true });
}

export function hasGuestJournal(tree: StagedTree): boolean {
  return tree.isFile(`${GUEST_JOURNAL_DIR}/journal.json`);
}

const CANONICAL = /^(\/[^/\0]+)+$/;
const canonical = (path: unknown): path is string =>
  typeof path === 'string' && CANONICAL.test(path) && !path.split('/').some((p) => p === '.' || p === '..');

export interface ImageFacts {
  rootPartition: number;
  rootVolume?: string;
  /** Bytes in front of the first partition: the most a boot area can be. */
  bootAreaMax: number;
}

/**
 * Checks the guest's journal against the image and copies it, with its verified originals, into
 * `dir` beside the image, which then is the authority. Throws one line naming the first problem.
 */
export function adoptGuestJournal(tree: StagedTree, dir: string, image: ImageFacts): Journal {
  const refuse = (why: string) =>
    new UserError(`the journal inside the guest cannot be used: ${why}; it was not applied`);
  let journal: Journal;
  try {
    journal = JSON.parse(tree.read(`${GUEST_JOURNAL_DIR}/journal.json`) ?? '') as Journal;
  } catch {
    throw refuse('its journal.json is not valid JSON');
  }
  if (journal?.version !== 1 || !Array.isArray(journal.entries) || !Array.isArray(journal.roots))
    throw refuse('it is not a version 1 xen2kvm journal');
  if (journal.rootPartition !== image.rootPartition || (journal.rootVolume ?? undefined) !== image.rootVolume)
    throw refuse(`it names another root filesystem than the one this image holds`);
  for (const root of journal.roots)
    if (!canonical(root)) throw refuse(`the path ${JSON.stringify(root)} is not canonical`);
  const hashes = new Set<string>();
  for (const entry of journal.entries) {
    if (!canonical(entry.path)) throw refuse(`the path ${JSON.stringify(entry.path)} is not canonical`);
    if (!journal.roots.some((root) => entry.path === root || entry.path.startsWith(`${root}/`)))
      throw refuse(`${entry.path} lies outside the paths it says it recorded`);
    if (entry.type === 'file') hashes.add(entry.sha256);
  }
  const area = journal.bootArea;
  if (!area || !Number.isInteger(area.length) || area.length <= 0 || area.length > image.bootAreaMax)
    throw refuse(
      `its boot area is not within the ${image.bootAreaMax} bytes in front of the first partition`,
    );
  hashes.add(area.sha256);
  rmSync(dir, { recursive: true, force: true });
  const blobs = join(dir, 'blobs');
  mkdirSync(blobs, { recursive: true, mode: 0o700 });
  for (const hash of hashes) {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw refuse(`${hash} is not a saved original's name`);
    const host = tree.hostPath(`${GUEST_JOURNAL_DIR}/blobs/${hash}`);
    let ok = false;
    try {
      ok = lstatSync(host).isFile();
    } catch {
      ok = false;
    }
    if (!ok) throw refuse(`the saved original ${hash} is missing`);
    const data = readFileSync(host);
    if (createHash('sha256').update(data).digest('hex') !== hash)
      throw refuse(`the saved original ${hash} does not match its hash`);
    copyFileSync(host, join(blobs, hash), 1);
  }
  saveJournal(dir, journal);
  return journal;
}
