/**
 * A control group per guest command: it caps the memory and the number of processes the guest's
 * code may use, and it is how the whole process tree is found and killed, whatever it forked,
 * before anything is unmounted. cgroup v2 (the unified hierarchy of current distributions) is used
 * where it is mounted at /sys/fs/cgroup; else the v1 `memory` and `pids` hierarchies.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = process.env.XEN2KVM_CGROUP_ROOT ?? '/sys/fs/cgroup';
const PREFIX = 'xen2kvm-';

export interface SandboxLimits {
  memoryBytes: number;
  maxProcesses: number;
}

export interface CommandCgroup {
  /** The cgroup.procs files a process must join (one per hierarchy). */
  procsFiles: string[];
  /** Kills every process in the group and waits until none is left. */
  killAll(): Promise<void>;
  /** Whether the memory cap was hit (an out-of-memory kill happened). */
  oomKilled(): boolean;
  remove(): void;
}

type Layout = { version: 2; dir: string } | { version: 1; memory: string; pids: string };

function layout(): Layout | undefined {
  if (existsSync(join(ROOT, 'cgroup.controllers'))) {
    const enabled = readFileSync(join(ROOT, 'cgroup.subtree_control'), 'utf8');
    if (/\bmemory\b/.test(enabled) && /\bpids\b/.test(enabled)) return { version: 2, dir: ROOT };
    return undefined;
  }
  const memory = join(ROOT, 'memory');
  const pids = join(ROOT, 'pids');
  if (existsSync(join(memory, 'memory.limit_in_bytes')) && existsSync(join(pids, 'cgroup.procs'))) {
    return { version: 1, memory, pids };
  }
  return undefined;
}

/** How guest commands are confined on this host: said in the plan and the README. */
export function cgroupSupport(): string | undefined {
  const found = layout();
  if (!found) return undefined;
  return found.version === 2 ? 'cgroup v2' : 'cgroup v1: memory, pids';
}

let sequence = 0;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function pidsIn(procs: string): number[] {
  try {
    return readFileSync(procs, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => Number(line));
  } catch {
    return [];
  }
}

async function killGroup(procsFiles: string[]): Promise<void> {
  // Processes may fork while being killed: repeat until the group stays empty (a fork bomb is held
  // by the pids cap, so this ends).
  for (let round = 0; round < 500; round++) {
    const pids = procsFiles.flatMap(pidsIn);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await sleep(10);
  }
  throw new Error(`processes of a guest command survive SIGKILL in ${procsFiles.join(', ')}`);
}

function removeDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** A new group with the limits set, or undefined where the host has no usable cgroups. */
export function createCommandCgroup(limits: SandboxLimits): CommandCgroup | undefined {
  const found = layout();
  if (!found) return undefined;
  const name = `${PREFIX}${process.pid}-${++sequence}`;
  if (found.version === 2) {
    const dir = join(found.dir, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'memory.max'), String(limits.memoryBytes));
    // No swap either, where swap is accounted: the cap is on memory, not on RAM.
    if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
    writeFileSync(join(dir, 'pids.max'), String(limits.maxProcesses));
    const procs = join(dir, 'cgroup.procs');
    return {
      procsFiles: [procs],
      async killAll() {
        writeFileSync(join(dir, 'cgroup.kill'), '1');
        await killGroup([procs]);
      },
      oomKilled: () => /^oom_kill [1-9]/m.test(readFileSync(join(dir, 'memory.events'), 'utf8')),
      remove: () => removeDir(dir),
    };
  }
  const memory = join(found.memory, name);
  const pids = join(found.pids, name);
  mkdirSync(memory);
  mkdirSync(pids);
  writeFileSync(join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
  writeFileSync(join(pids, 'pids.max'), String(limits.maxProcesses));
  const procsFiles = [join(memory, 'cgroup.procs'), join(pids, 'cgroup.procs')];
  return {
    procsFiles,
    killAll: () => killGroup(procsFiles),
    oomKilled: () => /^oom_kill [1-9]/m.test(readFileSync(join(memory, 'memory.oom_control'), 'utf8')),
    remove: () => {
      removeDir(memory);
      removeDir(pids);
    },
  };
}

/**
 * Groups left by an xen2kvm that died (SIGKILL): their processes are killed and the groups removed.
 * Returns one line per group. Groups of live runs are left alone.
 */
export async function reapDeadSandboxes(alive: (pid: number) => boolean): Promise<string[]> {
  const found = layout();
  if (!found) return [];
  const parents = found.version === 2 ? [found.dir] : [found.memory, found.pids];
  const done: string[] = [];
  for (const parent of parents) {
    for (const entry of readdirSync(parent)) {
      const match = /^xen2kvm-(\d+)-\d+$/.exec(entry);
      if (!match || alive(Number(match[1]))) continue;
      const dir = join(parent, entry);
      const procs = join(dir, 'cgroup.procs');
      const left = pidsIn(procs).length;
      await killGroup([procs]);
      removeDir(dir);
      done.push(`removed the sandbox group ${dir}${left > 0 ? ` and killed ${left} process(es) in it` : ''}`);
    }
  }
  return done;
}
