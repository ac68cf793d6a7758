/**
 * Disks as Xen kept them, each a real Debian 12 guest laid out by a recipe under fixtures/images:
 * a bare root filesystem image with its swap in a file of its own (xen-tools), /boot on its own
 * partition with fstab by UUID and LABEL, GPT with a BIOS boot partition, and root on LVM. The
 * partitionless guest (both ways) and the separate-/boot guest boot to a login on ttyS0.
 */
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture, workingCopy } from '../../fixtures/images/fixtures.js';
import { readImageHead } from '../../src/disk/mbr.js';
import { bootCheckArgs, runCli } from '../helpers/cli.js';
import { editGuest, readFromPartition } from '../helpers/guest-tree.js';
import { contentDigest, leftovers, NOTHING_LEFT } from '../helpers/host-state.js';
import { testDeadline } from '../helpers/machine-pace.js';

// A conversion and a TCG boot: about 3 minutes on an idle machine; stretched on a busy one.
// A boot may first wait for the TCG boot slot: another file's boot, or the saturated fault run.
const BOOT_TEST_TIMEOUT = testDeadline(12 * 60);
const MIB = 1024 * 1024;

interface SfdiskPartition {
  node: string;
  start: number;
  size: number;
  type: string;
  bootable?: boolean;
}

async function partitions(image: string): Promise<SfdiskPartition[]> {
  const { stdout } = await execa('sfdisk', ['-J', image]);
  return (JSON.parse(stdout) as { partitiontable: { partitions: SfdiskPartition[] } }).partitiontable
    .partitions;
}

async function validateXml(path: string): Promise<void> {
  const result = await execa('virt-xml-validate', [path, 'domain'], { reject: false });
  expect(result.stdout + result.stderr).toContain('validates');
}

const scratchDisks = () =>
  readdirSync(process.env.XEN2KVM_WORK_DIR ?? '/var/tmp').filter((n) => n.startsWith('.xen2kvm-'));

