/**
 * The paths a host with device-mapper takes - kpartx, and a root on LVM activated for the run - run
 * for real inside a KVM host VM whose kernel has them (see helpers/dm-host.ts). The converted LVM
 * guest then boots on this machine, under qemu, to a login prompt.
 *
 * The VM runs a dozen conversions under TCG: about 30 minutes, more than the rest of the suite. It
 * runs with `npm run test:dm-host` (XEN2KVM_DM_HOST_TESTS=1), not with every `npm test`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture } from '../../fixtures/images/fixtures.js';
import { bootTimeoutSeconds, runCli } from '../helpers/cli.js';
import { type DmHostRun, runInDmHost } from '../helpers/dm-host.js';
import { paced, testDeadline } from '../helpers/machine-pace.js';

// Each scenario leaves NAME.rc, NAME.out, NAME.err and NAME.left (what the host still holds after
// it: device-mapper nodes, loop devices, mounts, temp dirs) in /work/out.
const SCRIPT = String.raw`
mkdir -p out
left() { { dmsetup ls | grep -v '^No devices found'; losetup -a; grep -E ' /tmp/xen2kvm|xen2kvm-' /proc/mounts; ls -d /tmp/xen2kvm-* 2>/dev/null; ls /sys/block/nbd*/pid 2>/dev/null; } >"out/$1.left"; }
scenario() {
  local name=$1 start; shift; start=$(date +%s.%N)
  xen2kvm "$@" >"out/$name.out" 2>"out/$name.err"; echo $? >"out/$name.rc"
  awk -v n="$name" -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { printf "%s %.1f\n", n, a - b }' >>out/times
  left "$name"
}
sha256sum lvm.raw | cut -d' ' -f1 >out/before.sha
scenario review migrate lvm.raw --dry-run --diff-format stat
sha256sum lvm.raw | cut -d' ' -f1 >out/review.sha

# Killed (SIGKILL) with the volume group active: cleanup deactivates it before removing the maps.
/work/node /work/xen2kvm/dist/bin/xen2kvm.js migrate lvm.raw --dry-run >out/killed.out 2>out/killed.err &
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

# /boot inside LVM (made here from a copy: swap_1 becomes an ext2 that fstab mounts on /boot).
cp --sparse=always lvm.raw bootlv.raw
loop=$(losetup -f --show bootlv.raw)
{
  kpartx -a "$loop" && udevadm settle && vgchange -q -a y xen-guest-vg && udevadm settle &&
    mkfs.ext2 -q /dev/mapper/xen--guest--vg-swap_1 && mkdir -p /mnt/r &&
    mount /dev/mapper/xen--guest--vg-root /mnt/r &&
    sed -i -e '/ \/boot /d' -e 's|^/dev/mapper/xen--guest--vg-swap_1 .*|/dev/mapper/xen--guest--vg-swap_1 /boot ext2 defaults 0 2|' /mnt/r/etc/fstab &&
    umount /mnt/r && vgchange -q -a n xen-guest-vg && kpartx -d "$loop"
} >out/bootlv.setup 2>&1
losetup -d "$loop"
scenario bootlv migrate bootlv.raw --dry-run
rm bootlv.raw

# --root by the volume's /dev/mapper name, the way fstab writes it.
scenario named migrate lvm.raw --dry-run --root /dev/mapper/xen--guest--vg-root --json
scenario apply migrate lvm.raw --in-place --yes --json
# A second run on the converted image changes nothing.
scenario again migrate lvm.raw --dry-run --json
cp --sparse=always lvm.raw converted.raw
# Rollback reaches the journal inside the guest's root on LVM and puts every file back.
scenario rollback rollback lvm.raw
scenario undone migrate lvm.raw --dry-run --json

