/**
 * `xen2kvm migrate IMAGE`: the whole conversion as a task list. Inspection and planning are shared
 * by dry-run and apply; a dry-run then prints the plan, an apply writes it. Whatever happens, the
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
import type { PartitionTable } from '../disk/partition-table.js';
import { InterruptedError, UserError } from '../errors.js';
import { type CommandListener, formatCommand, HostCommandRunner } from '../exec.js';
import { runPlannedCommand, writeChanges } from '../pipeline/apply.js';
import { type GuestPlan, GuestPlanner } from '../pipeline/plan.js';
import { findRootPhase, mapPhase, mountPhase, type PrepareOptions } from '../pipeline/prepare.js';
import type { SessionEnv } from '../pipeline/session-env.js';
import type { Guest } from '../pipeline/types.js';
import { type CliIo, writeLine } from '../ui/io.js';
import { renderPlan } from '../ui/report.js';
import { seconds, taskList } from '../ui/task-list.js';
import { runBootCheck, type VerifyOptions } from './verify.js';

export interface MigrateOptions {
  image: string;
  dryRun: boolean;
  yes: boolean;
  root?: string;
  mapper: MapMethod | 'auto';
  domain: DomainOptions;
  verify?: Omit<VerifyOptions, 'image'>;
  verbose: boolean;
}

interface RunState {
  mapped?: MappedImage;
  found?: { root: RootCandidate; search: Awaited<ReturnType<typeof findRootPhase>>['search'] };
  guest?: Guest;
  plan?: GuestPlan;
  timings: [string, number][];
}

/** Runs one phase and records how long it took, for the summary and the benchmarks. */
async function timed<T>(state: RunState, name: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    state.timings.push([name, performance.now() - started]);
  }
}

function verboseListener(io: CliIo): CommandListener {
  return (spec, result, ms) =>
    writeLine(
      io.stderr,
      `  $ ${formatCommand(spec)}  [${spec.kind}, exit ${result?.exitCode ?? '-'}, ${seconds(ms)}]`,
    );
}

export async function migrate(
  options: MigrateOptions,
  io: CliIo,
  runner?: HostCommandRunner,
): Promise<number> {
  if (!options.dryRun && !options.yes && !io.interactive) {
    throw new UserError(
      'not a terminal, so no confirmation can be asked: review with --dry-run, then apply with --yes',
      2,
    );
  }
  const mapper = chooseMapper(options.mapper);
  const commands =
    runner ??
    new HostCommandRunner({
      readOnly: options.dryRun,
      listener: options.verbose ? verboseListener(io) : undefined,
    });
  const cleanup = new CleanupStack();
  const env: SessionEnv = { runner: commands, cleanup, readOnly: options.dryRun };
  const state: RunState = { timings: [] };
  const started = performance.now();
  const prepare: PrepareOptions = {
    image: options.image,
    mapper,
    root: options.root,
  };
  const stopOnSignal = (signal: NodeJS.Signals) => {
    writeLine(io.stderr, `xen2kvm: ${signal} received, stopping and releasing mounts and loop devices...`);
    commands.interrupt(signal);
  };
  process.on('SIGINT', stopOnSignal).on('SIGTERM', stopOnSignal);
  try {
    const table = await timed(state, 'check', () => preflight(env, options.image));
    await inspectAndPlan(io, env, prepare, table, state);
    const plan = state.plan as GuestPlan;
    const guest = state.guest as Guest;
    const xml = planDomainXml(options.image, options.domain);
    const xmlBefore = existsSync(xml.path) ? readFileSync(xml.path, 'utf8') : undefined;
    const changes = plan.tree.allChanges();
    const report = renderPlan({
      image: options.image,
      summary: summaryLines(state),
      changes,
      commands: plan.commands,
      warnings: plan.warnings,
      domainXml: { ...xml, exists: xmlBefore !== undefined, unchanged: xmlBefore === xml.content },
      color: io.color,
    });
    if (options.dryRun) {
      await releaseAll(io, cleanup, state);
      io.stdout.write(report);
      writeLine(
        io.stderr,
        `dry-run finished in ${seconds(performance.now() - started)}; ${options.image} was not modified`,
      );
      return 0;
    }
    if (!options.yes) {
      io.stdout.write(report);
      if (
        !(await io.confirm(
          `Apply these ${changes.length} change(s) and ${plan.commands.length} command(s) to ${options.image}?`,
        ))
      ) {
        await releaseAll(io, cleanup, state);
        writeLine(io.stderr, `aborted; ${options.image} was not modified`);
        return 1;
      }
    }
    await taskList(io, [
      {
        title: `Write ${changes.length} file change(s) into the guest`,
        task: () => timed(state, 'write files', async () => writeChanges(plan.tree, changes)),
      },
      ...plan.commands.map((command) => ({
        title: `Run in guest: ${command.argv.join(' ')}`,
        task: () =>
          timed(state, `run ${command.step}`, () => runPlannedCommand(commands, guest.root, command)),
      })),
    ]).run();
    await releaseAll(io, cleanup, state);
    if (xmlBefore !== xml.content) writeFileSync(xml.path, xml.content);
    const total = performance.now() - started;
    writeLine(
      io.stdout,
      `converted ${options.image}: ${changes.length} file(s) changed, ${plan.commands.length} command(s) run`,
    );
    writeLine(io.stdout, `domain XML: ${xml.path}${xmlBefore === xml.content ? ' (unchanged)' : ''}`);
    writeLine(
      io.stdout,
      `time: ${seconds(total)} (${state.timings.map(([n, ms]) => `${n} ${seconds(ms)}`).join(', ')})`,
    );
    if (options.verify) {
      const ok = await runBootCheck({ ...options.verify, image: options.image }, io);
      return ok ? 0 : 3;
    }
    return 0;
  } catch (error) {
    await releaseAll(io, cleanup, state);
    if (commands.interrupted) throw new InterruptedError(commands.interrupted);
    throw error;
  } finally {
    process.off('SIGINT', stopOnSignal).off('SIGTERM', stopOnSignal);
  }
}

