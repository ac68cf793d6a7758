/**
 * Mounts made for a conversion, each undone by the cleanup stack. A temporary mount point is
 * removed with rmdir, never recursively, so a mount that failed to go away can never cost the
 * guest its files.
 */
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CleanupStack } from '../cleanup.js';
import type { CommandRunner } from '../exec.js';

/** Read-only mount options for a filesystem: ext3/ext4 also skip journal replay, which would write. */
export function readOnlyOptions(fsType: string): string {
  return ['ext3', 'ext4'].includes(fsType) ? 'ro,noload' : fsType === 'xfs' ? 'ro,norecovery' : 'ro';
}

export async function makeMountPoint(cleanup: CleanupStack, label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `xen2kvm-${label}-`));
  // A killed run between mkdtemp and this line leaves an empty directory in /tmp, nothing worse.
  cleanup.push(`remove ${dir}`, () => rmdir(dir), { kind: 'dir', path: dir });
  return dir;
}

export async function mountDevice(
  runner: CommandRunner,
  cleanup: CleanupStack,
  device: string,
  target: string,
  options: { fsType: string; readOnly: boolean },
): Promise<void> {
  const opts = options.readOnly ? readOnlyOptions(options.fsType) : 'rw';
  await runner.run({
    file: 'mount',
    args: ['-t', options.fsType, '-o', opts, device, target],
    kind: 'host',
    timeout: 'attach',
  });
  cleanup.push(`unmount ${target}`, () => unmount(runner, target), { kind: 'mount', path: target });
}

export async function bindMount(
  runner: CommandRunner,
  cleanup: CleanupStack,
  source: string,
  target: string,
): Promise<void> {
  await cleanup.acquire(
    { kind: 'mount', path: target },
    () => runner.run({ file: 'mount', args: ['--bind', source, target], kind: 'host', timeout: 'attach' }),
    () => ({ description: `unmount ${target}`, undo: () => unmount(runner, target) }),
  );
}

async function unmount(runner: CommandRunner, target: string): Promise<void> {
  await runner.run({ file: 'umount', args: [target], kind: 'host', timeout: 'attach' });
}
