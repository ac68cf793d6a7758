/**
 * What migrate says once a conversion is written: the human lines (on stderr with --json), the
 * optional boot check, and with --json one machine-readable report on stdout. Returns the exit code.
 */
import { resolve } from 'node:path';
import { UserError } from '../../errors.js';
import { HostCommandRunner } from '../../exec.js';
import { describeVolumes, type FsImageInput } from '../../pipeline/fs-image-input.js';
import type { Timings } from '../../pipeline/inspect-and-plan.js';
import type { PlannedCommand } from '../../pipeline/types.js';
import type { PreparedJournal } from '../../safety/in-place.js';
import type { FileChange } from '../../tree/staged-tree.js';
import { type CliIo, writeLine } from '../../ui/io.js';
import type { NotCarried } from '../../xen/guest-config.js';
import { defineDomain, definedLine, type LibvirtRequest } from '../../xml/libvirt.js';
import { runBootCheck } from '../verify.js';
import type { MigrateOptions } from './options.js';
import type { DirectBoot } from './partitionless.js';
import type { ConvertedReport, LibvirtReport } from './report-types.js';
import { copyOf } from './run-target.js';
import { formatTimings, sumTimings } from './summary.js';

export interface Converted {
  /** The output, or the image itself in place. */
  target: string;
  accepted: FileChange[];
  commands: PlannedCommand[];
  journal?: PreparedJournal;
  xml: { path: string; unchanged: boolean; name: string; uuid?: string };
  warnings: string[];
  notCarried?: readonly NotCarried[];
  fsInput?: FsImageInput;
  direct?: DirectBoot;
  timings: Timings;
  /** performance.now() when the run began. */
  started: number;
}

export async function reportConverted(options: MigrateOptions, io: CliIo, done: Converted): Promise<number> {
  const { target, journal, xml, warnings, fsInput, direct, timings } = done;
  // With --json, stdout carries one JSON report and the human lines go to stderr.
  const human: CliIo = options.json ? { ...io, stdout: io.stderr } : io;
  const copy = copyOf(options.target);
  const into = copy ? ` into ${copy.output}` : ' in place';
  writeLine(
    human.stdout,
    `converted ${options.image}${into}: ${done.accepted.length} file(s) changed, ${done.commands.length} command(s) run`,
  );
  if (journal)
    writeLine(human.stdout, `journal: ${journal.dir} (undo with xen2kvm rollback, drop with xen2kvm commit)`);
  writeLine(human.stdout, `domain XML: ${xml.path}${xml.unchanged ? ' (unchanged)' : ''}`);
  for (const warning of warnings) writeLine(io.stderr, `warning: ${warning}`);
  const totalSeconds = (performance.now() - done.started) / 1000;
  writeLine(human.stdout, `time: ${totalSeconds.toFixed(1)} s (${formatTimings(timings)})`);
  const boot = options.verify
    ? await runBootCheck(
        {
          ...options.verify,
          image: target,
          format: copy?.format,
          moreDisks: fsInput?.disks.slice(1),
          direct: direct?.kernel,
        },
        human,
      )
    : undefined;
  const libvirt = options.libvirt ? await defineConverted(options.libvirt, xml, boot, human, io) : undefined;
  if (options.json) {
    const report: ConvertedReport = {
      status: boot && !boot.ok ? 'boot-check-failed' : libvirt?.error ? 'define-failed' : 'converted',
      image: resolve(options.image),
      mode: copy ? 'copy' : 'in-place',
      output: copy ? target : null,
      outputFormat: copy?.format ?? null,
      journal: journal?.dir ?? null,
      domainXml: xml.path,
      layout: fsInput ? describeVolumes(fsInput) : null,
      directBoot: direct?.kernel ?? null,
      changes: done.accepted.map((c) => ({ path: c.path, kind: c.kind, step: c.step })),
      commands: done.commands.map((c) => c.argv),
      warnings,
      xenSettingsNotCarried: [...(done.notCarried ?? [])],
      seconds: Number(totalSeconds.toFixed(3)),
      steps: Object.fromEntries(
        sumTimings(timings).map(([name, ms]) => [name, Number((ms / 1000).toFixed(3))]),
      ),
      bootCheck: boot ?? null,
      libvirt: libvirt ?? null,
    };
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    options.onReport?.({ kind: 'converted', report });
  }
  if (boot && !boot.ok) return 3;
  return libvirt?.error ? 1 : 0;
}

/**
 * --define/--start once the conversion is written. The conversion stands whatever libvirt says: a
 * refusal is reported (one line, exit 1), not thrown, so the report still says what was converted.
 */
async function defineConverted(
  request: LibvirtRequest,
  xml: Converted['xml'],
  boot: { ok: boolean } | undefined,
  human: CliIo,
  io: CliIo,
): Promise<LibvirtReport> {
  const base = { uri: request.uri, domain: xml.name, replaced: false, started: false };
  if (boot && !boot.ok) {
    const error = `${xml.name} was not defined: the boot check failed`;
    writeLine(io.stderr, `warning: ${error}`);
    return { ...base, defined: false, error };
  }
  try {
    const done = await defineDomain(new HostCommandRunner(), request, {
      xmlPath: xml.path,
      name: xml.name,
      uuid: xml.uuid,
    });
    writeLine(human.stdout, definedLine(done));
    return { ...done, defined: true, error: null };
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    writeLine(io.stderr, `xen2kvm: ${error.message}`);
    return { ...base, defined: false, error: error.message };
  }
}
