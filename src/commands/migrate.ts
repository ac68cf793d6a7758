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
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CleanupStack } from '../cleanup.js';
import { chooseMapper } from '../disk/attach.js';
import { bootAreaLength as bootAreaOf } from '../disk/partition-table.js';
import { InterruptedError, UserError } from '../errors.js';
import { HostCommandRunner, ReadOnlyRunner, shellQuote } from '../exec.js';
import { readKernelPackage } from '../guest/kernel-packages.js';
import { copiesOut, writeDomainXml } from '../pipeline/host-outputs.js';
import { inspectAndPlan, type Timings } from '../pipeline/inspect-and-plan.js';
import type { PrepareOptions } from '../pipeline/prepare.js';
import { releaseAll } from '../pipeline/release.js';
import type { SessionEnv } from '../pipeline/session-env.js';
import type { Step } from '../pipeline/types.js';
import { processesHolding } from '../safety/holders.js';
import { checkJournalRoom } from '../safety/in-place.js';
import { acquireLock } from '../safety/lock.js';
import { recoverLeftovers } from '../safety/recovery.js';
import { RecoveryLog } from '../safety/recovery-log.js';
import { type CliIo, writeLine } from '../ui/io.js';
import { planJson, renderPlanAs } from '../ui/report.js';
import { seconds } from '../ui/task-list.js';
import { loadXenConfig } from '../xen/load.js';
import { diskFiles, withLocalDisks } from '../xen/local-disks.js';
import { domainNameFor } from '../xml/domain.js';
import { type DomainOptions, planDomainXml } from '../xml/domain-plan.js';
import { checkDefinable, plannedVirsh } from '../xml/libvirt.js';
import { applyPlan } from './migrate/apply-plan.js';
import {
  askBridges,
  checkUsage,
  isBlockDevice,
  type MigrateOptions,
  verboseListener,
} from './migrate/options.js';
import { finishOutput, type OutputSource, prepareWorkImage } from './migrate/output-image.js';
import { directBoot } from './migrate/partitionless.js';
import { reportConverted } from './migrate/result.js';
import { reviewChanges } from './migrate/review-prompt.js';
import { reviewRecord, reviewReport } from './migrate/review-report.js';
import { openReviewSource } from './migrate/review-source.js';
import { copyOf } from './migrate/run-target.js';
import { fingerprint, recordPlan } from './migrate/saved-plan.js';

