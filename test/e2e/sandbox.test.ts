/**
 * A hostile guest gets nothing: its own code (an initramfs-tools hook, run by update-initramfs
 * during the apply) tries every way out of the sandbox at once, each aimed at a canary this test
 * owns on the host; others eat memory, fork without end and never return. Every canary must stay
 * untouched, every attempt must be seen denied in the guest's own log (so the hook provably ran),
 * and each conversion must succeed, or fail in one line leaving nothing behind.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture, workingCopy } from '../../fixtures/images/fixtures.js';
import { CLI, runCli } from '../helpers/cli.js';
import { editGuest, readFromPartition } from '../helpers/guest-tree.js';
import { contentDigest, leftovers, NOTHING_LEFT } from '../helpers/host-state.js';

const SECRET = `x2k-secret-${process.pid}-${Date.now()}`;
const ORPHAN = '86399.123';
let dir: string;
let canaryDir: string;
let hostDisk: string;
let hostLoop: string;
let listener: Server;
let port: number;
let connections = 0;
let hostProcess: ReturnType<typeof spawn>;
let readAhead: string;

/** What the host looks like to the attacks: files, a block device, a process, a listener, sysfs. */
async function hostCanaries() {
  const minor = hostLoop.replace('/dev/loop', '');
  return {
    canaryFile: await contentDigest(join(canaryDir, 'canary')),
    canaryDirEntries: readdirSync(canaryDir).sort(),
    canaryDirMode: statSync(canaryDir).mode,
    hostDisk: await contentDigest(hostDisk),
    readAhead: readFileSync(`/sys/block/loop${minor}/queue/read_ahead_kb`, 'utf8'),
    modules: existsSync('/proc/modules') ? readFileSync('/proc/modules', 'utf8') : 'no modules',
    hostname: hostname(),
    hostProcessAlive: hostProcess.exitCode === null && hostProcess.signalCode === null,
    connections,
  };
}

