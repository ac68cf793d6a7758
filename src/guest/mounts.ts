/**
 * Mounts made for a conversion, each undone by the cleanup stack and recorded for recovery before
 * it is made. A temporary mount point is removed with rmdir, never recursively, so a mount that
 * failed to go away can never cost the guest its files.
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CleanupStack } from '../cleanup.js';
import type { CommandRunner } from '../exec.js';

/** Read-only mount options for a filesystem: ext3/ext4 also skip journal replay, which would write. */
export function readOnlyOptions(fsType: string): string {
  return ['ext3', 'ext4'].includes(fsType) ? 'ro,noload' : fsType === 'xfs' ? 'ro,norecovery' : 'ro';
}

export async function makeMountPoint(cleanup: CleanupStack, label: string): Promise<string> {
  // Named before it exists, so its recovery record is written first: a run killed at any instant,
  // even between the record and the mkdir, leaves nothing `xen2kvm cleanup` cannot find. mkdir
  // never follows a symlink planted at that name; a name already taken is refused and another drawn.
  for (let attempt = 1; ; attempt++) {
    const dir = join(tmpdir(), `xen2kvm-${label}-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      return await cleanup.acquire(
        { kind: 'dir', path: dir },
        async () => {
          await mkdir(dir, { mode: 0o700 });
          return dir;
        },
        () => ({ description: `remove ${dir}`, undo: () => rmdir(dir) }),
      );
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw error;
    }
  }
}

export async function mountDevice(
  runner: CommandRunner,
  cleanup: CleanupStack,
  device: string,
  target: string,
  options: { fsType: string; readOnly: boolean },
): Promise<void> {
  // -w: never let mount fall back to read-only on a write-protected filesystem; that must fail here.
  // nosuid,nodev: a set-user-ID file or a device node the guest holds (or its code makes) is inert
  // on the host; a review also executes nothing from it.
  const mode = options.readOnly
    ? ['-o', `${readOnlyOptions(options.fsType)},nosuid,nodev,noexec`]
    : ['-w', '-o', 'nosuid,nodev'];
  await cleanup.acquire(
    { kind: 'mount', path: target },
    () =>
      runner.run({
        file: 'mount',
        args: ['-t', options.fsType, ...mode, device, target],
        kind: 'host',
        timeout: 'attach',
      }),
    () => ({ description: `unmount ${target}`, undo: () => unmountIfMounted(runner, target) }),
    () => unmountIfMounted(runner, target),
  );
}

/** A mount command killed mid-way may or may not have mounted: look, then undo. */
async function unmountIfMounted(runner: CommandRunner, target: string): Promise<void> {
  if (mountedOptions(target).length > 0) await unmount(runner, target);
}

async function unmount(runner: CommandRunner, target: string): Promise<void> {
  await runner.run({ file: 'umount', args: [target], kind: 'host', timeout: 'attach' });
}

/** The options the kernel really mounted `target` with (it may make a "rw" mount read-only). */
export function mountedOptions(target: string): string[] {
  const line = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[1] === target);
  return line?.split(' ')[3]?.split(',') ?? [];
}