# qcow2 through qemu-nbd: the operator has loaded the module.
modprobe nbd max_part=0
sha256sum pv.qcow2 | cut -d' ' -f1 >out/qcow2-before.sha
scenario nbd-review migrate pv.qcow2 --dry-run --json
scenario nbd-qcow2 migrate pv.qcow2 --output out.qcow2 --output-format qcow2 --yes --json
qemu-img info --output=json out.qcow2 >out/nbd-qcow2.info
scenario nbd-again migrate out.qcow2 --dry-run --json
scenario nbd-raw migrate pv.qcow2 --output out.raw --yes --json
sha256sum pv.qcow2 | cut -d' ' -f1 >out/qcow2-after.sha
qemu-img convert -O raw out.qcow2 nbd-qcow2.raw
`;

describe.skipIf(!process.env.XEN2KVM_DM_HOST_TESTS)('on a host with device-mapper (a KVM host VM)', () => {
  let dir: string;
  let run: DmHostRun;
  const read = (name: string) => run.read(`out/${name}`);
  /** Fetches an image the VM converted and boots it here with `verify`; returns its console. */
  const bootToLogin = async (name: string) => {
    const image = await run.fetch(name, join(dir, name));
    const consoleLog = join(dir, `${name}.console.log`);
    const boot = await runCli([
      'verify',
      image,
      '--accel',
      'tcg',
      '--timeout',
      String(bootTimeoutSeconds()),
      '--console-log',
      consoleLog,
    ]);
    expect(boot.exitCode, boot.stderr).toBe(0);
    return readFileSync(consoleLog, 'utf8');
  };

  beforeAll(
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'e2e-dm-'));
      const lvm = await ensureFixture('debian12-xen-lvm');
      const qcow2 = join(dir, 'pv.qcow2');
      await execa('qemu-img', ['convert', '-O', 'qcow2', await ensureFixture('debian12-xen-pv'), qcow2]);
      run = await runInDmHost(dir, SCRIPT, { 'lvm.raw': lvm, 'pv.qcow2': qcow2 });
      const times = (await run.read('out/times').catch(() => ''))
        .trim()
        .split('\n')
        .map((line) => line.split(' '))
        .map(([name, secs]) => `${name} ${secs} s`)
        .join(', ');
      process.stderr.write(
        `KVM host VM (TCG): ${run.seconds.toFixed(1)} s from boot to power-off; each xen2kvm run: ${times}\n`,
      );
      if (run.scriptExit === undefined) {
        throw new Error(`the VM never finished its script; console tail:\n${run.console.slice(-3000)}`);
      }
    },
    paced(36 * 60) * 1000,
  );

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

  it('refuses a guest whose /boot is a logical volume, leaving nothing behind', async () => {
    expect(await read('bootlv.setup')).not.toMatch(/fail|error|warning/i);
    expect(await read('bootlv.rc')).toBe('1\n');
    expect((await read('bootlv.err')).trim().split('\n').pop()).toBe(
      'xen2kvm: bootlv.raw: /boot is on the logical volume xen-guest-vg/swap_1; xen2kvm converts guests on LVM whose /boot is a partition of its own',
    );
    expect(await read('bootlv.left')).toBe('');
  });

  it('takes --root as the logical volume fstab names, and plans what the apply then did', async () => {
    expect(await read('named.rc')).toBe('0\n');
    const paths = (text: string) =>
      (JSON.parse(text) as { changes: { path: string }[] }).changes.map((c) => c.path).sort();
    const planned = paths(await read('named.out'));
    expect(planned).toContain('/etc/default/grub');
    // The guest's LVM filter accepted only xvd disks: without this change the root is never found.
    expect(planned).toContain('/etc/lvm/lvm.conf');
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
      const console = await bootToLogin('converted.raw');
      expect(console).toMatch(/login:/);
      // The root the kernel mounted is the logical volume, found by the initrd's LVM.
      expect(console).toMatch(/root=\/dev\/mapper\/xen--guest--vg-root/);
    },
    testDeadline(10 * 60),
  );

  it('reviews a qcow2 image through qemu-nbd, read-only, with no raw copy', async () => {
    expect(await read('nbd-review.rc'), await read('nbd-review.err')).toBe('0\n');
    const err = await read('nbd-review.err');
    expect(err).toMatch(
      /Attached the qcow2 image read-only on \/dev\/nbd\d+ with qemu-nbd \(nbd module loaded\)/,
    );
    expect(err).toMatch(/Map partitions \(read-only\): 2 with kpartx/);
    expect(err).not.toMatch(/raw working copy/);
    expect(await read('nbd-review.left')).toBe('');
  });

  it('converts it into a qcow2 overlay backed by the untouched source, and into raw', async () => {
    expect(await read('nbd-qcow2.rc'), await read('nbd-qcow2.err')).toBe('0\n');
    expect(await read('nbd-qcow2.err')).toMatch(
      /Write the conversion into a qcow2 overlay served by qemu-nbd/,
    );
    expect(await read('nbd-qcow2.left')).toBe('');
    const info = JSON.parse(await read('nbd-qcow2.info')) as { format: string; 'backing-filename'?: string };
    expect(info.format).toBe('qcow2');
    expect(info['backing-filename']).toBe('/work/pv.qcow2');
    // Read back through nbd, the overlay holds a finished conversion: a second run has nothing to do.
    const again = JSON.parse(await read('nbd-again.out')) as { changes: unknown[]; commands: unknown[] };
    expect(again.changes).toEqual([]);
    expect(again.commands).toEqual([]);
    expect(await read('nbd-raw.rc'), await read('nbd-raw.err')).toBe('0\n');
    expect(await read('nbd-raw.left')).toBe('');
    expect(await read('qcow2-after.sha')).toBe(await read('qcow2-before.sha'));
  });

  it(
    'boots the guest converted through qemu-nbd to a login prompt on ttyS0',
    async () => {
      expect(await bootToLogin('nbd-qcow2.raw')).toMatch(/login:/);
    },
    testDeadline(10 * 60),
  );
});
