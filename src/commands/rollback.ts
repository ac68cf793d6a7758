/**
 * `xen2kvm rollback IMAGE`: restores, byte for byte, every file and the boot area the in-place
 * conversion recorded, and puts back the files it wrote on the host (the XML, copied kernels).
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { restoreHostOutputs } from '../safety/host-outputs-journal.js';
import { restore, writeBootArea } from '../safety/journal.js';
import {
  type JournalOptions,
  noJournal,
  removeGuestJournal,
  withJournaledGuest,
} from '../safety/journaled-guest.js';
import { type CliIo, writeLine } from '../ui/io.js';

export async function rollback(image: string, options: JournalOptions, io: CliIo): Promise<number> {
  const outcome = await withJournaledGuest(image, options, io, 'roll back', ({ tree, journal, dir }) => {
    if (!journal) throw noJournal(image, 'roll back');
    const summary = restore(tree, journal, join(dir, 'blobs'));
    removeGuestJournal(tree, journal);
    return { summary, journal, dir };
  });
  // The boot area is written once the image is detached, so no cached block can overwrite it.
  const area = readFileSync(join(outcome.dir, 'blobs', outcome.journal.bootArea.sha256));
  writeBootArea(image, area);
  // The files the run wrote on the host (the XML, copied kernels), from the host's own record only.
  const host = restoreHostOutputs(outcome.dir);
  rmSync(outcome.dir, { recursive: true, force: true });
  const onHost =
    host.restored + host.removed > 0
      ? `; on this host ${host.restored} file(s) restored, ${host.removed} removed`
      : '';
  writeLine(
    io.stdout,
    `rolled back ${image}: ${outcome.summary.restored} path(s) restored, ${outcome.summary.removed} removed, boot area (${area.length} bytes) restored${onHost}`,
  );
  return 0;
}
