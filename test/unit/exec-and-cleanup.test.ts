import { describe, expect, it } from 'vitest';
import { CleanupStack } from '../../src/cleanup.js';
import { CommandError, HostCommandRunner, inGuest, ReadOnlyRunner } from '../../src/exec.js';

describe('command runner', () => {
  it('folds the command and its stderr into the error', async () => {
    const runner = new HostCommandRunner();
    const failure = runner.run({
      file: 'sh',
      args: ['-c', 'echo first >&2; echo "no such partition" >&2; exit 3'],
      kind: 'read',
      timeout: 'query',
    });
    await expect(failure).rejects.toThrow(/^sh -c .*: exit code 3: first \| no such partition$/);
  });
  it('says when a program is missing', async () => {
    await expect(
      new HostCommandRunner().run({ file: 'no-such-tool-xyz', args: [], kind: 'read', timeout: 'query' }),
    ).rejects.toThrow(/no-such-tool-xyz: command not found/);
  });
  it('refuses, in a dry-run, any command that may write the image, without starting it', async () => {
    const runner = new ReadOnlyRunner(new HostCommandRunner());
    await expect(
      runner.run({ file: 'touch', args: ['/tmp/should-not-exist-xen2kvm'], kind: 'write', timeout: 'query' }),
    ).rejects.toBeInstanceOf(CommandError);
    await expect(
      runner.run({ file: 'true', args: [], kind: 'read', timeout: 'query' }),
    ).resolves.toMatchObject({ exitCode: 0 });
  });
  it('after an interruption refuses everything but host cleanup commands', async () => {
    const runner = new HostCommandRunner();
    runner.interrupt('SIGTERM');
    await expect(runner.run({ file: 'true', args: [], kind: 'read', timeout: 'query' })).rejects.toThrow(
      /interrupted by SIGTERM/,
    );
    await expect(
      runner.run({ file: 'true', args: [], kind: 'host', timeout: 'query' }),
    ).resolves.toMatchObject({ exitCode: 0 });
  });
  it('runs guest commands through chroot with a clean environment', () => {
    expect(inGuest('/mnt/g', ['update-initramfs', '-u'], 'write', 'initrd').args).toEqual([
      '/mnt/g',
      '/usr/bin/env',
      '-i',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'LC_ALL=C',
      'HOME=/root',
      'update-initramfs',
      '-u',
    ]);
  });
});

describe('cleanup stack', () => {
  it('undoes newest first, keeps going past failures and reports them', async () => {
    const cleanup = new CleanupStack();
    const order: string[] = [];
    cleanup.push('detach loop', async () => void order.push('detach'));
    cleanup.push('unmount root', async () => {
      order.push('unmount');
      throw new Error('target is busy');
    });
    cleanup.push('unmount proc', async () => void order.push('proc'));
    expect(await cleanup.release()).toEqual(['unmount root: target is busy']);
    expect(order).toEqual(['proc', 'unmount', 'detach']);
    expect(cleanup.size).toBe(0);
    expect(await cleanup.release()).toEqual([]);
  });
});
