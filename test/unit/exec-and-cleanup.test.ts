import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CleanupStack } from '../../src/cleanup.js';
import { CommandError, HostCommandRunner, inGuest, ReadOnlyRunner } from '../../src/exec.js';
import { makeMountPoint } from '../../src/guest/mounts.js';
import type { RecoveryLog, RecoveryRecord } from '../../src/safety/recovery-log.js';
import { cgroupSupport } from '../../src/sandbox/cgroup.js';

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
  // Guest commands get a control group only as root, where the host has one to give.
  const groups = process.getuid?.() === 0 && cgroupSupport() !== undefined;
  it.skipIf(!groups)(
    'ends a guest command when its first process ends, killing what it left holding the output',
    async () => {
      // A process left behind with the command's stdout open (as bwrap's inner process can be, when a
      // signal reaches the outer one first) must not keep the run waiting: here it would for 10 minutes,
      // and the command's time limit would fail it first.
      const result = await new HostCommandRunner().run({
        file: 'sh',
        args: ['-c', 'sleep 600 & echo left-behind $!; exit 0'],
        kind: 'write',
        timeout: 'query',
        guest: { memoryBytes: 256 * 1024 * 1024, maxProcesses: 64 },
      });
      expect(result.exitCode).toBe(0);
      const orphan = Number(/left-behind (\d+)/.exec(result.stdout)?.[1]);
      expect(orphan).toBeGreaterThan(0);
      // Killed: gone, or a zombie waiting for init to reap it.
      const state = existsSync(`/proc/${orphan}/stat`)
        ? readFileSync(`/proc/${orphan}/stat`, 'utf8').replace(/^.*\) /s, '')[0]
        : 'gone';
      expect(['gone', 'Z']).toContain(state);
    },
  );
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
  it('an interruption stops the commands in flight but lets a host command (a mount, an unmount) finish', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'interrupt-'));
    try {
      // Each command notes the SIGTERM it gets in a file of its own.
      const noting = (name: string, seconds: number) => [
        '-c',
        `trap 'echo TERM > ${dir}/${name}; exit 1' TERM; sleep ${seconds} >/dev/null 2>&1 & wait`,
      ];
      const runner = new HostCommandRunner();
      const host = runner.run({ file: 'sh', args: noting('host', 1), kind: 'host', timeout: 'query' });
      const write = runner.run({ file: 'sh', args: noting('write', 30), kind: 'write', timeout: 'query' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      runner.interrupt('SIGINT');
      await expect(write).rejects.toThrow(/interrupted by SIGINT/);
      await expect(host).resolves.toMatchObject({ exitCode: 0 });
      expect(existsSync(join(dir, 'write'))).toBe(true);
      expect(existsSync(join(dir, 'host'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('runs guest commands in a bubblewrap sandbox with a clean environment and few capabilities', () => {
    const spec = inGuest('/mnt/g', ['update-initramfs', '-u'], 'write', 'initrd', {}, [
      { host: '/dev/loop7', at: '/dev/loop7' },
      { host: '/dev/loop9', at: '/dev/loop72' },
    ]);
    expect(spec.file).toBe('bwrap');
    const args = spec.args.join(' ');
    for (const ns of ['pid', 'ipc', 'uts', 'net', 'cgroup']) expect(spec.args).toContain(`--unshare-${ns}`);
    expect(args).toContain('--die-with-parent --new-session');
    expect(args).toContain(
      '--bind /mnt/g / --proc /proc --dev /dev --dev-bind /dev/loop7 /dev/loop7 --dev-bind /dev/loop9 /dev/loop72',
    );
    expect(args).toContain('--cap-drop ALL');
    expect(spec.args.filter((a) => a.startsWith('CAP_'))).toEqual([
      'CAP_CHOWN',
      'CAP_DAC_OVERRIDE',
      'CAP_DAC_READ_SEARCH',
      'CAP_FOWNER',
      'CAP_FSETID',
    ]);
    expect(args).toContain(
      '--clearenv --setenv PATH /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    );
    expect(args).not.toMatch(/--(ro-)?bind \/sys|--share-net/);
    expect(spec.args.slice(-3)).toEqual(['--', 'update-initramfs', '-u']);
    expect(spec.guest?.maxProcesses).toBeGreaterThan(0);
  });
  it('a review refuses every guest program before starting it', async () => {
    const started: string[] = [];
    const runner = new ReadOnlyRunner({
      run: async (spec) => {
        started.push(spec.file);
        return { stdout: '', stderr: '', exitCode: 0 };
      },
    });
    await expect(
      runner.run(inGuest('/mnt/g', ['lsinitramfs', '/boot/initrd.img'], 'read', 'query')),
    ).rejects.toThrow(/a review runs no program of the guest/);
    expect(started).toEqual([]);
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
  it('acquires nothing once the run is interrupted, and releases what it holds', async () => {
    let signal: string | undefined;
    const cleanup = new CleanupStack(undefined, () => signal);
    const released: string[] = [];
    const take = async (name: string) => name;
    const release = (name: string) => ({ description: name, undo: async () => void released.push(name) });
    await cleanup.acquire({ kind: 'dir', path: '/x/a' }, () => take('a'), release);
    signal = 'SIGTERM';
    let taken = false;
    await expect(
      cleanup.acquire(
        { kind: 'dir', path: '/x/b' },
        async () => {
          taken = true;
          return 'b';
        },
        release,
      ),
    ).rejects.toThrow(/interrupted by SIGTERM/);
    expect(taken).toBe(false);
    expect(await cleanup.release()).toEqual([]);
    expect(released).toEqual(['a']);
  });
});

describe('mount points', () => {
  it('are recorded for recovery before they exist, so a kill at any instant leaves a trace to clean up', async () => {
    const seen: { path: string; existed: boolean }[] = [];
    const log = {
      add: (record: RecoveryRecord) => {
        if (record.kind === 'dir') seen.push({ path: record.path, existed: existsSync(record.path) });
      },
      remove: () => undefined,
    } as unknown as RecoveryLog;
    const cleanup = new CleanupStack(log);
    const dir = await makeMountPoint(cleanup, 'test');
    expect(seen).toEqual([{ path: dir, existed: false }]);
    expect(existsSync(dir)).toBe(true);
    expect(await cleanup.release()).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});
