/**
 * The shared path of every run that looks inside an image: map its partitions, find and mount the
 * root (read-only while reviewing, read-write when applying), and plan every step, as task lists.
 */
import { ListrEnquirerPromptAdapter } from '@listr2/prompt-adapter-enquirer';
import type { MappedImage } from '../disk/map-image.js';
import type { PartitionTable } from '../disk/partition-table.js';
import { describeRoot, type RootCandidate, rootOptionOf } from '../inspect/find-root.js';
import type { CliIo } from '../ui/io.js';
import { taskList } from '../ui/task-list.js';
import { type GuestPlan, GuestPlanner } from './plan.js';
import { findRootPhase, mapPhase, mountPhase, type PrepareOptions } from './prepare.js';
import type { SessionEnv } from './session-env.js';
import type { Guest, Step } from './types.js';

/** What one pass of inspection and planning found. */
export interface Inspection {
  mapped: MappedImage;
  guest: Guest;
  plan: GuestPlan;
}

export type Timings = [string, number][];

/** Runs one phase and records how long it took, for the summary and the benchmarks. */
export async function timed<T>(timings: Timings, name: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    timings.push([name, performance.now() - started]);
  }
}

/** Map, find the root, mount and plan the given steps (none: only mount, as rollback does). */
export async function inspectAndPlan(
  io: CliIo,
  env: SessionEnv,
  prepare: PrepareOptions,
  table: PartitionTable,
  timings: Timings,
  steps: readonly Step[],
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
                  name: rootOptionOf(c),
                  message: `${describeRoot(c)} (${c.fsType}): ${c.os.prettyName}`,
                })),
              });
              return candidates.find((c) => rootOptionOf(c) === answer) as RootCandidate;
            }
          : undefined;
        found = await timed(timings, 'find root', () =>
          findRootPhase(env, { ...prepare, askRoot }, mapped as MappedImage),
        );
        const groups = [...new Set((mapped?.disk.logicalVolumes ?? []).map((lv) => lv.vg))];
        const activated =
          groups.length > 0 ? `; LVM volume group ${groups.join(', ')} activated (${mode})` : '';
        task.title = `Root filesystem: ${describeRoot(found.root)} (${found.root.fsType}), ${found.root.os.prettyName}${activated}`;
      },
    },
    {
      title: `Mount the guest (${mode})`,
      task: async (_, task) => {
        const askKernel =
          io.interactive && prepare.promptKernel
            ? async (versions: string[], preferred: string) => {
                const answer: string = await task.prompt(ListrEnquirerPromptAdapter).run({
                  type: 'select',
                  message: 'Several kernels can boot on KVM. Which one should the guest boot by default?',
                  choices: versions.map((v) => ({
                    name: v,
                    message: v === preferred ? `${v} (default)` : v,
                  })),
                  initial: versions.indexOf(preferred),
                });
                return answer;
              }
            : undefined;
        guest = await timed(timings, 'mount', () =>
          mountPhase(
            env,
            { ...prepare, askKernel },
            mapped as MappedImage,
            found as NonNullable<typeof found>,
          ),
        );
        if (guest.bootKernel) task.title = `Mount the guest (${mode}); boots kernel ${guest.bootKernel}`;
      },
    },
    {
      title: 'Plan the changes',
      task: (_, task) => {
        const planner = new GuestPlanner(guest as Guest);
        return task.newListr(
          [
            ...steps.map((step) => ({
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
