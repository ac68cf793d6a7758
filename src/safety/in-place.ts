/**
 * Before an in-place apply writes anything: record in the journal every path the plan may change
 * and the boot area, check there is room for it (beside the image and in the guest), and store it
 * in both places. A journal left by an interrupted or earlier run is kept and extended, never
 * replaced: its originals are the ones from before the first conversion.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readImageHead } from '../disk/mbr.js';
import type { PlannedCommand } from '../pipeline/types.js';
import { temporaryPathOf } from '../tree/commit.js';
import type { FileChange, StagedTree } from '../tree/staged-tree.js';
import { copyIntoGuest } from './guest-journal.js';
import { recordHostOutputs } from './host-outputs-journal.js';
import {
  coveringRoots,
  estimateSnapshotBytes,
  GUEST_JOURNAL_DIR,
  type Journal,
  journalDir,
  readJournal,
  saveJournal,
  snapshot,
  within,
  writeBlob,
} from './journal.js';
import { requireRoom } from './space.js';

/** Room the guest needs beyond the journal: a rebuilt initrd and GRUB's files. */
const GUEST_HEADROOM = 64 * 1024 * 1024;

export interface PreparedJournal {
  dir: string;
  journal: Journal;
  tree: StagedTree;
}

export function prepareJournal(options: {
  image: string;
  /** --journal-dir, when the journal does not go beside the image. */
  journalBase?: string;
  tree: StagedTree;
  rootPartition: number;
  rootVolume?: string;
  bootAreaLength: number;
  changes: readonly FileChange[];
  commands: readonly PlannedCommand[];
  /** Host files the run writes beside the guest (the XML, copied kernels): recorded too. */
  hostOutputs?: readonly string[];
}): PreparedJournal {
  const dir = journalDir(options.image, options.journalBase);
  const existing = readJournal(dir);
  const wanted = journalRoots(options.changes, options.commands);
  const journal: Journal = existing ?? {
    version: 1,
    image: options.image,
    created: new Date().toISOString(),
    state: 'prepared',
    rootPartition: options.rootPartition,
    ...(options.rootVolume ? { rootVolume: options.rootVolume } : {}),
    roots: [],
    entries: [],
    bootArea: { length: 0, sha256: '' },
    commands: [],
    guestDirExisted: options.tree.exists(dirname(GUEST_JOURNAL_DIR)),
  };
  const blobs = join(dir, 'blobs');
  mkdirSync(blobs, { recursive: true, mode: 0o700 });
  const newRoots = wanted.filter((root) => !journal.roots.some((known) => within(known, root)));
  const staging: Journal = { ...journal, roots: [...journal.roots], entries: [...journal.entries] };
  for (const root of newRoots) {
    staging.roots.push(root);
    staging.entries.push(...snapshot(options.tree, root, blobs));
  }
  if (staging.bootArea.length === 0) {
    const area = readImageHead(options.image, options.bootAreaLength);
    staging.bootArea = { length: area.length, sha256: writeBlob(blobs, area) };
  }
  const bytes =
    staging.entries.reduce((sum, e) => sum + (e.type === 'file' ? e.size : 0), 0) + staging.bootArea.length;
  requireRoom(dirname(dir), bytes + 1024 * 1024, `the journal beside ${options.image}`);
  requireRoom(
    options.tree.hostPath('/var/lib'),
    bytes + GUEST_HEADROOM,
    "the journal inside the guest and the conversion's new files",
  );
  recordHostOutputs(dir, options.hostOutputs ?? []);
  saveJournal(dir, staging);
  copyIntoGuest(options.tree, dir);
  return { dir, journal: staging, tree: options.tree };
}

/**
 * The room checks, made while reviewing (read-only), so that an in-place run without room stops
 * before the image is even attached read-write.
 */
export function checkJournalRoom(options: {
  image: string;
  journalBase?: string;
  tree: StagedTree;
  bootAreaLength: number;
  changes: readonly FileChange[];
  commands: readonly PlannedCommand[];
}): void {
  const roots = journalRoots(options.changes, options.commands);
  const bytes = estimateSnapshotBytes(options.tree, roots) + options.bootAreaLength;
  requireRoom(
    dirname(journalDir(options.image, options.journalBase)),
    bytes + 1024 * 1024,
    `the journal beside ${options.image}`,
  );
  requireRoom(
    options.tree.hostPath('/var/lib'),
    bytes + GUEST_HEADROOM,
    "the journal inside the guest and the conversion's new files",
  );
}

/** What the journal records: every changed path with the temporary name it is written under, and what commands touch. */
function journalRoots(changes: readonly FileChange[], commands: readonly PlannedCommand[]): string[] {
  return coveringRoots([
    ...changes.flatMap((c) => (c.kind === 'remove' ? [c.path] : [c.path, temporaryPathOf(c.path)])),
    ...commands.flatMap((c) => c.touches),
  ]);
}

/** Moves the journal to its next state, in both copies. */
export function advanceJournal(prepared: PreparedJournal, update: Partial<Journal>): void {
  Object.assign(prepared.journal, update);
  saveJournal(prepared.dir, prepared.journal);
  copyIntoGuest(prepared.tree, prepared.dir);
}
