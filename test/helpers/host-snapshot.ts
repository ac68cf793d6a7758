/**
 * What a run may leave on the host: loop devices, mounts, temp dirs, sandbox groups and recovery
 * records of xen2kvm. Test files run side by side, each with its own TMPDIR and XEN2KVM_RUN_DIR
 * (run-scope.ts): mounts, temp dirs and recovery records are looked for there, so one file never
 * sees another's runs in flight.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export async function loopDevicesOf(image: string): Promise<string[]> {
  const { stdout } = await execa('losetup', ['-j', image]);
  return stdout.split('\n').filter(Boolean);
}

/** Every loop device attached, as losetup lists it ("/dev/loopN: ... (FILE)..."). */
export async function allLoopDevices(): Promise<string[]> {
  const { stdout } = await execa('losetup', ['-a']);
  return stdout.split('\n').filter(Boolean);
}

/** xen2kvm's mounts (their points are xen2kvm-* temp dirs) under `under`, or anywhere. */
export function xen2kvmMounts(under = '/'): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((line) => line.includes('/xen2kvm-') && (line.split(' ')[1] ?? '').startsWith(under));
}

export function xen2kvmTempDirs(dir = tmpdir()): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith('xen2kvm-')) : [];
}

/** Control groups of xen2kvm's guest-command sandboxes (cgroup v2, or v1 memory and pids). */
export function sandboxGroups(): string[] {
  const parents = existsSync('/sys/fs/cgroup/cgroup.controllers')
    ? ['/sys/fs/cgroup']
    : ['/sys/fs/cgroup/memory', '/sys/fs/cgroup/pids'];
  return parents.flatMap((parent) =>
    existsSync(parent)
      ? readdirSync(parent)
          .filter((name) => name.startsWith('xen2kvm-'))
          .map((n) => `${parent}/${n}`)
      : [],
  );
}

/** Whether the xen2kvm process that made a sandbox group (xen2kvm-PID-N) is still running. */
export function groupOwnerAlive(group: string): boolean {
  const pid = Number(/xen2kvm-(\d+)-\d+$/.exec(group)?.[1]);
  return Number.isInteger(pid) && existsSync(`/proc/${pid}`);
}

/** Recovery records of runs that did not finish (a finished run removes its own). */
export function recoveryRecords(dir = process.env.XEN2KVM_RUN_DIR ?? '/run/xen2kvm'): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => name.endsWith('.state.json'))
        .map((name) => join(dir, name))
    : [];
}

export interface HostState {
  loops: string[];
  mounts: string[];
  tempDirs: string[];
  sandboxGroups: string[];
  recovery: string[];
}

/** The host as this test file's runs see it (its TMPDIR and run dir), or all of it with `global`. */
export async function hostState(global = false): Promise<HostState> {
  return {
    loops: await allLoopDevices(),
    mounts: xen2kvmMounts(global ? '/' : tmpdir()),
    tempDirs: global ? [] : xen2kvmTempDirs(),
    sandboxGroups: sandboxGroups(),
    recovery: global ? [] : recoveryRecords(),
  };
}

/** What `after` holds that `before` did not, field by field. */
export function added(before: HostState, after: HostState): HostState {
  const diff = (a: string[], b: string[]) => b.filter((item) => !a.includes(item));
  return {
    loops: diff(before.loops, after.loops),
    mounts: diff(before.mounts, after.mounts),
    tempDirs: diff(before.tempDirs, after.tempDirs),
    sandboxGroups: diff(before.sandboxGroups, after.sandboxGroups),
    recovery: diff(before.recovery, after.recovery),
  };
}

export const NOTHING_LEFT: HostState = {
  loops: [],
  mounts: [],
  tempDirs: [],
  sandboxGroups: [],
  recovery: [],
};
