/**
 * What a test's runs left on the host. Each test is judged on what appeared while it ran (a snapshot
 * is taken before it starts) in its file's own TMPDIR and run dir, so one leak fails the test that
 * made it, not every test after it nor a test of a file running beside it; the suite's global
 * teardown (suite-leftovers.ts) reports anything left overall.
 */

import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { beforeEach } from 'vitest';
import { added, groupOwnerAlive, type HostState, hostState, loopDevicesOf } from './host-snapshot.js';

export { NOTHING_LEFT } from './host-snapshot.js';

let atTestStart: HostState | undefined;
beforeEach(async () => {
  atTestStart = await hostState();
});

/**
 * What the current test's runs left: every loop device on `image` (whoever attached it); the loop
 * devices on this file's files, the mounts, temp dirs and recovery records in its TMPDIR and run dir,
 * and the sandbox groups of finished runs, that appeared since the test started; but for `ownLoops`,
 * the loop devices the test attached itself.
 */
export async function leftovers(image: string, ownLoops: string[] = []): Promise<HostState> {
  const now = await hostState();
  const fresh = atTestStart ? added(atTestStart, now) : now;
  const ofImage = await loopDevicesOf(image);
  const ours = fresh.loops.filter((line) => line.includes(`(${tmpdir()}/`));
  const loops = [...new Set([...ofImage, ...ours])].filter(
    (line) => !ownLoops.some((own) => line.startsWith(`${own}:`)),
  );
  // A group whose xen2kvm is still running belongs to a run in flight (another file's).
  const sandboxGroups = fresh.sandboxGroups.filter((group) => !groupOwnerAlive(group));
  return { ...fresh, loops, sandboxGroups };
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
