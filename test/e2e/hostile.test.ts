/**
 * Hostile and broken images: symlinks aimed at host files, device nodes and fifos where
 * configuration files should be, a huge file, names with newlines. No host file may change, every
 * run must end (no read of /dev/zero or a fifo), and refusals come in one line.
 */
import { mkdtempSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workingCopy } from '../../fixtures/images/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { editGuest } from '../helpers/guest-tree.js';
import { leftovers, NOTHING_LEFT, sha256 } from '../helpers/host-state.js';

let dir: string;
const canaries = ['/etc/host-canary-x2k', '/tmp/host-canary-x2k'];
const watched = [...canaries, '/etc/passwd', '/etc/shadow', '/etc/fstab', '/etc/hostname'];
let hostBefore: Record<string, string>;

async function hostState(): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all(watched.map(async (path) => [path, await sha256(path)])));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'e2e-hostile-'));
  for (const path of canaries) writeFileSync(path, 'host data that must never change\n');
  hostBefore = await hostState();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const path of canaries) rmSync(path, { force: true });
});

async function hostile(name: string, edit: (root: string) => Promise<void> | void): Promise<string> {
  const image = await workingCopy('debian12-xen-pv', join(dir, `${name}.raw`));
  await editGuest(image, edit);
  return image;
}

function oneCleanLine(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at /m);
}

describe('hostile images never touch the host', () => {
  it('symlinks to host paths, absolute and escaping upwards, stay inside the guest', async () => {
    const image = await hostile('symlinks', (root) => {
      unlinkSync(join(root, 'etc/fstab'));
      symlinkSync('/etc/host-canary-x2k', join(root, 'etc/fstab'));
      unlinkSync(join(root, 'etc/default/grub'));
      symlinkSync('../../../../../../../../tmp/host-canary-x2k', join(root, 'etc/default/grub'));
      unlinkSync(join(root, 'etc/initramfs-tools/modules'));
      symlinkSync('/etc/shadow', join(root, 'etc/initramfs-tools/modules'));
    });
    const run = await runCli(['migrate', '--yes', '--in-place', image]);
    oneCleanLine(run.stderr);
    expect(run.exitCode).toBe(0);
    expect(await hostState()).toEqual(hostBefore);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });

  it('device nodes and fifos where configuration files belong are never read', async () => {
    const image = await hostile('devices', async (root) => {
      unlinkSync(join(root, 'etc/initramfs-tools/modules'));
      await execa('mknod', [join(root, 'etc/initramfs-tools/modules'), 'c', '1', '5']);
      unlinkSync(join(root, 'etc/fstab'));
      await execa('mkfifo', [join(root, 'etc/fstab')]);
      await execa('mknod', [join(root, 'etc/inittab'), 'c', '1', '5']);
    });
    const run = await runCli(['migrate', '--dry-run', image], { timeout: 120_000 });
    oneCleanLine(run.stderr);
    expect(run.exitCode).toBe(0);
    expect(await hostState()).toEqual(hostBefore);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });

  it('a configuration file of gigabytes is refused in one line', async () => {
    const image = await hostile('huge', (root) => {
      truncateSync(join(root, 'etc/default/grub'), 10 * 1024 ** 3);
    });
    const before = await sha256(image);
    const run = await runCli(['migrate', '--dry-run', image]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n').pop()).toBe(
      "xen2kvm: the guest's /etc/default/grub is 10737418240 bytes, too large for the file it should be; check the image",
    );
    expect(await sha256(image)).toBe(before);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });

  it('names with newlines cannot forge lines of the report', async () => {
    const image = await hostile('newlines', (root) => {
      const wants = join(root, 'etc/systemd/system/getty.target.wants');
      symlinkSync(
        '/lib/systemd/system/serial-getty@.service',
        join(wants, 'serial-getty@hvc0.service\n+++ injected-header'),
      );
    });
    const run = await runCli(['migrate', '--dry-run', image]);
    oneCleanLine(run.stderr);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).not.toContain('\n+++ injected-header');
    expect(await hostState()).toEqual(hostBefore);
  });
});