async function inspectAndPlan(
  io: CliIo,
  env: SessionEnv,
  prepare: PrepareOptions,
  table: PartitionTable,
  state: RunState,
): Promise<void> {
  await taskList(io, [
    {
      title: 'Map partitions',
      task: async (_, task) => {
        state.mapped = await timed(state, 'map', () => mapPhase(env, prepare, table));
        const { disk } = state.mapped;
        task.title = `Map partitions: ${disk.partitions.size} with ${disk.method === 'kpartx' ? 'kpartx' : 'loop devices'} (${disk.reason})`;
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
        state.found = await timed(state, 'find root', () =>
          findRootPhase(env, { ...prepare, askRoot }, state.mapped as MappedImage),
        );
        const { root } = state.found;
        task.title = `Root filesystem: partition ${root.partition} (${root.fsType}), ${root.os.prettyName}`;
      },
    },
    {
      title: env.readOnly ? 'Mount the guest read-only' : 'Mount the guest',
      task: async () => {
        state.guest = await timed(state, 'mount', () =>
          mountPhase(
            env,
            prepare,
            state.mapped as MappedImage,
            state.found as NonNullable<RunState['found']>,
          ),
        );
      },
    },
    {
      title: 'Plan the changes',
      task: (_, task) => {
        const planner = new GuestPlanner(state.guest as Guest, env.runner);
        return task.newListr(
          [
            ...guestSteps.map((step) => ({
              title: step.title,
              task: () => timed(state, `plan ${step.id}`, async () => step.plan(planner.contextFor(step))),
            })),
            {
              title: 'Collect the plan',
              task: () => {
                state.plan = planner.result();
              },
            },
          ],
          { concurrent: false },
        );
      },
    },
  ]).run();
}

function summaryLines(state: RunState): string[] {
  const lines: string[] = [];
  const disk = state.mapped?.disk;
  const guest = state.guest;
  if (disk)
    lines.push(
      `partitions mapped with ${disk.method === 'kpartx' ? 'kpartx' : 'loop devices'}: ${disk.reason}`,
    );
  if (guest) {
    lines.push(`root: partition ${guest.rootPartition} (${guest.rootFsType}), ${guest.os.prettyName}`);
    const kernels = guest.kernels.map((k) => `${k.version}${k.xenOnly ? ' (Xen only)' : ''}`).join(', ');
    lines.push(`kernels: ${kernels || 'none found in /boot'}`);
  }
  return lines;
}

async function releaseAll(io: CliIo, cleanup: CleanupStack, state: RunState): Promise<void> {
  if (cleanup.size === 0) return;
  const failures = await timed(state, 'unmount', () => cleanup.release());
  if (failures.length > 0) {
    for (const failure of failures) writeLine(io.stderr, `xen2kvm: cleanup failed: ${failure}`);
    throw new UserError(
      'some mounts or loop devices could not be released; see the lines above and release them by hand',
    );
  }
}