/** Processes anywhere on the host whose command line holds `marker`. */
function processesWith(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(marker)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const HOOK_HEAD = `#!/bin/bash
# An initramfs-tools hook, as a hostile guest would ship it.
[ "$1" = prereqs ] && { echo; exit 0; }
. /etc/hostile.conf
log=/var/log/hostile.log
try() { local name=$1; shift; if ( "$@" ) >>/var/log/hostile.out 2>&1; then echo "$name: SUCCEEDED" >>$log; else echo "$name: denied" >>$log; fi; }
`;

const ESCAPES = `${HOOK_HEAD}
try chroot-escape perl -e 'mkdir "/tmp/e"; chroot "/tmp/e" or die; chdir ".." for 1..64; chroot "." or die; open(F, ">>", "$ENV{CANARY_DIR}/canary") or die; print F "pwned\\n"; close F or die'
try proc-root sh -c 'for p in /proc/[0-9]*; do echo pwned >>"$p/root$CANARY_DIR/canary" 2>/dev/null && exit 0; done; exit 1'
try mknod-host-loop sh -c 'mknod /tmp/hostloop b 7 $LOOP_MINOR && head -c 4096 /tmp/hostloop >>/var/log/hostile.read && echo pwned | dd of=/tmp/hostloop conv=notrunc'
try open-host-loop sh -c 'head -c 4096 /dev/loop$LOOP_MINOR >>/var/log/hostile.read'
try loopback-network bash -c 'exec 3<>/dev/tcp/127.0.0.1/$PORT && echo pwned >&3'
try see-host-process sh -c 'kill -0 $HOST_PID'
try kill-host-process sh -c 'kill -9 $HOST_PID'
try read-host-environ sh -c 'cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n" | grep X2K_SECRET >>/var/log/hostile.read'
try ptrace perl -e 'exit(syscall(101, 16, $ENV{HOST_PID} + 0, 0, 0) == 0 ? 0 : 1)'
try write-sys sh -c 'echo 4096 >/sys/block/loop$LOOP_MINOR/queue/read_ahead_kb'
try load-module sh -c 'modprobe dummy || insmod $(find /lib/modules -name "dummy.ko*" | head -1)'
try set-hostname hostname pwned-by-guest
try write-canary-by-path sh -c 'echo pwned >>$CANARY_DIR/canary'
# An orphan that should outlive the run, if it could.
( exec sleep ${ORPHAN} ) </dev/null >/dev/null 2>&1 &
echo "hook ran to the end" >>$log
exit 0
`;

const ATTACKS = [
  'chroot-escape',
  'proc-root',
  'mknod-host-loop',
  'open-host-loop',
  'loopback-network',
  'see-host-process',
  'kill-host-process',
  'read-host-environ',
  'ptrace',
  'write-sys',
  'load-module',
  'set-hostname',
  'write-canary-by-path',
];

async function hostileGuest(name: string, hook: string): Promise<string> {
  const image = await workingCopy('debian12-xen-pv', join(dir, `${name}.raw`));
  await editGuest(image, (root) => {
    writeFileSync(
      join(root, 'etc/hostile.conf'),
      [
        `CANARY_DIR=${canaryDir}`,
        `LOOP_MINOR=${hostLoop.replace('/dev/loop', '')}`,
        `PORT=${port}`,
        `HOST_PID=${hostProcess.pid}`,
        'export CANARY_DIR LOOP_MINOR PORT HOST_PID',
        '',
      ].join('\n'),
    );
    const hooks = join(root, 'etc/initramfs-tools/hooks');
    mkdirSync(hooks, { recursive: true });
    writeFileSync(join(hooks, 'zz-hostile'), hook);
    chmodSync(join(hooks, 'zz-hostile'), 0o755);
  });
  return image;
}

let before: Awaited<ReturnType<typeof hostCanaries>>;

beforeAll(async () => {
  // Built here, under the hook's time limit, not by the first test that needs it.
  await ensureFixture('debian12-xen-pv');
  dir = mkdtempSync(join(tmpdir(), 'e2e-sandbox-'));
  canaryDir = mkdtempSync('/var/tmp/x2k-canary-');
  writeFileSync(join(canaryDir, 'canary'), `host data that must never change ${SECRET}\n`);
  hostDisk = join(dir, 'host-disk.img');
  writeFileSync(hostDisk, Buffer.concat([Buffer.from(`${SECRET}\n`), Buffer.alloc(1024 * 1024)]));
  hostLoop = (await execa('losetup', ['-f', '--show', hostDisk])).stdout.trim();
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as { port: number }).port;
  // Lives until afterAll kills it: under load this file runs longer than any fixed sleep would.
  hostProcess = spawn('sleep', ['infinity'], {
    env: { ...process.env, X2K_SECRET: SECRET },
    stdio: 'ignore',
  });
  readAhead = readFileSync(`/sys/block/${hostLoop.replace('/dev/', '')}/queue/read_ahead_kb`, 'utf8');
  before = await hostCanaries();
});

afterAll(async () => {
  hostProcess?.kill('SIGKILL');
  listener?.close();
  if (hostLoop) await execa('losetup', ['-d', hostLoop], { reject: false });
  rmSync(dir, { recursive: true, force: true });
  rmSync(canaryDir, { recursive: true, force: true });
});

