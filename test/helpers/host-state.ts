/** What a run may leave on the host: loop devices on an image, mounts, temp dirs and sandbox groups of xen2kvm. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

/**
 * A digest of a file's bytes that reads only its data: holes count as the zeros they read as, so two
 * files with the same bytes have the same digest however they are allocated. Hashing a 2 GiB image
 * whole costs about 25 s (most of it the kernel zero-filling holes); this costs what its data does.
 * The digest is SHA-256 over the SHA-256 of each 1 MiB block; Node has no SEEK_DATA, Python does.
 */
const DIGEST_SCRIPT = `
import hashlib, os, sys
BLOCK = 1 << 20
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
zero = hashlib.sha256(bytes(BLOCK)).digest()
outer = hashlib.sha256(str(size).encode())
block = 0
def data_from(offset):
    try:
        return os.lseek(fd, offset, os.SEEK_DATA)
    except OSError:
        return size
next_data = data_from(0)
while block * BLOCK < size:
    start = block * BLOCK
    length = min(BLOCK, size - start)
    if next_data < start:
        next_data = data_from(start)
    if next_data >= start + length:
        outer.update(zero if length == BLOCK else hashlib.sha256(bytes(length)).digest())
        block += 1
        continue
    outer.update(hashlib.sha256(os.pread(fd, length, start)).digest())
    block += 1
print(outer.hexdigest())
`;

export async function contentDigest(path: string): Promise<string> {
  const { stdout } = await execa('python3', ['-c', DIGEST_SCRIPT, path]);
  return stdout.trim();
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
