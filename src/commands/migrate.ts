/**
 * `xen2kvm migrate IMAGE`: the whole conversion as task lists.
 *
 * Review first, always: the image is attached read-only and mounted without journal replay, every
 * step plans, and the plan is shown (dry-run) or asked about. Only an accepted plan is applied: the
 * image is then attached read-write, the same inspection and planning run again and must come out
 * the same, and the plan is written. So nothing touches the image before the plan is complete and
 * accepted - a refusal or an error while planning leaves it byte-identical. Whatever happens, the
 * cleanup stack unmounts and unmaps everything before the command returns.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ListrEnquirerPromptAdapter } from '@listr2/prompt-adapter-enquirer';
import { type DomainOptions, planDomainXml } from '../../steps/domain-xml.js';
import type { RootCandidate } from '../../steps/find-root.js';
import { guestSteps } from '../../steps/index.js';
import { type MappedImage, preflight } from '../../steps/map.js';
import { CleanupStack } from '../cleanup.js';
import { chooseMapper, type MapMethod } from '../disk/attach.js';
import { identifyBootCode } from '../disk/mbr.js';
import type { PartitionTable } from '../disk/partition-table.js';
import { InterruptedError, UserError } from '../errors.js';
import { type CommandListener, formatCommand, HostCommandRunner, ReadOnlyRunner } from '../exec.js';
import { runPlannedCommand, writeChanges } from '../pipeline/apply.js';
import { type GuestPlan, GuestPlanner } from '../pipeline/plan.js';
import { findRootPhase, mapPhase, mountPhase, type PrepareOptions } from '../pipeline/prepare.js';
import type { SessionEnv } from '../pipeline/session-env.js';
import type { Guest } from '../pipeline/types.js';
import { type CliIo, writeLine } from '../ui/io.js';
import { renderPlan } from '../ui/report.js';
import { seconds, taskList } from '../ui/task-list.js';
import { loadXenConfig } from '../xen/load.js';
import { runBootCheck, type VerifyOptions } from './verify.js';

export interface MigrateOptions {
  image: string;
  dryRun: boolean;
  yes: boolean;
  root?: string;
  mapper: MapMethod | 'auto';
  domain: DomainOptions;
  /** The guest's Xen configuration, for the domain XML. */
  xenConfig?: string;
  verify?: Omit<VerifyOptions, 'image'>;
  verbose: boolean;
}

/** What one pass of inspection and planning found. */
interface Inspection {
  mapped: MappedImage;
  guest: Guest;
  plan: GuestPlan;
}

type Timings = [string, number][];

/** Runs one phase and records how long it took, for the summary and the benchmarks. */
async function timed<T>(timings: Timings, name: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    timings.push([name, performance.now() - started]);
  }
}

function verboseListener(io: CliIo): CommandListener {
  return (spec, result, ms) =>
    writeLine(
      io.stderr,
      `  $ ${formatCommand(spec)}  [${spec.kind}, exit ${result?.exitCode ?? '-'}, ${seconds(ms)}]`,
    );
}

