/**
 * The rpm families' paths run for real: guests shaped like SLES 11 and CentOS 6 (their files, their
 * boot loader GRUB legacy 0.97, an rpm database of their kernels) on a Debian userland whose rpm,
 * dracut, GRUB legacy and sysvinit are the real tools (fixtures/images/lib/rpm-guest.sh). Each is
 * converted, then booted from its own MBR under qemu: a login on ttyS0 and eth0's address, which the
 * login banner prints, show that GRUB legacy, the kernel, the rebuilt initrd and the network came up.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture, workingCopy } from '../../fixtures/images/fixtures.js';
import { bootCheckArgs, runCli } from '../helpers/cli.js';
import { guestFingerprint, readFromPartition } from '../helpers/guest-tree.js';
import { leftovers, NOTHING_LEFT } from '../helpers/host-state.js';
import { testDeadline } from '../helpers/machine-pace.js';

// A conversion and a TCG boot: about 3 minutes on an idle machine; stretched on a busy one.
// A boot may first wait for the TCG boot slot: another file's boot, or the saturated fault run.
const BOOT_TEST_TIMEOUT = testDeadline(12 * 60);

/** What the guests' login banner prints once eth0 has the address qemu's user network hands out. */
const ETH0_UP = /^eth0: 10\.0\.2\.15\s*$/m;

/**
 * Converts `image` in place with a boot check, and checks what every rpm guest's boot shows: the
 * kernel `version` started, sysvinit ran, eth0 got its address and a login came on ttyS0.
 */
async function convertAndBoot(image: string, version: string, extra: string[]): Promise<void> {
  const log = `${image}.console.log`;
  const run = await runCli(['migrate', image, '--in-place', '--yes', ...extra, ...bootCheckArgs(log)]);
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(run.stdout).toMatch(/boot check passed: xen-guest login:/);
  expect(run.exitCode).toBe(0);
  const console = readFileSync(log, 'utf8');
  expect(console).toContain(`Linux version ${version} `);
  expect(console).toMatch(/INIT: version/);
  expect(console).toMatch(ETH0_UP);
  expect(await leftovers(image)).toEqual(NOTHING_LEFT);
}

/** The dry-run's plan for `image`, and the kernel it says the guest will boot. */
async function review(image: string, extra: string[]): Promise<{ plan: string; version: string }> {
  const dry = await runCli(['migrate', image, '--dry-run', ...extra]);
  expect(dry.stderr).not.toMatch(/^\s+at /m);
  expect(dry.exitCode).toBe(0);
  const version = /^# boots by default: (6\.1\.0-\d+-amd64)$/m.exec(dry.stdout)?.[1] ?? '';
  expect(version).not.toBe('');
  return { plan: dry.stdout, version };
}

let dir: string;
let kernelRpm: string;
beforeAll(async () => {
  // Built here, under the hook's time limit, not by the first test that needs them.
  kernelRpm = await ensureFixture('kernel-default-rpm');
  await ensureFixture('sles11-grub-legacy');
  await ensureFixture('rhel6-grub-legacy');
  dir = mkdtempSync(join(tmpdir(), 'e2e-rpm-guests-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a SLES 11-shaped guest with only a Xen kernel', () => {
  it(
    'gets kernel-default installed by its own rpm -Uhv, GRUB legacy set up in its MBR, boots to a login on ttyS0 with eth0 up, and rollback undoes it all',
    async () => {
      const image = await workingCopy('sles11-grub-legacy', join(dir, 'sles.raw'));
      const original = await guestFingerprint(image);

      const { plan, version } = await review(image, ['--kernel-package', kernelRpm]);
      // The vmlinuz-xen link is not listed as a kernel called "xen".
      expect(plan).toMatch(/^# kernels: 6\.1\.0-\d+-xen \(Xen only\)$/m);
      expect(plan).toMatch(/^rpm -Uhv \/var\/lib\/xen2kvm\/tmp\/packages\/kernel-default\.rpm$/m);
      expect(plan).toMatch(/^grub --batch --no-floppy --device-map=\/dev\/null$/m);
      expect(plan).toContain('+add_drivers+=" virtio virtio_ring virtio_pci virtio_blk virtio_net ext4 "');
      // The xvc0 getty goes; the inittab's own ttyS0 line comes back, at the console's speed.
      expect(plan).toContain('+#S0:12345:respawn:/sbin/agetty -L 9600 xvc0 vt102');
      expect(plan).toContain('+T0:23:respawn:/sbin/getty -L ttyS0 115200 vt100');
      expect(plan).toContain('+#gfxmenu (hd0,1)/boot/message');
      expect(plan).toContain('+INITRD_MODULES="ext3 virtio_blk virtio virtio_pci"');
      // The new entry is titled after its kernel, without the Xen entry's "(xen)".
      expect(plan).toContain(`+title SUSE Linux Enterprise Server 11 SP4 - ${version}\n`);
      expect(plan).toContain(`+    kernel /boot/vmlinuz-${version} root=/dev/vda2`);

      await convertAndBoot(image, version, ['--kernel-package', kernelRpm]);

      // menu.lst boots the new entry, first, and keeps one YaST identifier: the Xen entry's.
      const [menu = ''] = await readFromPartition(image, 2, ['/boot/grub/menu.lst']);
      expect(menu.match(/YaST2 identifier/g)).toHaveLength(1);
      expect(menu).toMatch(/^default 0$/m);
      expect(menu.match(/^title .*$/gm)?.[0]).toBe(`title SUSE Linux Enterprise Server 11 SP4 - ${version}`);

      const rollback = await runCli(['rollback', image]);
      expect(rollback.exitCode).toBe(0);
      expect(await guestFingerprint(image)).toEqual(original);
    },
    BOOT_TEST_TIMEOUT,
  );
});

describe('a CentOS 6-shaped guest whose default is kernel-xen', () => {
  it(
    'boots its other kernel from grub.conf after GRUB legacy setup, the Xen MAC unpinned (ifcfg HWADDR, udev rule) and DEFAULTKERNEL moved: a login on ttyS0 with eth0 up',
    async () => {
      const image = await workingCopy('rhel6-grub-legacy', join(dir, 'centos.raw'));
      const { plan, version } = await review(image, []);
      expect(plan).toMatch(/^# kernels: 6\.1\.0-\d+-amd64, 6\.1\.0-\d+\.el6xen\.x86_64 \(Xen only\)$/m);
      // In anaconda's spelling, in place.
      expect(plan).toMatch(/^-default=0\n\+default=1$/m);
      expect(plan).toContain('+#co:2345:respawn:/sbin/agetty hvc0 9600 vt100-nav');
      expect(plan).toContain(`+\tkernel /boot/vmlinuz-${version} ro root=/dev/vda2`);
      expect(plan).toContain('+DEFAULTKERNEL=kernel\n');
      expect(plan).toContain('+#HWADDR=00:16:3E:6B:22:05');
      expect(plan).toMatch(/^\+#SUBSYSTEM=="net".*ATTR\{address\}=="00:16:3e:6b:22:05".*NAME="eth0"$/m);
      expect(plan).toMatch(
        new RegExp(
          `^dracut --force --add-drivers '[^']*virtio_blk[^']*' /boot/initramfs-${version}\\.img ${version}$`,
          'm',
        ),
      );
      expect(plan).toMatch(/^grub --batch --no-floppy --device-map=\/dev\/null$/m);

      await convertAndBoot(image, version, []);
    },
    BOOT_TEST_TIMEOUT,
  );
});