describe('guest code runs confined to its sandbox', () => {
  it('every escape a hook tries is denied, every host canary stays untouched, and the conversion succeeds', async () => {
    const image = await hostileGuest('escapes', ESCAPES);
    const run = await runCli(['migrate', '--yes', '--in-place', image]);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.exitCode).toBe(0);
    expect(await hostCanaries()).toEqual(before);
    expect(readAhead).toBe(before.readAhead);
    // The orphan the hook left died with the sandbox.
    expect(processesWith(`sleep ${ORPHAN}`)).toEqual([]);
    const [log, read] = await readFromPartition(image, 2, ['/var/log/hostile.log', '/var/log/hostile.read']);
    // The hook ran, tried each attack, and every one failed.
    expect(log).toContain('hook ran to the end');
    for (const attack of ATTACKS) expect(log).toContain(`${attack}: denied`);
    expect(log).not.toContain('SUCCEEDED');
    expect(read ?? '').not.toContain(SECRET);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });

  it('a guest command that eats memory is killed at the cap and the run fails in one line', async () => {
    const image = await hostileGuest(
      'memory',
      `${HOOK_HEAD}\nhead -c 1200M /dev/zero | tail -c 1100M >/dev/null || exit 1\n`,
    );
    const source = await contentDigest(image);
    const output = join(dir, 'memory-kvm.raw');
    const run = await runCli(['migrate', '--yes', '--output', output, image], {
      env: { XEN2KVM_GUEST_MEMORY_MIB: '256' },
    });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr.trim().split('\n').pop()).toMatch(
      /^xen2kvm: .*update-initramfs .*ran out of its memory cap \(256 MiB\) and was killed/,
    );
    expect(await contentDigest(image)).toBe(source);
    expect(existsSync(output)).toBe(false);
    expect(await hostCanaries()).toEqual(before);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });

  it('a fork bomb is held by the process cap, and a command that never returns is killed with all it started', async () => {
    const image = await hostileGuest(
      'forkbomb',
      `${HOOK_HEAD}\ncat >/usr/local/bin/x2kbomb <<'B'\n#!/bin/bash\nwhile :; do /usr/local/bin/x2kbomb & done\nB\nchmod +x /usr/local/bin/x2kbomb\n/usr/local/bin/x2kbomb &\nexec sleep ${ORPHAN}\n`,
    );
    const output = join(dir, 'forkbomb-kvm.raw');
    const run = await runCli(['migrate', '--yes', '--output', output, image], {
      env: { XEN2KVM_GUEST_PROCESSES: '64', XEN2KVM_GUEST_TIMEOUT: '20' },
    });
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n').pop()).toMatch(
      /^xen2kvm: .*update-initramfs .*timed out after 20 s/,
    );
    expect(processesWith('x2kbomb')).toEqual([]);
    expect(processesWith(`sleep ${ORPHAN}`)).toEqual([]);
    expect(existsSync(output)).toBe(false);
    expect(await hostCanaries()).toEqual(before);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });
});

/**
 * --isolation vm: the same hostile guests, their commands run in the appliance VM. Inside it the
 * guest's code is root of a machine of its own (some of the attacks "work" there, on the VM's own
 * kernel, disk and network-less loopback), so what is judged is the host: every canary untouched,
 * no process of the run left on the host, and the conversion's result.
 */