export async function migrate(options: MigrateOptions, io: CliIo): Promise<number> {
  if (!options.dryRun && !options.yes && !io.interactive) {
    throw new UserError(
      'not a terminal, so no confirmation can be asked: review with --dry-run, then apply with --yes',
      2,
    );
  }
  const mapper = chooseMapper(options.mapper);
  // A configuration that cannot be read is refused before the image is even looked at.
  const domain: DomainOptions = options.xenConfig
    ? { ...options.domain, xen: await loadXenConfig(options.xenConfig) }
    : options.domain;
  const host = new HostCommandRunner({ listener: options.verbose ? verboseListener(io) : undefined });
  const cleanup = new CleanupStack();
  const timings: Timings = [];
  const started = performance.now();
  const stopOnSignal = (signal: NodeJS.Signals) => {
    writeLine(io.stderr, `xen2kvm: ${signal} received, stopping and releasing mounts and loop devices...`);
    host.interrupt(signal);
  };
  process.on('SIGINT', stopOnSignal).on('SIGTERM', stopOnSignal);
  try {
    const review: SessionEnv = { runner: new ReadOnlyRunner(host), cleanup, readOnly: true };
    const table = await timed(timings, 'check', () => preflight(review, options.image, !options.dryRun));
    const prepare: PrepareOptions = { image: options.image, mapper, root: options.root };
    const reviewed = await inspectAndPlan(io, review, prepare, table, timings);
    await releaseAll(io, cleanup, timings);

    const xml = planDomainXml(options.image, domain);
    const xmlBefore = existsSync(xml.path) ? readFileSync(xml.path, 'utf8') : undefined;
    const changes = reviewed.plan.tree.allChanges();
    const commandCount = reviewed.plan.commands.length;
    const report = renderPlan({
      image: options.image,
      summary: summaryLines(reviewed),
      changes,
      commands: reviewed.plan.commands,
      warnings: [...reviewed.plan.warnings, ...xml.warnings.map((w) => `domain XML: ${w}`)],
      domainXml: { ...xml, exists: xmlBefore !== undefined, unchanged: xmlBefore === xml.content },
      color: io.color,
    });
    if (options.dryRun) {
      io.stdout.write(report);
      writeLine(
        io.stderr,
        `dry-run finished in ${seconds(performance.now() - started)}; ${options.image} was not modified`,
      );
      return 0;
    }
    if (!options.yes) {
      io.stdout.write(report);
      const question = `Apply these ${changes.length} change(s) and ${commandCount} command(s) to ${options.image}?`;
      if (!(await io.confirm(question))) {
        writeLine(io.stderr, `aborted; ${options.image} was not modified`);
        return 1;
      }
    }

    const apply: SessionEnv = { runner: host, cleanup, readOnly: false };
    const fixedRoot = { ...prepare, root: String(reviewed.guest.rootPartition) };
    const current = await inspectAndPlan(io, apply, fixedRoot, table, timings);
    if (fingerprint(current) !== fingerprint(reviewed)) {
      throw new UserError(
        `${options.image} read differently once attached read-write (a journal was replayed?); nothing was applied: run again`,
      );
    }
    await taskList(io, [
      {
        title: `Write ${changes.length} file change(s) into the guest`,
        task: () =>
          timed(timings, 'write files', async () =>
            writeChanges(current.plan.tree, current.plan.tree.allChanges()),
          ),
      },
      ...current.plan.commands.map((command) => ({
        title: `Run in guest: ${command.argv.join(' ')}`,
        task: () =>
          timed(timings, `run ${command.step}`, () => runPlannedCommand(host, current.guest.root, command)),
      })),
    ]).run();
    await releaseAll(io, cleanup, timings);
    if (xmlBefore !== xml.content) writeFileSync(xml.path, xml.content);
    writeLine(
      io.stdout,
      `converted ${options.image}: ${changes.length} file(s) changed, ${commandCount} command(s) run`,
    );
    writeLine(io.stdout, `domain XML: ${xml.path}${xmlBefore === xml.content ? ' (unchanged)' : ''}`);
    for (const warning of [...reviewed.plan.warnings, ...xml.warnings])
      writeLine(io.stderr, `warning: ${warning}`);
    writeLine(io.stdout, `time: ${seconds(performance.now() - started)} (${formatTimings(timings)})`);
    if (options.verify) {
      const ok = await runBootCheck({ ...options.verify, image: options.image }, io);
      return ok ? 0 : 3;
    }
    return 0;
  } catch (error) {
    await releaseAll(io, cleanup, timings);
    if (host.interrupted) throw new InterruptedError(host.interrupted);
    throw error;
  } finally {
    process.off('SIGINT', stopOnSignal).off('SIGTERM', stopOnSignal);
  }
}

