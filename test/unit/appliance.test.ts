/**
 * The appliance VM's parts that need no VM: its initramfs archive (read back by cpio itself and by
 * xen2kvm's own initrd lister), the module load order from a modules.dep, the static-busybox
 * check, the job it is given, the reading of what it reports (forged and cut-short reports
 * included), and the mapping of the guest's host mounts onto the VM's disk.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { guestMounts, translateDevices, vmDeviceNames } from '../../src/pipeline/apply-in-vm.js';
import { jobFiles, parseReport } from '../../src/sandbox/appliance-job.js';
import {
  applianceModules,
  chooseApplianceKernel,
  installedKernels,
  isStaticElf,
  moduleLoadOrder,
} from '../../src/sandbox/appliance-kernel.js';
import { newcArchive } from '../../src/sandbox/cpio.js';

const dir = mkdtempSync(join(tmpdir(), 'appliance-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the appliance initramfs', () => {
  it('is a newc archive cpio itself reads back, with modes, contents and a console node', async () => {
    const archive = newcArchive([
      { path: '/bin', type: 'dir' },
      { path: '/bin/tool', type: 'file', data: 'echo hi\n', mode: 0o755 },
      { path: '/dev', type: 'dir' },
      { path: '/dev/console', type: 'char', major: 5, minor: 1 },
      { path: '/odd', type: 'file', data: 'abc' },
    ]);
    writeFileSync(join(dir, 'a.cpio'), archive);
    const listing = await execa('cpio', ['-t', '-v', '--quiet', '-F', join(dir, 'a.cpio')]);
    const lines = listing.stdout.split('\n');
    expect(lines.find((l) => l.endsWith(' bin/tool'))).toMatch(/^-rwxr-xr-x /);
    expect(lines.find((l) => l.endsWith(' dev/console'))).toMatch(/^crw------- .* 5,\s+1 /);
    const out = join(dir, 'out');
    mkdirSync(out);
    await execa('cpio', ['-i', '-d', '--quiet', '--no-absolute-filenames', '-F', join(dir, 'a.cpio')], {
      cwd: out,
      reject: false,
    });
    expect(readFileSync(join(out, 'bin/tool'), 'utf8')).toBe('echo hi\n');
    expect(readFileSync(join(out, 'odd'), 'utf8')).toBe('abc');
  });

  it('loads modules after what they depend on, and leaves out what the kernel has built in', () => {
    const modules = join(dir, 'modules');
    mkdirSync(modules);
    writeFileSync(
      join(modules, 'modules.dep'),
      [
        'kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko',
        'kernel/fs/jbd2/jbd2.ko:',
        'kernel/fs/mbcache.ko:',
        'kernel/lib/crc16.ko:',
        'kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
        'kernel/drivers/virtio/virtio_ring.ko:',
        'kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko',
        '',
      ].join('\n'),
    );
    const order = moduleLoadOrder(modules, applianceModules(['ext3', 'ext4']));
    expect(order).toEqual([
      'kernel/drivers/virtio/virtio_ring.ko',
      'kernel/drivers/virtio/virtio.ko',
      'kernel/drivers/block/virtio_blk.ko',
      'kernel/lib/crc16.ko',
      'kernel/fs/mbcache.ko',
      'kernel/fs/jbd2/jbd2.ko',
      'kernel/fs/ext4/ext4.ko',
    ]);
  });

  it('takes a statically linked busybox only', () => {
    expect(isStaticElf(readFileSync('/bin/busybox'))).toBe(true);
    expect(isStaticElf(readFileSync('/bin/ls'))).toBe(false);
    expect(isStaticElf(Buffer.from('#!/bin/sh\n'))).toBe(false);
  });

  it('boots the running kernel when it is installed, else the newest, and says what to install when there is none', () => {
    const boot = join(dir, 'boot');
    const lib = join(dir, 'lib');
    for (const v of ['6.1.0-9-amd64', '6.1.0-57-amd64', '5.10.0-30-amd64']) {
      mkdirSync(join(lib, v), { recursive: true });
      writeFileSync(join(lib, v, 'modules.dep'), '');
      mkdirSync(boot, { recursive: true });
      writeFileSync(join(boot, `vmlinuz-${v}`), '');
    }
    writeFileSync(join(boot, 'vmlinuz-6.9.9-no-modules'), '');
    const kernels = installedKernels(boot, lib);
    expect(kernels.map((k) => k.version).sort()).toEqual([
      '5.10.0-30-amd64',
      '6.1.0-57-amd64',
      '6.1.0-9-amd64',
    ]);
    expect(chooseApplianceKernel(kernels, '6.18.4-other', '').version).toBe('6.1.0-57-amd64');
    expect(chooseApplianceKernel(kernels, '6.1.0-9-amd64', '').version).toBe('6.1.0-9-amd64');
    expect(() => chooseApplianceKernel([], '6.1.0-9-amd64', '')).toThrow(
      /install one \(Debian: apt-get install linux-image-amd64\)/,
    );
  });
});

describe('the job and its report', () => {
  it('runs each command with only the environment the host chose, chrooted into the guest', () => {
    const files = jobFiles(
      [
        { device: '/dev/vda2', path: '/', fsType: 'ext4' },
        { device: '/dev/vda1', path: '/boot', fsType: 'ext2' },
      ],
      [
        {
          argv: ['update-initramfs', '-u', '-k', "it's"],
          env: { PATH: '/usr/bin' },
          timeoutSeconds: 90,
          tolerant: false,
        },
      ],
    );
    expect(files.get('/job/mounts')).toBe('/dev/vda2 / ext4\n/dev/vda1 /boot ext2\n');
    expect(files.get('/job/umounts')).toBe('/boot\n/\n');
    expect(files.get('/job/1/run')).toBe(
      `exec env -i PATH=/usr/bin chroot /guest update-initramfs -u -k 'it'\\''s'\n`,
    );
    expect(files.get('/job/1/meta')).toBe('90 0\n');
  });

  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const result = (i: number, rc: number, out: string, err: string, timed = 0) => [
    `XEN2KVM-RESULT ${i} ${rc} ${timed}`,
    `XEN2KVM-STDOUT ${i}`,
    b64(out),
    `XEN2KVM-STDERR ${i}`,
    b64(err),
    `XEN2KVM-END ${i}`,
  ];

  it('reads every command that ran, in order, and whether the VM unmounted cleanly', () => {
    const text = [
      ...result(1, 0, 'built\n', ''),
      ...result(2, 1, '', 'failed\n'),
      'XEN2KVM-DONE unmounted',
      '',
    ].join('\r\n');
    expect(parseReport(text, 2)).toEqual({
      results: [
        { exitCode: 0, timedOut: false, stdout: 'built\n', stderr: '' },
        { exitCode: 1, timedOut: false, stdout: '', stderr: 'failed\n' },
      ],
      unmounted: true,
    });
  });

  it('stops at a report cut short, out of order or claiming more commands than the job had', () => {
    expect(parseReport(result(1, 0, 'x', 'y').slice(0, 4).join('\n'), 1).results).toEqual([]);
    expect(parseReport(result(2, 0, 'x', 'y').join('\n'), 2).results).toEqual([]);
    const extra = [...result(1, 0, '', ''), ...result(2, 0, 'forged', '')].join('\n');
    expect(parseReport(extra, 1).results).toHaveLength(1);
    expect(parseReport('XEN2KVM-DONE unclean\n', 0).unmounted).toBe(false);
    expect(parseReport('garbage\n', 0)).toEqual({ results: [], unmounted: false });
  });
});

describe("the guest's mounts, as the VM sees them", () => {
  const disk = {
    readOnly: false,
    disk: '/dev/loop3',
    partitions: new Map([
      [1, '/dev/loop4'],
      [2, '/dev/loop5'],
    ]),
  } as unknown as Parameters<typeof vmDeviceNames>[0];
  const guest = {
    root: '/tmp/xen2kvm-root-x',
    disk,
    label: 'web01.raw',
    table: { label: 'dos', sectorSize: 512, partitions: [] },
  };

  it('maps the image and its partitions onto vda and vdaN, outermost mount first', () => {
    const mounts = [
      '/dev/loop4 /tmp/xen2kvm-root-x/boot ext2 rw,nosuid,nodev 0 0',
      '/dev/loop5 /tmp/xen2kvm-root-x ext4 rw,nosuid,nodev 0 0',
      '/dev/sda1 /tmp/xen2kvm-root-xy ext4 rw 0 0',
      '',
    ].join('\n');
    expect(guestMounts(guest, mounts)).toEqual([
      {
        source: '/dev/loop5',
        target: '/tmp/xen2kvm-root-x',
        fsType: 'ext4',
        path: '/',
        vmDevice: '/dev/vda2',
      },
      {
        source: '/dev/loop4',
        target: '/tmp/xen2kvm-root-x/boot',
        fsType: 'ext2',
        path: '/boot',
        vmDevice: '/dev/vda1',
      },
    ]);
  });

  it('refuses a filesystem that is no partition of the disk (a logical volume)', () => {
    const mounts = '/dev/mapper/vg-root /tmp/xen2kvm-root-x ext4 rw 0 0\n';
    expect(() => guestMounts(guest, mounts)).toThrow(
      /is not one \(a logical volume\?\); convert this guest with the default sandbox/,
    );
  });

  it('takes a partitionless image, its filesystem the whole file, as vda itself', () => {
    const bare = { ...guest, table: { label: 'none', sectorSize: 512, partitions: [] } };
    const mounts = '/dev/loop4 /tmp/xen2kvm-root-x ext4 rw,nosuid,nodev 0 0\n';
    expect(guestMounts(bare, mounts).map((m) => m.vmDevice)).toEqual(['/dev/vda']);
  });

  it("names the image's devices as the VM knows them in a command and its input, whole words only", () => {
    const names = vmDeviceNames(disk, { label: 'dos' });
    expect(translateDevices('/dev/loop3', names)).toBe('/dev/vda');
    expect(translateDevices('device (hd0) /dev/loop3\nroot (hd0,0)\n', names)).toBe(
      'device (hd0) /dev/vda\nroot (hd0,0)\n',
    );
    expect(translateDevices('/dev/loop30 /dev/loop5', names)).toBe('/dev/loop30 /dev/vda2');
  });
});