export async function migrate(options: MigrateOptions, io: CliIo, steps: readonly Step[]): Promise<number> {
  // Where the run writes was decided from the flags (run-target.ts); here it is checked.
  checkUsage(options, io);
  const { target } = options;
  const copy = copyOf(target);
  const mapper = chooseMapper(options.mapper);
  // A configuration that cannot be read is refused before the image is even looked at.
  const domain: DomainOptions = options.xenConfig
    ? {
        ...options.domain,
        xen: withLocalDisks(await loadXenConfig(options.xenConfig), diskFiles(options.disks)),
      }
    : options.domain;
  await askBridges(options, domain, io);
  const host = new HostCommandRunner({ listener: options.verbose ? verboseListener(io) : undefined });
  const lock = acquireLock(options.image);
  if (lock.staleFrom !== undefined) {
    writeLine(
      io.stderr,
      `note: a stale lock on ${options.image} from pid ${lock.staleFrom} (no longer running) was removed`,
    );
  }
  const cleanup = new CleanupStack(new RecoveryLog(options.image), () => host.interrupted);
  // A raw working copy of a container-format source lives until the end of the run.
  const inputs = new CleanupStack(undefined, () => host.interrupted);
  const timings: Timings = [];
  const started = performance.now();
  const stopOnSignal = (signal: NodeJS.Signals) => {
    writeLine(io.stderr, `xen2kvm: ${signal} received, stopping and releasing mounts and loop devices...`);
    host.interrupt(signal);
  };
  process.on('SIGINT', stopOnSignal).on('SIGTERM', stopOnSignal);
  const run = { io, host, cleanup, options, timings, partials: [] as string[] };
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
    const { source, container, viaNbd, fsInput, table } = await openReviewSource(
      { io, host, options, timings, cleanup, inputs },
      review,
      domain,
    );
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
    const reviewed = await inspectAndPlan(io, review, prepare, table, timings, steps);
    const out: OutputSource = {
      source,
      container,
      viaNbd,
      // Anything but the source itself is a working copy that becomes the output (no second copy).
      workingCopy: (Boolean(container) && !viaNbd) || fsInput?.mode === 'guest',
      target: copy ? resolve(copy.output) : resolve(options.image),
    };
    const direct = fsInput?.mode === 'direct' ? directBoot(out.target, fsInput, reviewed) : undefined;
    const bootAreaLength = bootAreaOf(table);
    if (target.kind === 'in-place') {
      checkJournalRoom({
        image: source,
        journalBase: options.journalDir,
        tree: reviewed.plan.tree,
        bootAreaLength,
        changes: reviewed.plan.tree.allChanges(),
        commands: reviewed.plan.commands,
      });
    }
    const xml = planDomainXml(out.target, {
      ...domain,
      // Never beside a block device: /dev is lost at the next reboot.
      xmlDir: isBlockDevice(out.target) ? (options.journalDir ?? process.cwd()) : undefined,
      diskFormat: copy ? copy.format : (container ?? 'raw'),
      imagePartitions: fsInput ? undefined : table.partitions.map((p) => p.number),
      laidOut: fsInput
        ? { disks: [out.target, ...fsInput.disks.slice(1)], absorbed: fsInput.absorbed }
        : undefined,
      directKernel: direct?.kernel,
    });
    const xmlBefore = existsSync(xml.path) ? readFileSync(xml.path, 'utf8') : undefined;
    // A define that would fail (no daemon, a taken name) is refused before anything is converted.
    if (options.libvirt && target.kind !== 'review')
      await checkDefinable(
        host,
        options.libvirt,
        { xmlPath: xml.path, name: xml.name, uuid: xml.uuid },
        `virsh define ${xml.path}`,
      );
    const record = reviewRecord(reviewed, { fsInput, direct, xml, xmlBefore });
    recordPlan(options, reviewed, record, io);
    await releaseAll(io, cleanup, timings);
    const reportInput = {
      ...reviewReport({ reviewed, record, options, fsInput, direct, color: io.color }),
      notCarried: domain.xen?.notCarried,
    };
    const { changes } = record;
    const warnings = [...record.warnings];
    const report = renderPlanAs(options.json ? 'json' : options.diffFormat, reportInput);
    if (target.kind === 'review') {
      io.stdout.write(report);
      if (options.libvirt)
        for (const argv of plannedVirsh(options.libvirt, xml.path, xml.name))
          writeLine(
            options.json ? io.stderr : io.stdout,
            `then in libvirt: ${argv.map(shellQuote).join(' ')}`,
          );
      if (options.json) options.onReport?.({ kind: 'planned', plan: planJson(reportInput) });
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
      const where = copy
        ? `a copy at ${copy.output}`
        : `${options.image}, in place (undo with xen2kvm rollback)`;
      const goAhead = await reviewChanges(
        io,
        changes,
        `Apply these ${changes.length} change(s) and ${reviewed.plan.commands.length} command(s) to ${where}?`,
        skipped,
      );
      if (!goAhead) {
        writeLine(io.stderr, `aborted; ${options.image} was not modified`);
        return 1;
      }
    }

    // Files copied out of the guest go if the run fails after them (in place, the journal has them too).
    run.partials.push(...copiesOut(record.hostOutputs).map((copy) => copy.to));
    const workImage = await prepareWorkImage(run, out);
    const apply: SessionEnv = { runner: host, cleanup, readOnly: false };
    const fixedRoot: PrepareOptions = {
      ...prepare,
      image: workImage,
      root: reviewed.guest.rootVolume ?? String(reviewed.guest.rootPartition),
      kernel: reviewed.guest.bootKernel,
      promptKernel: false,
    };
    const current = await inspectAndPlan(io, apply, fixedRoot, table, timings, steps);
    if (fingerprint(current) !== fingerprint(reviewed)) {
      throw new UserError(
        `${options.image} read differently once attached read-write (a journal was replayed?); nothing was applied: run again`,
      );
    }
    // What the operator accepted: all of it, less the files skipped in the review.
    const accepted = current.plan.tree.allChanges().filter((c) => !skipped.has(c.path));
    const journal = await applyPlan(
      io,
      host,
      current,
      accepted,
      {
        image: workImage,
        journaled: target.kind === 'in-place',
        bootAreaLength,
        journalBase: options.journalDir,
        isolation: options.isolation,
        applianceAccel: options.applianceAccel,
        applianceLog: applianceLogPath(copy?.output ?? options.image),
        hostOutputs: record.hostOutputs,
      },
      timings,
    );
    await releaseAll(io, cleanup, timings);
    await finishOutput(run, out, workImage, table);
    writeDomainXml(record.hostOutputs);
    return await reportConverted(options, io, {
      target: out.target,
      accepted,
      commands: current.plan.commands,
      journal,
      xml: { path: xml.path, unchanged: xmlBefore === xml.content, name: xml.name, uuid: xml.uuid },
      warnings,
      notCarried: domain.xen?.notCarried,
      fsInput,
      direct,
      timings,
      started,
    });
  } catch (error) {
    await releaseAll(io, cleanup, timings);
    for (const partial of run.partials) rmSync(partial, { force: true });
    if (host.interrupted) throw new InterruptedError(host.interrupted);
    throw error;
  } finally {
    await inputs.release();
    process.off('SIGINT', stopOnSignal).off('SIGTERM', stopOnSignal);
    lock.release();
  }
}

/** Where the appliance VM's console is kept (--isolation vm): beside the image it converts. */
function applianceLogPath(image: string): string {
  const path = resolve(image);
  return join(dirname(path), `${domainNameFor(path)}.appliance.log`);
}
