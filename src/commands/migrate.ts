/**
 * `xen2kvm migrate IMAGE`: the whole conversion as task lists.
 *
 * Review first, always: the image is attached read-only and mounted without journal replay, every
 * step plans, and the plan is shown (dry-run) or asked about. Only an accepted plan is applied, to a
 * copy (--output) or in place (--in-place, with a journal that `xen2kvm rollback` restores from):
 * the target is attached read-write, the same inspection and planning run again and must come out
 * the same, and the plan is written. Nothing touches the image before the plan is complete and
 * accepted. Whatever happens, everything mounted or attached is released before the command returns.
 */
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type DomainOptions, planDomainXml } from '../../steps/domain-xml.js';
import { preflight } from '../../steps/map.js';
import { CleanupStack } from '../cleanup.js';
import { chooseMapper, type MapMethod } from '../disk/attach.js';
import { detectContainer, formatName, toQcow2 } from '../disk/container.js';
import { copySparse, qcow2Overlay } from '../disk/copy.js';
import {
  bootAreaLength as bootAreaOf,
  type PartitionTable,
  readPartitionTable,
} from '../disk/partition-table.js';
import { InterruptedError, UserError } from '../errors.js';
import { type CommandListener, formatCommand, HostCommandRunner, ReadOnlyRunner } from '../exec.js';
import { readKernelPackage } from '../guest/kernel-packages.js';
import { checkImageFile } from '../inspect/image-file.js';
import { runPlannedCommand, writeChanges } from '../pipeline/apply.js';
import { type BootMode, describeVolumes } from '../pipeline/fs-image-input.js';
import { type Inspection, inspectAndPlan, type Timings, timed } from '../pipeline/inspect-and-plan.js';
import {
  comparePlans,
  type PlanFile,
  type PlanOptions,
  planCommands,
  touchedChecksums,
  writePlanFile,
} from '../pipeline/plan-file.js';
import type { PrepareOptions } from '../pipeline/prepare.js';
import type { SessionEnv } from '../pipeline/session-env.js';
import { processesHolding } from '../safety/holders.js';
import { advanceJournal, checkJournalRoom, prepareJournal } from '../safety/in-place.js';
import { acquireLock } from '../safety/lock.js';
import { RecoveryLog, recoverLeftovers } from '../safety/recovery.js';
import { allocatedBytes, requireRoom } from '../safety/space.js';
import { type CliIo, writeLine } from '../ui/io.js';
import { type DiffFormat, type ReportInput, renderPlanAs } from '../ui/report.js';
import { seconds, taskList, withProgress } from '../ui/task-list.js';
import { loadXenConfig } from '../xen/load.js';
import { unmappedBridges } from '../xml/from-xen.js';
import { containerOutput, openContainer } from './container-input.js';
import { formatTimings, summaryLines, sumTimings } from './migrate-summary.js';
import { directBoot, layoutLines, partitionlessInput } from './partitionless.js';
import { reviewChanges } from './review-prompt.js';
import { runBootCheck, type VerifyOptions } from './verify.js';

export interface MigrateOptions {
  image: string;
  dryRun: boolean;
  yes: boolean;
  /** Convert the image itself (with a journal). */
  inPlace: boolean;
  /** Convert into this new image instead; the source is only read. */
  output?: string;
  outputFormat: 'raw' | 'qcow2';
  root?: string;
  mapper: MapMethod | 'auto';
  domain: DomainOptions;
  /** The guest's Xen configuration, for the domain XML (and a partitionless guest's other disks). */
  xenConfig?: string;
  /** A partitionless image: on a new whole disk with its own GRUB, or kept and booted directly. */
  boot: BootMode;
  /** The guest's other Xen disks, XENDEVICE=FILE (a partitionless guest's swap, say). */
  disks: string[];
  /** The kernel version to boot by default. */
  kernel?: string;
  /** Kernel packages (.deb/.rpm) to install into the guest. */
  kernelPackages: string[];
  verify?: Omit<VerifyOptions, 'image'>;
  verbose: boolean;
  /** How the plan is shown. */
  diffFormat: DiffFormat;
  /** Print one JSON report on stdout instead of the human summary. */
  json: boolean;
  /** Save the reviewed plan here, for `xen2kvm apply`. */
  planFile?: string;
  /** What produced the plan, saved with it so apply makes the same one. */
  planOptions?: PlanOptions;
  /** Apply only if the review comes out as this saved plan. */
  expectedPlan?: PlanFile;
}