describe('a partitionless guest: a bare root filesystem image, and swap in a file of its own', () => {
  let dir: string;
  let root: string;
  let swap: string;
  let config: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'e2e-layouts-'));
    root = await workingCopy('debian12-xen-fsimage', join(dir, 'root.img'));
    swap = join(dir, 'swap.img');
    writeFileSync(swap, '');
    await execa('truncate', ['-s', '256M', swap]);
    await execa('mkswap', ['-q', '-L', 'xenswap', swap]);
    config = join(dir, 'fsguest.cfg');
    writeFileSync(
      config,
      [
        'name = "fsguest"',
        'memory = 512',
        'bootloader = "pygrub"',
        `disk = ['file:${swap},xvda1,w', 'file:${root},xvda2,w']`,
        "vif = ['mac=00:16:3e:11:22:33,bridge=xenbr0']",
        '',
      ].join('\n'),
    );
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('dry-run shows where each volume goes and the renamed devices, and changes nothing', async () => {
    const before = await contentDigest(root);
    const run = await runCli([
      'migrate',
      '--dry-run',
      root,
      '--xen-config',
      config,
      '--bridge',
      'xenbr0=br0',
    ]);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(`# volume: /dev/xvda1 swap (${swap}) -> /dev/vda1`);
    expect(run.stdout).toContain(`# volume: /dev/xvda2 / (${root}) -> /dev/vda2`);
    expect(run.stdout).toContain('# apply: needs --output NEW.raw (the guest gets a new whole disk)');
    expect(run.stdout).toContain('+/dev/vda2       /               ext4');
    expect(run.stdout).toContain('+/dev/vda1       none            swap');
    expect(run.stdout).toMatch(/^grub-install --target=i386-pc '--modules=part_msdos ext2' \/dev\/loop\d+$/m);
    expect(await contentDigest(root)).toBe(before);
    expect(await leftovers(root)).toEqual(NOTHING_LEFT);
    expect(scratchDisks()).toEqual([]);
  });

  it(
    'becomes a new whole disk (swap p1, root p2, GRUB) that boots to a login on ttyS0 with its swap',
    async () => {
      const before = await contentDigest(root);
      const output = join(dir, 'kvm.raw');
      const run = await runCli([
        'migrate',
        root,
        '--xen-config',
        config,
        '--bridge',
        'xenbr0=br0',
        '--output',
        output,
        '--yes',
        ...bootCheckArgs(join(dir, 'whole.console.log')),
      ]);
      expect(run.stderr).not.toMatch(/^\s+at /m);
      expect(run.stdout).toMatch(/boot check passed: xen-guest login:/);
      expect(run.exitCode).toBe(0);
      const table = await partitions(output);
      expect(table.map((p) => [p.type, p.size * 512, Boolean(p.bootable)])).toEqual([
        ['82', 256 * MIB, false],
        ['83', 1536 * MIB, true],
      ]);
      const [fstab] = await readFromPartition(output, 2, ['/etc/fstab']);
      expect(fstab).toMatch(/^\/dev\/vda2\s+\/\s+ext4/m);
      expect(fstab).toMatch(/^\/dev\/vda1\s+none\s+swap/m);
      const console = readFileSync(join(dir, 'whole.console.log'), 'utf8');
      expect(console).toMatch(/Adding \d+k swap on \/dev\/vda1/);
      // The domain gets the one new disk in place of both Xen disks.
      const xml = readFileSync(join(dir, 'fsguest.xml'), 'utf8');
      expect(xml.match(/<disk /g)).toHaveLength(1);
      expect(xml).toContain(`<source file="${output}"/>`);
      expect(xml).toContain('<source bridge="br0"/>');
      await validateXml(join(dir, 'fsguest.xml'));
      expect(await contentDigest(root)).toBe(before);
      expect(await leftovers(root)).toEqual(NOTHING_LEFT);
      expect(scratchDisks()).toEqual([]);
      rmSync(join(dir, 'fsguest.xml'));
    },
    BOOT_TEST_TIMEOUT,
  );

  it('without its swap file, gets a new swap area where its fstab expects one', async () => {
    const output = join(dir, 'noswap.raw');
    const run = await runCli(['migrate', root, '--output', output, '--yes']);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.exitCode).toBe(0);
    const [first] = await partitions(output);
    expect(first?.type).toBe('82');
    expect((first?.size ?? 0) * 512).toBe(512 * MIB);
    const probe = await execa('blkid', [
      '-p',
      '-o',
      'export',
      '--offset',
      String((first?.start ?? 0) * 512),
      output,
    ]);
    expect(probe.stdout).toContain('TYPE=swap');
    rmSync(output);
  });

  it(
    '--boot direct keeps the filesystem image, copies its kernel and initrd out, and boots them',
    async () => {
      const image = await workingCopy('debian12-xen-fsimage', join(dir, 'direct.img'));
      // The review names the host files the run writes: the kernel and initrd copies, the XML.
      const direct = ['migrate', image, '--boot', 'direct', '--disk', `xvda1=${swap}`];
      const review = await runCli([...direct, '--dry-run']);
      expect(review.exitCode, review.stderr).toBe(0);
      expect(review.stdout).toMatch(/^# 2 file\(s\) copied out of the guest, onto this host$/m);
      expect(review.stdout).toMatch(/^# \/boot\/vmlinuz-\S+ -> \S+\/direct\.vmlinuz-\S+ \(the host boots/m);
      const run = await runCli([
        ...direct,
        '--in-place',
        '--yes',
        ...bootCheckArgs(join(dir, 'direct.console.log')),
      ]);
      expect(run.stderr).not.toMatch(/^\s+at /m);
      expect(run.stdout).toMatch(/boot check passed: xen-guest login:/);
      expect(run.exitCode).toBe(0);
      const xml = readFileSync(join(dir, 'direct.xml'), 'utf8');
      const kernel = /<kernel>([^<]+)<\/kernel>/.exec(xml)?.[1] ?? '';
      const initrd = /<initrd>([^<]+)<\/initrd>/.exec(xml)?.[1] ?? '';
      expect(kernel).toMatch(/\/direct\.vmlinuz-\S+$/);
      expect(existsSync(kernel) && existsSync(initrd)).toBe(true);
      expect(xml).toContain('<cmdline>root=/dev/vda ro console=ttyS0,115200 net.ifnames=0</cmdline>');
      expect(xml).toMatch(new RegExp(`<source file="${image}"/>\\s*<target dev="vda"`));
      expect(xml).toMatch(new RegExp(`<source file="${swap}"/>\\s*<target dev="vdb"`));
      await validateXml(join(dir, 'direct.xml'));
      const [fstab] = await readFromPartition(image, undefined, ['/etc/fstab']);
      expect(fstab).toMatch(/^\/dev\/vda\s+\/\s+ext4/m);
      expect(fstab).toMatch(/^\/dev\/vdb\s+none\s+swap/m);
      expect(readFileSync(join(dir, 'direct.console.log'), 'utf8')).toMatch(/Adding \d+k swap on \/dev\/vdb/);
      expect(await leftovers(image)).toEqual(NOTHING_LEFT);
      // The in-place journal recorded the host's files too: rollback removes the copies and the XML.
      const back = await runCli(['rollback', image]);
      expect(back.exitCode, back.stderr).toBe(0);
      expect(back.stdout).toMatch(/; on this host 0 file\(s\) restored, 3 removed$/m);
      expect([kernel, initrd, join(dir, 'direct.xml')].filter((path) => existsSync(path))).toEqual([]);
      const [restored] = await readFromPartition(image, undefined, ['/etc/fstab']);
      expect(restored).toMatch(/^\/dev\/xvda2\s+\/\s+ext4/m);
    },
    BOOT_TEST_TIMEOUT,
  );

  it('refuses in one line, changing nothing, in place onto a new disk or a volume not given; given, /var gets its partition', async () => {
    const before = await contentDigest(root);
    const inPlace = await runCli(['migrate', root, '--in-place', '--yes']);
    expect(inPlace.exitCode).toBe(2);
    expect(inPlace.stderr.trim().split('\n').pop()).toMatch(
      /^xen2kvm: \S+ holds a bare ext4 filesystem .* use --output NEW\.raw, or --boot direct/,
    );

    const withVar = join(dir, 'withvar.img');
    copyFileSync(root, withVar);
    await editGuest(withVar, (guestRoot) => {
      const fstab = join(guestRoot, 'etc', 'fstab');
      writeFileSync(
        fstab,
        `${readFileSync(fstab, 'utf8')}/dev/xvda3      /var            ext4    defaults        0       2\n`,
      );
    });
    const varBefore = await contentDigest(withVar);
    const missing = await runCli(['migrate', withVar, '--output', join(dir, 'withvar.raw'), '--yes']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr.trim().split('\n').pop()).toBe(
      'xen2kvm: the guest mounts /var from /dev/xvda3, a Xen disk of its own that was not given: add --disk xvda3=FILE or --xen-config CONFIG',
    );
    expect(existsSync(join(dir, 'withvar.raw'))).toBe(false);
    expect(await contentDigest(withVar)).toBe(varBefore);
    expect(await contentDigest(root)).toBe(before);
    expect(await leftovers(withVar)).toEqual(NOTHING_LEFT);
    expect(scratchDisks()).toEqual([]);

    // Given, the /var volume becomes the new disk's third partition, and fstab says so.
    const varImage = join(dir, 'var.img');
    await execa('truncate', ['-s', '64M', varImage]);
    await execa('mkfs.ext4', ['-q', '-L', 'var', varImage]);
    const output = join(dir, 'withvar.raw');
    const run = await runCli([
      'migrate',
      withVar,
      '--disk',
      `xvda3=${varImage}`,
      '--output',
      output,
      '--yes',
    ]);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(`converted ${withVar} into ${output}`);
    const table = await partitions(output);
    expect(table.map((p) => [p.type, p.size * 512])).toEqual([
      ['82', 512 * MIB],
      ['83', 1536 * MIB],
      ['83', 64 * MIB],
    ]);
    const [fstab] = await readFromPartition(output, 2, ['/etc/fstab']);
    expect(fstab).toMatch(/^\/dev\/vda3\s+\/var\s+ext4/m);
    expect(
      (await execa('blkid', ['-p', '-o', 'export', '--offset', String((table[2]?.start ?? 0) * 512), output]))
        .stdout,
    ).toContain('LABEL=var');
    rmSync(withVar);
    rmSync(output);
  });
});

