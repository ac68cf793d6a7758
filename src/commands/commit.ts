/** `xen2kvm commit IMAGE`: keeps an in-place conversion, dropping its journal and the originals it held. */
import { rmSync } from 'node:fs';
import { UserError } from '../errors.js';
import {
  type JournalOptions,
  noJournal,
  removeGuestJournal,
  withJournaledGuest,
} from '../safety/journaled-guest.js';
import { type CliIo, writeLine } from '../ui/io.js';

export async function commit(image: string, options: JournalOptions, io: CliIo): Promise<number> {
  const dir = await withJournaledGuest(image, options, io, 'commit', ({ tree, journal, dir }) => {
    if (!journal) throw noJournal(image, 'commit');
    if (journal.state !== 'applied') {
      throw new UserError(
        `the conversion of ${image} did not finish (${journal.state}): run migrate again, or roll it back`,
      );
    }
    removeGuestJournal(tree, journal);
    return dir;
  });
  rmSync(dir, { recursive: true, force: true });
  writeLine(io.stdout, `committed ${image}: the journal and the original files it kept are gone`);
  return 0;
}