function verboseListener(io: CliIo): CommandListener {
  return (spec, result, ms) =>
    writeLine(
      io.stderr,
      `  $ ${formatCommand(spec)}  [${spec.kind}, exit ${result?.exitCode ?? '-'}, ${seconds(ms)}]`,
    );
}

/** Refuses contradictory or unsafe choices before anything is opened. */
function checkUsage(options: MigrateOptions, io: CliIo): void {
  if (options.output && options.inPlace)
    throw new UserError('--output and --in-place exclude each other: choose one', 2);
  if (options.outputFormat === 'qcow2' && !options.output)
    throw new UserError('--output-format needs --output NEW', 2);
  if (options.output && resolve(options.output) === resolve(options.image)) {
    throw new UserError('--output names the source image itself; use --in-place to convert it in place', 2);
  }
  if (options.output && !existsSync(dirname(resolve(options.output)))) {
    throw new UserError(
      `${dirname(resolve(options.output))} does not exist; create it, or choose another --output`,
      2,
    );
  }
  if (options.output && existsSync(options.output)) {
    throw new UserError(`${options.output} already exists; remove it or choose another --output`, 2);
  }
  if (options.dryRun) return;
  if (!options.yes && !io.interactive) {
    throw new UserError(
      'not a terminal, so no confirmation can be asked: review with --dry-run, then apply with --yes',
      2,
    );
  }
  if (options.yes && !options.inPlace && !options.output) {
    throw new UserError(
      '--yes does not choose where to write: add --in-place (journaled, undo with xen2kvm rollback) or --output NEW.raw',
      2,
    );
  }
}