describe('guest code runs in a throwaway VM with --isolation vm', () => {
  const applianceProcesses = () => processesWith('xen2kvm-appliance-');

  it('the plan says the commands run in a VM; every escape reaches nothing of the host; the result is a finished conversion', async () => {
    const image = await hostileGuest('vm-escapes', ESCAPES);
    const dry = await runCli(['migrate', '--dry-run', '--isolation', 'vm', image]);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toMatch(
      /^# guest commands run in a throwaway qemu VM, one boot for all of them: kernel \S+ of this host's/m,
    );
    // auto: where /dev/kvm is there but hangs (this machine), the appliance falls back to TCG and says so.
    const run = await runCli(['migrate', '--yes', '--in-place', '--isolation', 'vm', image]);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/appliance VM: 3 command\(s\) in [\d.]+ s \((KVM|TCG), kernel \S+\)/);
    expect(await hostCanaries()).toEqual(before);
    expect(processesWith(`sleep ${ORPHAN}`)).toEqual([]);
    expect(applianceProcesses()).toEqual([]);
    const [log, read] = await readFromPartition(image, 2, ['/var/log/hostile.log', '/var/log/hostile.read']);
    expect(log).toContain('hook ran to the end');
    for (const attack of ATTACKS) expect(log).toMatch(new RegExp(`^${attack}: (denied|SUCCEEDED)$`, 'm'));
    expect(read ?? '').not.toContain(SECRET);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
    // The same plan as the sandbox's, carried out whole: a second review finds nothing left to do.
    const again = await runCli(['migrate', '--dry-run', image]);
    expect(again.stdout).toContain('# 0 file change(s) in the guest');
    expect(again.stdout).toContain('# 0 command(s) to run inside the guest');
  });

  it("a guest command that eats memory meets the VM's own size: the VM's kernel kills it, and nothing of the host's is touched", async () => {
    // The VM is the memory cap (XEN2KVM_GUEST_MEMORY_MIB sizes it). The eater is killed by the
    // VM's out-of-memory killer; the hook then ends well, so the conversion itself succeeds.
    const image = await hostileGuest(
      'vm-memory',
      `${HOOK_HEAD}\nperl -e 'my @a; push @a, "a" x (16 << 20) while 1'\necho "eater ended: $?" >>/var/log/hostile.log\nexit 0\n`,
    );
    const run = await runCli(
      ['migrate', '--yes', '--in-place', '--isolation', 'vm', '--accel', 'tcg', image],
      {
        env: { XEN2KVM_GUEST_MEMORY_MIB: '256' },
      },
    );
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.exitCode, run.stderr).toBe(0);
    // The VM's console, kept beside the image: its kernel, not the host's, killed the eater.
    expect(readFileSync(join(dir, 'vm-memory.appliance.log'), 'utf8')).toMatch(
      /Out of memory: Killed process \d+ \(perl\)/,
    );
    const [log] = await readFromPartition(image, 2, ['/var/log/hostile.log']);
    expect(log).toContain('eater ended: 137');
    expect(await hostCanaries()).toEqual(before);
    expect(applianceProcesses()).toEqual([]);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });

  it('a fork bomb and a command that never returns are killed at the limit inside the VM; the run fails in one line', async () => {
    const image = await hostileGuest(
      'vm-forkbomb',
      `${HOOK_HEAD}\ncat >/usr/local/bin/x2kbomb <<'B'\n#!/bin/bash\nwhile :; do /usr/local/bin/x2kbomb & done\nB\nchmod +x /usr/local/bin/x2kbomb\n/usr/local/bin/x2kbomb &\nexec sleep ${ORPHAN}\n`,
    );
    const source = await contentDigest(image);
    const output = join(dir, 'vm-forkbomb-kvm.raw');
    const run = await runCli(
      ['migrate', '--yes', '--isolation', 'vm', '--accel', 'tcg', '--output', output, image],
      {
        env: { XEN2KVM_GUEST_TIMEOUT: '20' },
      },
    );
    expect(run.exitCode).toBe(1);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr.trim().split('\n').pop()).toMatch(
      /^xen2kvm: update-initramfs .*\(in the appliance VM\): timed out after 20 s/,
    );
    expect(await contentDigest(image)).toBe(source);
    expect(existsSync(output)).toBe(false);
    expect(applianceProcesses()).toEqual([]);
    expect(await hostCanaries()).toEqual(before);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });

  it('SIGKILL of xen2kvm while the VM runs takes the VM down with it; cleanup and rollback restore the guest', async () => {
    const image = await hostileGuest('vm-killed', `${HOOK_HEAD}\nexit 0\n`);
    const [original] = await readFromPartition(image, 2, ['/etc/fstab']);
    const child = execa(
      'node',
      [CLI, 'migrate', '--yes', '--in-place', '--isolation', 'vm', '--accel', 'tcg', image],
      {
        reject: false,
        stdin: 'ignore',
      },
    );
    // Killed once the VM is really running, with the guest's filesystems unmounted from the host.
    let seen = false;
    for (let i = 0; i < 600 && !seen && child.exitCode === null; i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = applianceProcesses().length > 0;
    }
    expect(seen, 'the appliance VM never started').toBe(true);
    child.kill('SIGKILL');
    await child;
    // setpriv --pdeathsig: qemu dies with its parent; give the kernel a moment to reap it.
    for (let i = 0; i < 50 && applianceProcesses().length > 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(applianceProcesses()).toEqual([]);
    const cleanup = await runCli(['cleanup', image]);
    expect(cleanup.exitCode).toBe(0);
    expect(cleanup.stdout + cleanup.stderr).toMatch(
      /removed \S+xen2kvm-appliance-\d+-\w+ \(the files of a dead run's appliance VM\)/,
    );
    expect((await runCli(['rollback', image])).exitCode).toBe(0);
    expect(await readFromPartition(image, 2, ['/etc/fstab'])).toEqual([original]);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });
});