describe('/boot on its own partition, fstab by UUID and LABEL', () => {
  let dir: string;
  let image: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'e2e-bootpart-'));
    image = await workingCopy('debian12-xen-bootpart', join(dir, 'bootpart.raw'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'rewrites the menu on the /boot partition, keeps UUID and LABEL entries, and boots to a login on ttyS0',
    async () => {
      // Alone: its guest waits for /boot and swap as well as its root (see runCli's lock).
      const run = await runCli(
        ['migrate', image, '--in-place', '--yes', ...bootCheckArgs(join(dir, 'bootpart.console.log'))],
        { alone: true },
      );
      expect(run.stderr).not.toMatch(/^\s+at /m);
      expect(run.stdout).toMatch(/boot check passed: xen-guest login:/);
      expect(run.exitCode).toBe(0);
      const [menu] = await readFromPartition(image, 1, ['/grub/grub.cfg']);
      expect(menu).toMatch(/^\s+linux\s+\/vmlinuz-\S+ root=\/dev\/vda3 ro console=ttyS0,115200/m);
      const [fstab] = await readFromPartition(image, 3, ['/etc/fstab']);
      expect(fstab).toMatch(/^UUID=6f1d8f9e-2b0c-4f43-9a57-3c1e0b8d7a21 \/ /m);
      expect(fstab).toMatch(/^LABEL=boot\s+\/boot\s+ext2/m);
      expect(fstab).toMatch(/^\/dev\/vda2\s+none\s+swap/m);
      expect(await leftovers(image)).toEqual(NOTHING_LEFT);
    },
    BOOT_TEST_TIMEOUT,
  );
});

