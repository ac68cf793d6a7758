/**
 * Every family. SUSE, Red Hat and Ubuntu guests as their installers set them up for Xen: the recipes
 * under fixtures/images carry those distributions' real configuration files (their userland cannot
 * be installed here), so the whole plan - every diff, every command, the XML - is checked against a
 * golden copy (test/golden/NAME.plan, which test/unit/golden-plans.test.ts also checks over the
 * recipes' trees without root; `npm run golden` rewrites them after a deliberate change). Debian guests on dracut and on sysvinit, whose userland is real, are converted and booted. (test/e2e/rpm-guests.test.ts runs the SUSE and Red Hat tools themselves, on guests shaped like theirs.)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture, workingCopy } from '../../fixtures/images/fixtures.js';
import { bootCheckArgs, runCli } from '../helpers/cli.js';
import { expectGolden, type GoldenFixture, normalizePlan } from '../helpers/golden-plan.js';
import { contentDigest, leftovers, NOTHING_LEFT } from '../helpers/host-state.js';
import { testDeadline } from '../helpers/machine-pace.js';

// A conversion and a TCG boot: about 3 minutes on an idle machine; stretched on a busy one.
// A boot may first wait for the TCG boot slot: another file's boot, or the saturated fault run.
const BOOT_TEST_TIMEOUT = testDeadline(12 * 60);

let dir: string;
beforeAll(async () => {
  // Built here, under the hook's time limit, not by the first test that needs them.
  await ensureFixture('debian12-xen-dracut');
  await ensureFixture('debian12-xen-sysvinit');
  dir = mkdtempSync(join(tmpdir(), 'e2e-families-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const guests: { fixture: GoldenFixture; expect: (plan: string) => void }[] = [
  {
    fixture: 'sles11-xen',
    expect: (plan) => {
      expect(plan).toContain('# boots by default: 3.0.101-63-default');
      expect(plan).toMatch(/^-default 0\n\+default 1$/m);
      expect(plan).toContain(
        "mkinitrd -k /boot/vmlinuz-3.0.101-63-default -i /boot/initrd-3.0.101-63-default -m 'virtio virtio_ring virtio_pci virtio_blk virtio_net ext3'",
      );
      expect(plan).toContain('+S0:12345:respawn:/sbin/agetty -L 115200 ttyS0 vt102');
    },
  },
  {
    fixture: 'rhel5-xen',
    expect: (plan) => {
      expect(plan).toContain('+title CentOS (2.6.18-398.el5)');
      expect(plan).toContain('+DEFAULTKERNEL=kernel');
      expect(plan).toContain('+++ b/.autorelabel');
      expect(plan).toMatch(
        /^mkinitrd -f (--with=\S+ )+\/boot\/initrd-2\.6\.18-398\.el5\.img 2\.6\.18-398\.el5$/m,
      );
      expect(plan).toContain('#   input: root (hd0,1)');
    },
  },
  {
    fixture: 'rhel6-xen',
    expect: (plan) => {
      expect(plan).toMatch(
        /^dracut --force --add-drivers '[^']*virtio_blk[^']*' \/boot\/initramfs-2\.6\.32-754\.el6\.x86_64\.img/m,
      );
      expect(plan).toContain('+#HWADDR=00:16:3E:6C:19:D2');
      expect(plan).toContain('+alias scsi_hostadapter virtio_blk');
    },
  },
  {
    fixture: 'centos7-xen',
    expect: (plan) => {
      expect(plan).toContain(
        '+\tlinux16 /boot/vmlinuz-3.10.0-1160.el7.x86_64 root=/dev/vda2 ro crashkernel=auto console=ttyS0,115200',
      );
      expect(plan).toMatch(/^grub2-install --target=i386-pc '--modules=part_msdos ext2' \/dev\/loopN$/m);
      expect(plan).toContain('+#HWADDR=00:16:3e:4d:07:b9');
    },
  },
  {
    fixture: 'ubuntu1404-xen',
    expect: (plan) => {
      expect(plan).toContain('+++ b/etc/init/ttyS0.conf');
      expect(plan).toContain('+exec /sbin/getty -8 115200 ttyS0');
      expect(plan).toMatch(/^update-initramfs -u -k 3\.13\.0-170-generic$/m);
    },
  },
];

describe("guests of every family, planned from their installers' own configuration files", () => {
  for (const guest of guests) {
    it(`${guest.fixture}: the whole plan matches the golden copy, and the image is untouched`, async () => {
      const image = await workingCopy(guest.fixture, join(dir, `${guest.fixture}.raw`));
      const before = await contentDigest(image);
      // The golden XML asks for kvm whatever this host's /dev/kvm says (auto would follow it).
      const run = await runCli(['migrate', '--dry-run', '--domain-type', 'kvm', image]);
      expect(run.stderr).not.toMatch(/^\s+at /m);
      expect(run.exitCode, run.stderr).toBe(0);
      const plan = normalizePlan(run.stdout, dir);
      guest.expect(plan);
      expectGolden(guest.fixture, plan);
      expect(await contentDigest(image)).toBe(before);
      expect(await leftovers(image)).toEqual(NOTHING_LEFT);
    });
  }
});

describe('Debian guests on dracut and on sysvinit, converted and booted', () => {
  it(
    'dracut: the initrd is rebuilt by dracut with the virtio drivers, and the guest boots to a login on ttyS0',
    async () => {
      const image = await workingCopy('debian12-xen-dracut', join(dir, 'dracut.raw'));
      const run = await runCli([
        'migrate',
        image,
        '--in-place',
        '--yes',
        ...bootCheckArgs(join(dir, 'dracut.console.log')),
      ]);
      expect(run.stderr).not.toMatch(/^\s+at /m);
      expect(run.stderr).toMatch(
        /Run in guest: dracut --force --add-drivers virtio virtio_ring virtio_pci virtio_blk virtio_net ext4 \/boot\/initrd\.img-\S+/,
      );
      expect(run.stdout).toMatch(/boot check passed: xen-guest login:/);
      expect(run.exitCode).toBe(0);
      expect(await leftovers(image)).toEqual(NOTHING_LEFT);
    },
    BOOT_TEST_TIMEOUT,
  );

  it(
    // This guest's commands run with --isolation vm: the one boot shows both that a sysvinit guest
    // converts and that what the appliance VM did boots (the other boots cover the sandbox).
    'sysvinit, converted with --isolation vm: the hvc0 getty in inittab moves to ttyS0, and the guest boots to a login there',
    async () => {
      const image = await workingCopy('debian12-xen-sysvinit', join(dir, 'sysvinit.raw'));
      const dry = await runCli(['migrate', image, '--dry-run']);
      expect(dry.stdout).toContain('-hvc0:2345:respawn:/sbin/getty 38400 hvc0');
      expect(dry.stdout).toContain('+#hvc0:2345:respawn:/sbin/getty 38400 hvc0');
      expect(dry.stdout).toContain('+T0:23:respawn:/sbin/getty -L ttyS0 115200 vt100');
      const run = await runCli([
        'migrate',
        image,
        '--in-place',
        '--yes',
        '--isolation',
        'vm',
        ...bootCheckArgs(join(dir, 'sysvinit.console.log')),
      ]);
      expect(run.stderr).not.toMatch(/^\s+at /m);
      expect(run.stderr).toMatch(/appliance VM: \d+ command\(s\) in [\d.]+ s/);
      expect(run.stdout).toMatch(/boot check passed: xen-guest login:/);
      expect(run.exitCode).toBe(0);
      // sysvinit, not systemd, started it.
      expect(readFileSync(join(dir, 'sysvinit.console.log'), 'utf8')).toMatch(/INIT: version/);
      expect(await leftovers(image)).toEqual(NOTHING_LEFT);
    },
    BOOT_TEST_TIMEOUT,
  );
});
