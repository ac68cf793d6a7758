/**
 * The paths a host with device-mapper takes - kpartx, and a root on LVM activated for the run - run
 * for real inside a KVM host VM whose kernel has them (see helpers/dm-host.ts). The converted LVM
 * guest then boots on this machine, under qemu, to a login prompt.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture } from '../../fixtures/images/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { type DmHostRun, runInDmHost } from '../helpers/dm-host.js';

// Each scenario leaves NAME.rc, NAME.out, NAME.err and NAME.left (what the host still holds after
// it: device-mapper nodes, loop devices, mounts, temp dirs) in /work/out.
const SCRIPT = String.raw`
mkdir -p out
left() { { dmsetup ls | grep -v '^No devices found'; losetup -a; grep -E ' /tmp/xen2kvm|xen2kvm-' /proc/mounts; ls -d /tmp/xen2kvm-* 2>/dev/null; } >"out/$1.left"; }
scenario() { local name=$1; shift; xen2kvm "$@" >"out/$name.out" 2>"out/$name.err"; echo $? >"out/$name.rc"; left "$name"; }
sha256sum lvm.raw | cut -d' ' -f1 >out/before.sha
scenario review migrate lvm.raw --dry-run --diff-format stat
sha256sum lvm.raw | cut -d' ' -f1 >out/review.sha

# Killed (SIGKILL) with the volume group active: cleanup deactivates it before removing the maps.
/work/node /work/xen2kvm/dist/src/cli.js migrate lvm.raw --dry-run >out/killed.out 2>out/killed.err &
pid=$!
for _ in $(seq 1 1200); do grep -q 'STARTED\] Mount the guest' out/killed.err && break; sleep 0.1; done
kill -9 "$pid"; wait "$pid"
dmsetup ls >out/killed.active
scenario cleanup cleanup lvm.raw

# The host already has an active volume group of the guest's name: refused, the host's left alone.
truncate -s 64M clash.raw
loop=$(losetup -f --show clash.raw)
{ pvcreate -q "$loop" && vgcreate -q xen-guest-vg "$loop" && lvcreate -q -L 16M -n root xen-guest-vg; } >out/clash.setup 2>&1
scenario clash migrate lvm.raw --dry-run
vgchange -q -a n xen-guest-vg >/dev/null 2>&1; losetup -d "$loop"; rm clash.raw
sha256sum lvm.raw | cut -d' ' -f1 >out/clash.sha

# --root by the volume's /dev/mapper name, the way fstab writes it.
scenario named migrate lvm.raw --dry-run --root /dev/mapper/xen--guest--vg-root --json
scenario apply migrate lvm.raw --in-place --yes --json
# A second run on the converted image changes nothing.
scenario again migrate lvm.raw --dry-run --json
cp --sparse=always lvm.raw converted.raw
# Rollback reaches the journal inside the guest's root on LVM and puts every file back.
scenario rollback rollback lvm.raw
scenario undone migrate lvm.raw --dry-run --json
`;

describe('on a host with device-mapper (a KVM host VM)', () => {
  let dir: string;
  let run: DmHostRun;
  const read = (name: string) => run.read(`out/${name}`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'e2e-dm-'));
    const lvm = await ensureFixture('debian12-xen-lvm');
    run = await runInDmHost(dir, SCRIPT, { 'lvm.raw': lvm });
    process.stderr.write(
      `KVM host VM: booted, ran its conversions and powered off in ${run.seconds.toFixed(1)} s\n`,
    );
    if (run.scriptExit === undefined) {
      throw new Error(`the VM never finished its script; console tail:\n${run.console.slice(-3000)}`);
    }
  }, 30 * 60_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reviews a root on LVM through kpartx, activating the volume group read-only, and changes nothing', async () => {
    expect(await read('review.rc')).toBe('0\n');
    const err = await read('review.err');
    expect(err).toMatch(/Map partitions \(read-only\): 2 with kpartx \(device-mapper available\)/);
    expect(err).toMatch(
      /Root filesystem: logical volume xen-guest-vg\/root \(ext4\), Debian GNU\/Linux 12 \(bookworm\); LVM volume group xen-guest-vg activated \(read-only\)/,
    );
    expect(await read('review.out')).toMatch(/\/etc\/default\/grub/);
    expect(await read('review.sha')).toBe(await read('before.sha'));
    expect(await read('review.left')).toBe('');
  });

  it('deactivates the volume group a SIGKILLed run left active, with cleanup', async () => {
    expect(await read('killed.active')).toMatch(/^xen--guest--vg-root\t/m);
    expect(await read('cleanup.rc')).toBe('0\n');
    expect(await read('cleanup.out')).toMatch(/deactivated volume group xen-guest-vg \(left by pid \d+/);
    expect(await read('cleanup.left')).toBe('');
  });

  it("refuses a guest whose volume group has the name of one active on the host, leaving the host's alone", async () => {
    expect(await read('clash.setup')).not.toMatch(/fail|error/i);
    expect(await read('clash.rc')).toBe('1\n');
    expect((await read('clash.err')).trim().split('\n').pop()).toBe(
      "xen2kvm: the guest's volume group xen-guest-vg has the name of one this host already uses (/dev/mapper/xen--guest--vg-root exists); convert it on another host, or deactivate the host's xen-guest-vg first",
    );
    // Only the host's own volume and its loop device remain.
    const left = (await read('clash.left')).trim().split('\n');
    expect(left).toHaveLength(2);
    expect(left[0]).toMatch(/^xen--guest--vg-root\t/);
    expect(left[1]).toMatch(/clash\.raw/);
    expect(await read('clash.sha')).toBe(await read('before.sha'));
  });

  it('takes --root as the logical volume fstab names, and plans what the apply then did', async () => {
    expect(await read('named.rc')).toBe('0\n');
    const paths = (text: string) =>
      (JSON.parse(text) as { changes: { path: string }[] }).changes.map((c) => c.path).sort();
    const planned = paths(await read('named.out'));
    expect(planned).toContain('/etc/default/grub');
    expect(planned).toEqual(paths(await read('apply.out')));
    expect(await read('named.left')).toBe('');
  });

  it('converts it in place and leaves no volume group, map or loop device active', async () => {
    const err = await read('apply.err');
    expect(await read('apply.rc'), err).toBe('0\n');
    const report = JSON.parse(await read('apply.out')) as { status: string; commands: unknown[] };
    expect(report.status).toBe('converted');
    expect(await read('apply.left')).toBe('');
    const again = JSON.parse(await read('again.out')) as { changes: unknown[]; commands: unknown[] };
    expect(await read('again.rc')).toBe('0\n');
    expect(again.changes).toEqual([]);
    expect(again.commands).toEqual([]);
  });

  it('rolls the conversion back through the journal inside the root on LVM', async () => {
    expect(await read('rollback.rc'), await read('rollback.err')).toBe('0\n');
    expect(await read('rollback.left')).toBe('');
    const paths = (text: string) =>
      (JSON.parse(text) as { changes: { path: string }[] }).changes.map((c) => c.path).sort();
    expect(paths(await read('undone.out'))).toEqual(paths(await read('named.out')));
  });

  it(
    'boots the converted LVM guest to a login prompt on ttyS0',
    async () => {
      const image = await run.fetch('converted.raw', join(dir, 'converted.raw'));
      const consoleLog = join(dir, 'boot-console.log');
      const boot = await runCli([
        'verify',
        image,
        '--accel',
        'tcg',
        '--timeout',
        '240',
        '--console-log',
        consoleLog,
      ]);
      expect(boot.exitCode, boot.stderr).toBe(0);
      const console = readFileSync(consoleLog, 'utf8');
      expect(console).toMatch(/login:/);
      // The root the kernel mounted is the logical volume, found by the initrd's LVM.
      expect(console).toMatch(/root=\/dev\/mapper\/xen--guest--vg-root/);
    },
    10 * 60_000,
  );
});