describe('GPT with a BIOS boot partition', () => {
  let dir: string;

  beforeAll(async () => {
    await ensureFixture('debian12-xen-gpt');
    dir = mkdtempSync(join(tmpdir(), 'e2e-gpt-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('embeds GRUB in the BIOS boot partition, and rollback restores it with the MBR', async () => {
    const image = await workingCopy('debian12-xen-gpt', join(dir, 'gpt.raw'));
    const before = readImageHead(image, 2 * MIB);
    expect(before.subarray(MIB).every((b) => b === 0)).toBe(true);
    const run = await runCli(['migrate', image, '--in-place', '--yes']);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(/grub-install --target=i386-pc --modules=part_gpt ext2/);
    const after = readImageHead(image, 2 * MIB);
    expect(after.subarray(0, 440).some((b) => b !== 0)).toBe(true);
    // GRUB's core image now fills the start of the BIOS boot partition (sector 2048).
    expect(after.subarray(MIB, MIB + 512).some((b) => b !== 0)).toBe(true);
    const rollback = await runCli(['rollback', image]);
    expect(rollback.exitCode).toBe(0);
    expect(rollback.stdout).toContain('boot area (2097152 bytes) restored');
    expect(readImageHead(image, 2 * MIB).equals(before)).toBe(true);
  });

  it('refuses a GPT disk with no BIOS boot partition before changing anything', async () => {
    const image = await workingCopy('debian12-xen-gpt', join(dir, 'nobios.raw'));
    await execa('sfdisk', ['-q', '--part-type', image, '1', '0FC63DAF-8483-4772-8E79-3D69D8477DE4']);
    const before = await contentDigest(image);
    const run = await runCli(['migrate', image, '--in-place', '--yes']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n').pop()).toMatch(
      /^xen2kvm: \S+ is a GPT disk with no boot code and no BIOS boot partition for GRUB to embed itself in; add a 1 MiB partition/,
    );
    expect(await contentDigest(image)).toBe(before);
    expect(await leftovers(image)).toEqual(NOTHING_LEFT);
  });
});

describe('root on LVM', () => {
  // Where device-mapper works, the group is activated (device-mapper.test.ts); it has no volumes here.
  it('says plainly what the host lacks, changing nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'e2e-lvm-'));
    try {
      const image = join(dir, 'lvm.raw');
      await execa('truncate', ['-s', '64M', image]);
      await execa('sfdisk', ['-q', image], { input: 'label: dos\nstart=2048, type=8e\n' });
      const loop = (await execa('losetup', ['-f', '--show', '-o', String(MIB), image])).stdout.trim();
      try {
        // No copy of this volume group's metadata is kept under the host's /etc/lvm.
        const noBackup = ['--config', 'backup { backup = 0 archive = 0 }'];
        await execa('pvcreate', ['-q', '-ff', '-y', ...noBackup, loop]);
        await execa('vgcreate', ['-q', ...noBackup, 'xenvg', loop]);
      } finally {
        await execa('losetup', ['-d', loop]);
      }
      const before = await contentDigest(image);
      const run = await runCli(['migrate', image, '--dry-run']);
      expect(run.exitCode).toBe(1);
      const hasDeviceMapper = /\bdevice-mapper\b/.test(readFileSync('/proc/misc', 'utf8'));
      expect(run.stderr.trim().split('\n').pop()).toBe(
        `xen2kvm: ${image}: no Linux root filesystem found (p1: LVM2_member)${
          hasDeviceMapper
            ? ''
            : " (an LVM physical volume: its logical volumes need device-mapper, which this host's kernel lacks; convert it on a host that has device-mapper)"
        }`,
      );
      expect(await contentDigest(image)).toBe(before);
      expect(await leftovers(image)).toEqual(NOTHING_LEFT);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
