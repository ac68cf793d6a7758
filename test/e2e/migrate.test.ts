/**
 * The whole job on a real Debian Xen PV guest built by debootstrap: the unconverted image does not
 * boot under KVM, the dry-run shows the plan and leaves the image byte-identical, the conversion
 * makes it boot to a login prompt on ttyS0, libvirt's schema accepts the XML, and a second run
 * changes nothing.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workingCopy } from '../../fixtures/images/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { contentDigest, leftovers, NOTHING_LEFT } from '../helpers/host-state.js';
import { testDeadline } from '../helpers/machine-pace.js';

// A conversion and a TCG boot: about 3 minutes on an idle machine; stretched on a busy one.
// A boot may first wait for the TCG boot slot: another file's boot, or the saturated fault run.
const BOOT_TEST_TIMEOUT = testDeadline(12 * 60);

describe('migrate a Debian 12 Xen PV guest', () => {
  let dir: string;
  let image: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'e2e-migrate-'));
    image = await workingCopy('debian12-xen-pv', join(dir, 'guest.raw'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'does not boot under KVM before conversion (no boot code, no virtio in the initrd)',
    async () => {
      const before = await contentDigest(image);
      const run = await runCli([
        'verify',
        image,
        '--accel',
        'tcg',
        '--timeout',
        '60',
        '--console-log',
        join(dir, 'before.log'),
      ]);
      expect(run.exitCode).toBe(3);
      expect(run.stdout).toMatch(/boot check FAILED: no login prompt within 60 s/);
      expect(await contentDigest(image)).toBe(before);
    },
    BOOT_TEST_TIMEOUT,
  );

  it('dry-run prints every diff, command and the XML, and leaves the image byte-identical', async () => {
    const before = await contentDigest(image);
    const run = await runCli(['migrate', '--dry-run', image]);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.exitCode).toBe(0);
    expect(await contentDigest(image)).toBe(before);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);

    expect(run.stderr).toMatch(
      /Map partitions \(read-only\): 2 with (loop devices \(this kernel has no device-mapper|kpartx \(device-mapper available)/,
    );
    expect(run.stdout).toContain('# boot code in the MBR: none');
    expect(run.stdout).toContain('+/dev/vda2       /               ext4');
    expect(run.stdout).toContain('-/dev/xvda2      /               ext4');
    expect(run.stdout).toMatch(
      /^\+\s+linux\s+\/boot\/vmlinuz-\S+ root=\/dev\/vda2 ro console=ttyS0,115200 net\.ifnames=0$/m,
    );
    expect(run.stdout).toContain('+GRUB_CMDLINE_LINUX="console=ttyS0,115200 root=/dev/vda2 net.ifnames=0"');
    expect(run.stdout).toContain('+++ b/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service');
    expect(run.stdout).toContain('+virtio_blk');
    expect(run.stdout).toMatch(/^update-initramfs -u -k \S+$/m);
    expect(run.stdout).toMatch(/^grub-install --target=i386-pc '--modules=part_msdos ext2' \/dev\/loop\d+$/m);
    expect(run.stdout).toContain('<target dev="vda" bus="virtio"/>');
  });

  it("dry-run with the guest's Xen configuration carries its identity into the XML", async () => {
    const config = join(import.meta.dirname, '..', '..', 'fixtures', 'xen-configs', 'xl-pv-pygrub.cfg');
    const run = await runCli([
      'migrate',
      '--dry-run',
      '--xen-config',
      config,
      '--bridge',
      'xenbr0=br0',
      image,
    ]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(`libvirt domain XML (would be written: ${join(dir, 'mail01.xml')})`);
    expect(run.stdout).toContain('<name>mail01</name>');
    expect(run.stdout).toContain('<uuid>5b2c8d44-8a1e-4b7e-9d3c-0f2a6b1c9e01</uuid>');
    expect(run.stdout).toContain('<currentMemory unit="KiB">2097152</currentMemory>');
    expect(run.stdout).toMatch(new RegExp(`<source file="${image}"/>\\s*<target dev="vda" bus="virtio"/>`));
    expect(run.stdout).toMatch(/<mac address="00:16:3e:10:20:30"\/>\s*<source bridge="br0"\/>/);
  });

  it("converts the guest and writes XML that libvirt's schema accepts", async () => {
    const run = await runCli(['migrate', '--yes', '--in-place', image]);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/converted .*guest\.raw in place: 7 file\(s\) changed, 3 command\(s\) run/);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
    const xml = join(dir, 'guest.xml');
    const validate = await execa('virt-xml-validate', [xml, 'domain'], { reject: false });
    expect(validate.stdout + validate.stderr).toContain('validates');
    expect(validate.exitCode).toBe(0);
  });

  it('a second run changes nothing', async () => {
    const dry = await runCli(['migrate', '--dry-run', image]);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain('# 0 file change(s) in the guest');
    expect(dry.stdout).toContain('# 0 command(s) to run inside the guest');
    expect(dry.stdout).toContain('libvirt domain XML (unchanged');
    const again = await runCli(['migrate', '--yes', '--in-place', image]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/0 file\(s\) changed, 0 command\(s\) run/);
    expect(again.stdout).toMatch(/domain XML: .*guest\.xml \(unchanged\)/);
  });

  it(
    'boots the converted guest to a login prompt on ttyS0',
    async () => {
      const before = await contentDigest(image);
      const log = join(dir, 'after.log');
      const run = await runCli(['verify', image, '--console-log', log]);
      expect(run.stdout).toMatch(/boot check passed: \S+ login: \((KVM|TCG), [\d.]+ s\)/);
      expect(run.exitCode).toBe(0);
      expect(readFileSync(log, 'utf8')).toMatch(/login: *$/m);
      expect(await contentDigest(image)).toBe(before);
    },
    BOOT_TEST_TIMEOUT,
  );
});
