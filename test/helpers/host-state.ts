/** What a run may leave on the host: loop devices on an image, mounts, temp dirs and sandbox groups of xen2kvm. */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execa } from 'execa';

export async function loopDevicesOf(image: string): Promise<string[]> {
  const { stdout } = await execa('losetup', ['-j', image]);
  return stdout.split('\n').filter(Boolean);
}

export function xen2kvmMounts(): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((line) => line.includes('/xen2kvm-'));
}

export function xen2kvmTempDirs(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith('xen2kvm-'));
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

export async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Everything a run must have released, for one assertion with a readable failure. */
export async function leftovers(
  image: string,
): Promise<{ loops: string[]; mounts: string[]; tempDirs: string[]; sandboxGroups: string[] }> {
  return {
    loops: await loopDevicesOf(image),
    mounts: xen2kvmMounts(),
    tempDirs: xen2kvmTempDirs(),
    sandboxGroups: sandboxGroups(),
  };
}

export const NOTHING_LEFT = { loops: [], mounts: [], tempDirs: [], sandboxGroups: [] };