/** Map, find the root, mount and plan: the shared path of review and apply. */
async function inspectAndPlan(
  io: CliIo,
  env: SessionEnv,
  prepare: PrepareOptions,
  table: PartitionTable,
  timings: Timings,
): Promise<Inspection> {
  const mode = env.readOnly ? 'read-only' : 'read-write';
  let mapped: MappedImage | undefined;
  let found: Awaited<ReturnType<typeof findRootPhase>> | undefined;
  let guest: Guest | undefined;
  let plan: GuestPlan | undefined;
  await taskList(io, [
    {
      title: `Map partitions (${mode})`,
      task: async (_, task) => {
        mapped = await timed(timings, 'map', () => mapPhase(env, prepare, table));
        const { disk } = mapped;
        const how = disk.method === 'kpartx' ? 'kpartx' : 'loop devices';
        task.title = `Map partitions (${mode}): ${disk.partitions.size} with ${how} (${disk.reason})`;
      },
    },
    {
      title: 'Find the root filesystem',
      task: async (_, task) => {
        // A choice between several roots is asked through listr's prompt adapter, never under the renderer.
        const askRoot = io.interactive
          ? async (candidates: RootCandidate[]) => {
              const answer: string = await task.prompt(ListrEnquirerPromptAdapter).run({
                type: 'select',
                message: 'Several root filesystems were found. Which one is the guest to convert?',
                choices: candidates.map((c) => ({
                  name: String(c.partition),
                  message: `partition ${c.partition} (${c.fsType}): ${c.os.prettyName}`,
                })),
              });
              return candidates.find((c) => String(c.partition) === answer) as RootCandidate;
            }
          : undefined;
        found = await timed(timings, 'find root', () =>
          findRootPhase(env, { ...prepare, askRoot }, mapped as MappedImage),
        );
        task.title = `Root filesystem: partition ${found.root.partition} (${found.root.fsType}), ${found.root.os.prettyName}`;
      },
    },
    {
      title: `Mount the guest (${mode})`,
      task: async () => {
        guest = await timed(timings, 'mount', () =>
          mountPhase(env, prepare, mapped as MappedImage, found as NonNullable<typeof found>),
        );
      },
    },
    {
      title: 'Plan the changes',
      task: (_, task) => {
        const planner = new GuestPlanner(guest as Guest, env.runner);
        return task.newListr(
          [
            ...guestSteps.map((step) => ({
              title: step.title,
              task: () => timed(timings, `plan ${step.id}`, async () => step.plan(planner.contextFor(step))),
            })),
            {
              title: 'Collect the plan',
              task: () => {
                plan = planner.result();
              },
            },
          ],
          { concurrent: false },
        );
      },
    },
  ]).run();
  return { mapped: mapped as MappedImage, guest: guest as Guest, plan: plan as GuestPlan };
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
  return JSON.stringify({ root: guest.rootPartition, changes, commands });
}

function summaryLines({ mapped, guest }: Inspection): string[] {
  const { disk } = mapped;
  const kernels = guest.kernels.map((k) => `${k.version}${k.xenOnly ? ' (Xen only)' : ''}`).join(', ');
  return [
    `partitions mapped with ${disk.method === 'kpartx' ? 'kpartx' : 'loop devices'}: ${disk.reason}`,
    `root: partition ${guest.rootPartition} (${guest.rootFsType}), ${guest.os.prettyName}`,
    `kernels: ${kernels || 'none found in /boot'}`,
    `boot code in the MBR: ${identifyBootCode(guest.bootCode)}`,
  ];
}

/** Sums the phases that ran twice (review and apply) so each step shows once. */
function formatTimings(timings: Timings): string {
  const sums = new Map<string, number>();
  for (const [name, ms] of timings) sums.set(name, (sums.get(name) ?? 0) + ms);
  return [...sums].map(([name, ms]) => `${name} ${seconds(ms)}`).join(', ');
}

async function releaseAll(io: CliIo, cleanup: CleanupStack, timings: Timings): Promise<void> {
  if (cleanup.size === 0) return;
  const failures = await timed(timings, 'unmount', () => cleanup.release());
  if (failures.length > 0) {
    for (const failure of failures) writeLine(io.stderr, `xen2kvm: cleanup failed: ${failure}`);
    throw new UserError(
      'some mounts or loop devices could not be released; see the lines above and release them by hand',
    );
  }
}
