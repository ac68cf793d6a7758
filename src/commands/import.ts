/**
 * `xen2kvm import ssh://[USER@]XENHOST/NAME`: the guest's disks copied from its Xen host, then
 * converted by migrate with the configuration read there (and defined in libvirt where asked).
 */
import { Writable } from 'node:stream';
import { errorMessage, UserError } from '../errors.js';
import { shellQuote } from '../exec.js';
import type { Step } from '../pipeline/types.js';
import { type FetchedGuest, type FetchOptions, fetchGuest } from '../remote/fetch-guest.js';
import { parseBandwidth } from '../remote/wire.js';
import { type CliIo, writeLine } from '../ui/io.js';
import { type MigrateFlags, migrateOptions } from './migrate/from-flags.js';
import { verboseListener } from './migrate/options.js';
import type { MigrateReport } from './migrate/report-types.js';
import { migrate } from './migrate.js';

export interface ImportFlags extends MigrateFlags {
  outputDir?: string;
  sshConfig?: string;
  shutdown?: boolean;
  snapshot?: boolean;
  snapshotSize?: string;
  bandwidth?: string;
  compress?: boolean;
  retries?: number;
  /** Copy only: the conversion is left to a migrate the operator runs (printed). */
  convert?: boolean;
}

/** What `import --json` prints: the copy, then the conversion's own report. */
export interface ImportReport {
  import: FetchedGuest | null;
  conversion: MigrateReport | null;
  error: string | null;
}

/** The migrate flags of a fetched guest: its first disk converted, its configuration and copies for the XML. */
export function conversionFlags(fetched: FetchedGuest, flags: MigrateFlags, outputDir: string): MigrateFlags {
  return {
    ...flags,
    xenConfig: fetched.configFile,
    name: flags.name ?? fetched.domain,
    // The copy is ours: a partitioned disk is converted where it arrived (journaled, so rollback
    // works); a partitionless guest's volumes are laid out on a new whole disk beside it.
    inPlace: !fetched.partitionless,
    output: fetched.partitionless ? `${outputDir}/${fetched.domain}.raw` : undefined,
    // Every other disk's copy: a partitionless guest's volumes, or where its other disks now are.
    disk: Object.entries(fetched.files)
      .filter(([, file]) => file !== fetched.image)
      .map(([vdev, file]) => `${vdev}=${file}`),
  };
}

/** The migrate command that converts what was copied, for an operator who asked for the copy alone. */
function convertCommand(fetched: FetchedGuest, flags: MigrateFlags, outputDir: string): string {
  const f = conversionFlags(fetched, flags, outputDir);
  const words = [
    'xen2kvm',
    'migrate',
    '--xen-config',
    fetched.configFile,
    ...(f.inPlace ? ['--in-place'] : ['--output', f.output as string]),
    ...(f.disk ?? []).flatMap((d) => ['--disk', d]),
    fetched.image,
  ];
  return words.map(shellQuote).join(' ');
}

/** What fetchGuest is asked for these flags (the command's, or a batch source entry's): the defaults live here. */
export function fetchOptionsOf(
  flags: Pick<
    ImportFlags,
    | 'outputDir'
    | 'sshConfig'
    | 'shutdown'
    | 'snapshot'
    | 'snapshotSize'
    | 'bandwidth'
    | 'compress'
    | 'retries'
  >,
  progress: FetchOptions['progress'],
  listener?: FetchOptions['listener'],
): FetchOptions {
  return {
    outputDir: flags.outputDir ?? '.',
    sshConfig: flags.sshConfig,
    shutdown: Boolean(flags.shutdown),
    snapshot: flags.snapshot ? (flags.snapshotSize ?? '2G') : undefined,
    bandwidth: flags.bandwidth === undefined ? undefined : parseBandwidth(flags.bandwidth),
    compress: flags.compress !== false,
    retries: flags.retries ?? 3,
    progress,
    listener,
  };
}

export function checkImportFlags(flags: ImportFlags, io: CliIo): void {
  if (flags.shutdown && flags.snapshot)
    throw new UserError('--shutdown and --snapshot are two ways to copy a running guest: give one', 2);
  if (!flags.yes && !io.interactive && flags.convert !== false)
    throw new UserError(
      'import converts what it copied: give --yes when not on a terminal (or run it on one to review the plan)',
      2,
    );
}

export async function importGuest(
  sourceText: string,
  flags: ImportFlags,
  io: CliIo,
  steps: readonly Step[],
): Promise<number> {
  checkImportFlags(flags, io);
  const fetchOptions = fetchOptionsOf(
    flags,
    io.stderr as FetchOptions['progress'],
    flags.verbose ? verboseListener(io) : undefined,
  );
  const { outputDir } = fetchOptions;
  const report: ImportReport = { import: null, conversion: null, error: null };
  try {
    report.import = await fetchGuest(sourceText, fetchOptions);
    for (const line of report.import.warnings) writeLine(io.stderr, `warning: ${line}`);
  } catch (error) {
    if (!flags.json) throw error;
    report.error = errorMessage(error);
    writeLine(io.stderr, `xen2kvm: ${report.error}`);
    writeLine(io.stdout, JSON.stringify(report, null, 2));
    return error instanceof UserError ? error.exitCode : 1;
  }
  const fetched = report.import;
  if (flags.convert === false) {
    if (flags.json) writeLine(io.stdout, JSON.stringify(report, null, 2));
    else writeLine(io.stdout, `copied; to convert: ${convertCommand(fetched, flags, outputDir)}`);
    return 0;
  }
  const options = await migrateOptions(fetched.image, conversionFlags(fetched, flags, outputDir));
  if (!flags.json) return migrate(options, io, steps);
  // One JSON document: migrate's own report goes into the import's.
  const quiet: CliIo = { ...io, stdout: new Writable({ write: (_c, _e, done) => done() }) };
  let exitCode: number;
  try {
    exitCode = await migrate({ ...options, onReport: (made) => (report.conversion = made) }, quiet, steps);
  } catch (error) {
    report.error = errorMessage(error);
    writeLine(io.stderr, `xen2kvm: ${report.error}`);
    exitCode = error instanceof UserError ? error.exitCode : 1;
  }
  writeLine(io.stdout, JSON.stringify(report, null, 2));
  return exitCode;
}