export async function migrate(options: MigrateOptions, io: CliIo): Promise<number> {
  checkUsage(options, io);
  const mapper = chooseMapper(options.mapper);
  // A configuration that cannot be read is refused before the image is even looked at.
  const domain: DomainOptions = options.xenConfig
    ? { ...options.domain, xen: await loadXenConfig(options.xenConfig) }
    : options.domain;
  // On a terminal, a Xen bridge with no KVM bridge is the operator's question (before any task list runs).
  if (domain.xen && io.interactive && !options.yes && !options.dryRun) {
    const bridges = new Map(domain.bridges);
    for (const xen of unmappedBridges(domain.xen, bridges)) {
      const answer = await io.ask(
        `KVM bridge for Xen bridge ${xen} (ovs:NAME for Open vSwitch; Enter keeps the name)`,
        xen,
      );
      bridges.set(xen, { name: answer.replace(/^ovs:/, ''), openvswitch: answer.startsWith('ovs:') });
    }
    domain.bridges = bridges;
  }
  const host = new HostCommandRunner({ listener: options.verbose ? verboseListener(io) : undefined });
  const lock = acquireLock(options.image);
  if (lock.staleFrom !== undefined) {
    writeLine(
      io.stderr,
      `note: a stale lock on ${options.image} from pid ${lock.staleFrom} (no longer running) was removed`,
    );
  }
  const cleanup = new CleanupStack(new RecoveryLog(options.image));
  // A raw working copy of a container-format source lives until the end of the run.
  const inputs = new CleanupStack();
  const timings: Timings = [];
  const started = performance.now();
  const stopOnSignal = (signal: NodeJS.Signals) => {
    writeLine(io.stderr, `xen2kvm: ${signal} received, stopping and releasing mounts and loop devices...`);
    host.interrupt(signal);
  };
  process.on('SIGINT', stopOnSignal).on('SIGTERM', stopOnSignal);
  const partials: string[] = [];
  try {
    for (const line of await recoverLeftovers(host, options.image)) writeLine(io.stderr, `note: ${line}`);
    const holders = processesHolding(options.image);
    if (holders.length > 0) {
      const who = holders.map((h) => `${h.command} (pid ${h.pid})`).join(', ');
      throw new UserError(
        `${options.image} is open in ${who}; shut the guest down (or stop that process) before converting`,
      );
    }
    const review: SessionEnv = { runner: new ReadOnlyRunner(host), cleanup, readOnly: true };
    // Container formats go through a raw working copy: it is what gets reviewed, and converted.
    await checkImageFile(options.image, options.inPlace, true);
    const container = await detectContainer(options.image);
    if (container && options.inPlace) {
      throw new UserError(
        `${options.image} is a ${formatName(container)} image: in-place conversion works on raw images; use --output NEW (raw, or --output-format qcow2)`,
        2,
      );
    }
    let source = options.image;
    let viaNbd = false;
    if (container) {
      const parent = options.output
        ? dirname(resolve(options.output))
        : (process.env.XEN2KVM_WORK_DIR ?? '/var/tmp');
      ({ source, viaNbd } = await openContainer(
        io,
        host,
        cleanup,
        inputs,
        options.image,
        container,
        parent,
        timings,
      ));
    }
    // The partition table is read once. A bare filesystem (no table) is laid out anew, or kept for
    // direct kernel boot.
    const sourceTable = await timed(timings, 'check', () => readPartitionTable(review.runner, source));
    const fsInput = await partitionlessInput(
      io,
      host,
      inputs,
      options,
      source,
      domain,
      mapper,
      timings,
      sourceTable,
    );
    if (fsInput) source = fsInput.image;
    const table =
      fsInput?.table ??
      (await timed(timings, 'check', () =>
        preflight(review, source, options.inPlace, options.image, sourceTable),
      ));
    const kernelPackages = [];
    for (const file of options.kernelPackages) kernelPackages.push(await readKernelPackage(host, file));
    const prepare: PrepareOptions = {
      image: source,
      label: options.image,
      mapper,
      root: options.root,
      renames: fsInput?.renames,
      boot: fsInput?.mode,
      kernel: options.kernel,
      kernelPackages,
      promptKernel: !options.yes,
    };
    const reviewed = await inspectAndPlan(io, review, prepare, table, timings);
    // Anything but the source itself is a working copy that becomes the output (no second copy).
    const workingCopy = (Boolean(container) && !viaNbd) || fsInput?.mode === 'guest';
    const target = options.output ? resolve(options.output) : resolve(options.image);
    const direct = fsInput?.mode === 'direct' ? directBoot(target, fsInput, reviewed) : undefined;
    if (options.planFile || options.expectedPlan) {
      const now = {
        rootPartition: reviewed.guest.rootPartition,
        checksums: touchedChecksums(
          reviewed.plan.tree,
          reviewed.plan.tree.allChanges(),
          reviewed.plan.commands,
        ),
        fingerprint: fingerprint(reviewed),
      };
      if (options.expectedPlan) comparePlans(options.expectedPlan, now);
      if (options.planFile) {
        writePlanFile(options.planFile, {
          format: 'xen2kvm-plan',
          version: 1,
          image: resolve(options.image),
          created: new Date().toISOString(),
          options: options.planOptions ?? { bridges: [], network: 'default', mapper: 'auto' },
          changes: reviewed.plan.tree.allChanges().map((c) => ({
            path: c.path,
            kind: c.kind,
            step: c.step,
            reason: c.reason,
            content: c.kind === 'write' ? c.after : c.kind === 'symlink' ? c.target : null,
          })),
          commands: planCommands(reviewed.plan.commands),
          ...now,
        });
        writeLine(
          io.stderr,
          `plan written to ${options.planFile}; apply it with: xen2kvm apply ${options.planFile} --in-place (or --output NEW)`,
        );
      }
    }
    const bootAreaLength = bootAreaOf(table);
    if (options.inPlace && !options.dryRun) {
      checkJournalRoom({
        image: source,
        tree: reviewed.plan.tree,
        bootAreaLength,
        changes: reviewed.plan.tree.allChanges(),
        commands: reviewed.plan.commands,
      });
    }
    await releaseAll(io, cleanup, timings);

    const xml = planDomainXml(target, {
      ...domain,
      diskFormat: options.output ? options.outputFormat : (container ?? 'raw'),
      laidOut: fsInput
        ? { disks: [target, ...fsInput.disks.slice(1)], absorbed: fsInput.absorbed }
        : undefined,
      directKernel: direct?.kernel,
    });
    const xmlBefore = existsSync(xml.path) ? readFileSync(xml.path, 'utf8') : undefined;
    const changes = reviewed.plan.tree.allChanges();
    const commandCount = reviewed.plan.commands.length;
    const warnings = [
      ...(fsInput?.warnings ?? []),
      ...reviewed.plan.warnings,
      ...xml.warnings.map((w) => `domain XML: ${w}`),
    ];
    const reportInput: ReportInput = {
      image: options.image,
      summary: [
        ...summaryLines(reviewed, options, fsInput?.mode === 'guest'),
        ...layoutLines(fsInput, direct),
      ],
      changes,
      commands: reviewed.plan.commands,
      warnings,
      domainXml: { ...xml, exists: xmlBefore !== undefined, unchanged: xmlBefore === xml.content },
      color: io.color,
    };
    const report = renderPlanAs(options.json ? 'json' : options.diffFormat, reportInput);
    if (options.dryRun) {
      io.stdout.write(report);
      writeLine(
        io.stderr,
        `dry-run finished in ${seconds(performance.now() - started)}; ${options.image} was not modified`,
      );
      return 0;
    }
    // Paths the operator chose not to change, in the file-by-file review.
    const skipped = new Set<string>();
    if (!options.yes) {
      io.stdout.write(report);
      const where = options.output
        ? `a copy at ${options.output}`
        : `${options.image}, in place (undo with xen2kvm rollback)`;
      const goAhead = await reviewChanges(
        io,
        changes,
        `Apply these ${changes.length} change(s) and ${commandCount} command(s) to ${where}?`,
        skipped,
      );
      if (!goAhead) {
        writeLine(io.stderr, `aborted; ${options.image} was not modified`);
        return 1;
      }
    }

    // The image the apply writes: the source itself, or a private raw copy of it.
    let workImage = resolve(source);
    if (options.output && container && viaNbd) {
      partials.push(`${target}.partial`);
      const into = options.outputFormat === 'qcow2' ? 'a qcow2 overlay served by qemu-nbd' : 'a raw copy';
      await taskList(io, [
        {
          title: `Write the conversion into ${into} of ${options.image}`,
          task: async () => {
            workImage = await timed(timings, 'copy', () =>
              containerOutput(
                host,
                cleanup,
                options.image,
                container,
                `${target}.partial`,
                options.outputFormat,
              ),
            );
          },
        },
      ]).run();
    } else if (options.output && !workingCopy) {
      workImage = `${target}${options.outputFormat === 'qcow2' ? '.work.raw' : ''}.partial`;
      const copySize = allocatedBytes(options.image);
      const overlayRoom = options.outputFormat === 'qcow2' ? 64 * 1024 * 1024 : 0;
      requireRoom(resolve(target, '..'), copySize + overlayRoom, `the copy of ${options.image}`);
      partials.push(workImage);
      await taskList(io, [
        {
          title: `Copy ${options.image} to a new image (sparse, reflinked where possible)`,
          task: (_, task) =>
            withProgress(
              task,
              io,
              () => `${mib(allocatedOrZero(workImage))} of ${mib(copySize)} MiB copied`,
              () => timed(timings, 'copy', () => copySparse(host, options.image, workImage)),
            ),
        },
      ]).run();
    }
    const apply: SessionEnv = { runner: host, cleanup, readOnly: false };
    const fixedRoot: PrepareOptions = {
      ...prepare,
      image: workImage,
      root: reviewed.guest.rootVolume ?? String(reviewed.guest.rootPartition),
      kernel: reviewed.guest.bootKernel,
      promptKernel: false,
    };
    const current = await inspectAndPlan(io, apply, fixedRoot, table, timings);
    if (fingerprint(current) !== fingerprint(reviewed)) {
      throw new UserError(
        `${options.image} read differently once attached read-write (a journal was replayed?); nothing was applied: run again`,
      );
    }
    const currentChanges = current.plan.tree.allChanges();
    // What the operator accepted: all of it, less the files skipped in the review.
    const accepted = currentChanges.filter((c) => !skipped.has(c.path));
    const journal = options.output
      ? undefined
      : await timed(timings, 'journal', async () =>
          prepareJournal({
            image: workImage,
            tree: current.plan.tree,
            rootPartition: current.guest.rootPartition,
            rootVolume: current.guest.rootVolume,
            bootAreaLength,
            changes: currentChanges,
            commands: current.plan.commands,
          }),
        );
    if (journal) advanceJournal(journal, { state: 'applying' });
    await taskList(io, [
      {
        title: `Write ${accepted.length} file change(s) into the guest`,
        task: () => timed(timings, 'write files', async () => writeChanges(current.plan.tree, accepted)),
      },
      ...current.plan.commands.map((command) => ({
        title: `Run in guest: ${command.argv.join(' ')}`,
        task: async (_: unknown, task: { output?: string }) => {
          if (journal) {
            advanceJournal(journal, {
              commands: [
                ...journal.journal.commands,
                { argv: command.argv, started: new Date().toISOString() },
              ],
            });
          }
          await withProgress(
            task,
            io,
            (t) => `running for ${t.toFixed(0)} s`,
            () =>
              timed(timings, `run ${command.step}`, () =>
                runPlannedCommand(host, current.guest.root, command),
              ),
          );
        },
      })),
    ]).run();
    if (journal) advanceJournal(journal, { state: 'applied' });
    if (direct) {
      partials.push(direct.kernel.kernel, direct.kernel.initrd);
      await timed(timings, 'copy kernel', async () => {
        copyFileSync(current.plan.tree.hostPath(direct.guestKernel.vmlinuz), direct.kernel.kernel);
        copyFileSync(current.plan.tree.hostPath(direct.guestKernel.initrd as string), direct.kernel.initrd);
      });
    }
    await releaseAll(io, cleanup, timings);
    if (options.output) {
      if (viaNbd) {
        // The nbd device is released: the overlay, or the raw copy, is the output.
        renameSync(`${target}.partial`, target);
      } else if (options.outputFormat === 'qcow2') {
        partials.push(`${target}.partial`);
        // A raw source gets a thin overlay over it; a container source has no raw to back one.
        await timed(timings, 'qcow2', () =>
          workingCopy
            ? toQcow2(host, workImage, `${target}.partial`)
            : qcow2Overlay(host, options.image, workImage, `${target}.partial`, diskEnd(table)),
        );
        rmSync(workImage, { force: true });
        renameSync(`${target}.partial`, target);
      } else {
        renameSync(workImage, target);
      }
    }
    if (xmlBefore !== xml.content) writeFileSync(xml.path, xml.content);
    // With --json, stdout carries one JSON report and the human lines go to stderr.
    const human: CliIo = options.json ? { ...io, stdout: io.stderr } : io;
    const into = options.output ? ` into ${options.output}` : ' in place';
    writeLine(
      human.stdout,
      `converted ${options.image}${into}: ${accepted.length} file(s) changed, ${commandCount} command(s) run`,
    );
    if (journal)
      writeLine(
        human.stdout,
        `journal: ${journal.dir} (undo with xen2kvm rollback, drop with xen2kvm commit)`,
      );
    writeLine(human.stdout, `domain XML: ${xml.path}${xmlBefore === xml.content ? ' (unchanged)' : ''}`);
    for (const warning of warnings) writeLine(io.stderr, `warning: ${warning}`);
    const totalSeconds = (performance.now() - started) / 1000;
    writeLine(human.stdout, `time: ${totalSeconds.toFixed(1)} s (${formatTimings(timings)})`);
    const boot = options.verify
      ? await runBootCheck(
          {
            ...options.verify,
            image: target,
            format: options.output ? options.outputFormat : undefined,
            moreDisks: fsInput?.disks.slice(1),
            direct: direct?.kernel,
          },
          human,
        )
      : undefined;
    if (options.json) {
      const report = {
        status: boot && !boot.ok ? 'boot-check-failed' : 'converted',
        image: resolve(options.image),
        mode: options.output ? 'copy' : 'in-place',
        output: options.output ? target : null,
        outputFormat: options.output ? options.outputFormat : null,
        journal: journal?.dir ?? null,
        domainXml: xml.path,
        layout: fsInput ? describeVolumes(fsInput) : null,
        directBoot: direct?.kernel ?? null,
        changes: accepted.map((c) => ({ path: c.path, kind: c.kind, step: c.step })),
        commands: current.plan.commands.map((c) => c.argv),
        warnings,
        seconds: Number(totalSeconds.toFixed(3)),
        steps: Object.fromEntries(
          sumTimings(timings).map(([name, ms]) => [name, Number((ms / 1000).toFixed(3))]),
        ),
        bootCheck: boot ?? null,
      };
      io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    }
    return boot && !boot.ok ? 3 : 0;
  } catch (error) {
    await releaseAll(io, cleanup, timings);
    for (const partial of partials) rmSync(partial, { force: true });
    if (host.interrupted) throw new InterruptedError(host.interrupted);
    throw error;
  } finally {
    await inputs.release();
    process.off('SIGINT', stopOnSignal).off('SIGTERM', stopOnSignal);
    lock.release();
  }
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

function allocatedOrZero(path: string): number {
  try {
    return allocatedBytes(path);
  } catch {
    return 0;
  }
}

/** End of the last partition: nothing past it is touched by a conversion. */
function diskEnd(table: PartitionTable): number {
  return Math.max(...table.partitions.map((p) => p.start + p.size));
}

/** What must be identical between the reviewed plan and the one applied. */
function fingerprint({ guest, plan }: Inspection): string {
  const changes = plan.tree.allChanges().map((c) => ({
    kind: c.kind,
    path: c.path,
    content: c.kind === 'write' ? c.after : c.kind === 'symlink' ? c.target : null,
  }));
  // Loop device names differ between attachments; the command is otherwise the same.
  const commands = plan.commands.map((c) =>
    c.argv.map((word) => (word === guest.disk.disk ? '<disk>' : word)),
  );
  return JSON.stringify({ root: guest.rootVolume ?? guest.rootPartition, changes, commands });
}

export async function releaseAll(io: CliIo, cleanup: CleanupStack, timings: Timings): Promise<void> {
  if (cleanup.size === 0) return;
  const failures = await timed(timings, 'unmount', () => cleanup.release());
  if (failures.length > 0) {
    for (const failure of failures) writeLine(io.stderr, `xen2kvm: cleanup failed: ${failure}`);
    throw new UserError(
      'some mounts or loop devices could not be released; run xen2kvm cleanup, or release them by hand',
    );
  }
}
