import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseKpartxMaps } from '../../src/disk/attach.js';
import { hasBootCode, identifyBootCode } from '../../src/disk/mbr.js';
import { mayHoldFilesystem, parseSfdiskJson } from '../../src/disk/partition-table.js';
import { modulesInListing } from '../../src/guest/initrd-tools.js';
import { filesystemOf, parseFstab } from '../../src/guest/mount-guest.js';
import { parseBlkidExport } from '../../src/inspect/filesystems.js';
import { chooseRoot, matchRootOption, type RootCandidate } from '../../src/inspect/find-root.js';
import { findKernels, isXenOnlyKernel } from '../../src/inspect/kernels.js';
import { detectOs } from '../../src/inspect/os-release.js';
import { guestWith } from '../helpers/guest-files.js';

describe('partition tables and mappings', () => {
  it('reads sfdisk -J output into byte offsets', () => {
    const table = parseSfdiskJson(
      '{"partitiontable":{"label":"dos","id":"0x1","device":"d.raw","unit":"sectors","sectorsize":512,"partitions":[{"node":"d.raw1","start":2048,"size":524288,"type":"82"},{"node":"d.raw2","start":526336,"size":3667968,"type":"83","bootable":true}]}}',
    );
    expect(table.label).toBe('dos');
    expect(table.partitions).toEqual([
      { number: 1, start: 1048576, size: 268435456, type: '82', bootable: false },
      { number: 2, start: 269484032, size: 1877999616, type: '83', bootable: true },
    ]);
    expect(table.partitions.map(mayHoldFilesystem)).toEqual([false, true]);
  });
  it('reads kpartx -av output', () => {
    const maps = parseKpartxMaps(
      'add map loop3p1 (254:0): 0 524288 linear 7:3 2048\nadd map loop3p2 (254:1): 0 3667968 linear 7:3 526336\n',
    );
    expect([...maps]).toEqual([
      [1, '/dev/mapper/loop3p1'],
      [2, '/dev/mapper/loop3p2'],
    ]);
  });
  it('tells an empty boot sector from GRUB boot code', () => {
    expect(hasBootCode(Buffer.alloc(440))).toBe(false);
    const grub = Buffer.alloc(440);
    grub.write('GRUB \0Geom\0Hard Disk\0Read\0 Error', 0x180, 'latin1');
    expect(identifyBootCode(grub)).toBe('grub');
  });
});

describe('filesystems, fstab and the root choice', () => {
  it('parses blkid -o export', () => {
    expect(parseBlkidExport('DEVNAME=/dev/loop1\nUUID=abc\nTYPE=ext4\nLABEL=root\n')).toEqual({
      type: 'ext4',
      uuid: 'abc',
      label: 'root',
    });
  });
  it('finds fstab devices on the image by name, UUID and LABEL', () => {
    const seen = [
      { partition: 1, device: '/dev/loop1', type: 'ext2', uuid: 'u-boot', label: 'boot' },
      { partition: 2, device: '/dev/loop2', type: 'LVM2_member', uuid: 'u-pv', label: undefined },
      {
        partition: 2,
        volume: { vg: 'xen-guest-vg', lv: 'root' },
        device: '/dev/mapper/xen--guest--vg-root',
        type: 'ext4',
        uuid: 'u-root',
        label: 'root',
      },
    ];
    const where = (device: string) => filesystemOf(device, seen)?.device;
    expect(where('/dev/xvda1')).toBe('/dev/loop1');
    expect(where('UUID=u-root')).toBe('/dev/mapper/xen--guest--vg-root');
    expect(where('LABEL=boot')).toBe('/dev/loop1');
    // A logical volume by either of the names LVM gives it; xvda2 is the physical volume itself.
    expect(where('/dev/mapper/xen--guest--vg-root')).toBe('/dev/mapper/xen--guest--vg-root');
    expect(where('/dev/xen-guest-vg/root')).toBe('/dev/mapper/xen--guest--vg-root');
    expect(where('/dev/xvda2')).toBe('/dev/loop2');
    expect(where('/dev/mapper/xen--guest--vg-swap_1')).toBeUndefined();
    expect(where('/dev/xvdb1')).toBeUndefined();
    expect(parseFstab('# c\n/dev/xvda1 /boot ext2 defaults 0 2\n\nproc /proc proc defaults 0 0\n')).toEqual([
      { device: '/dev/xvda1', mountPoint: '/boot', type: 'ext2' },
      { device: 'proc', mountPoint: '/proc', type: 'proc' },
    ]);
  });
  it('matches --root by number or device name', () => {
    const candidates = [2, 3].map((partition) => ({ partition }) as RootCandidate);
    expect(matchRootOption('3', candidates)?.partition).toBe(3);
    expect(matchRootOption('/dev/xvda2', candidates)?.partition).toBe(2);
    expect(matchRootOption('p4', candidates)).toBeUndefined();
    const onLvm = [
      { partition: 1 },
      { partition: 2, volume: { vg: 'VolGroup00', lv: 'LogVol00' } },
    ] as RootCandidate[];
    for (const name of ['VolGroup00/LogVol00', '/dev/VolGroup00/LogVol00', '/dev/mapper/VolGroup00-LogVol00'])
      expect(matchRootOption(name, onLvm)?.volume?.lv).toBe('LogVol00');
    // A number names a partition, never the volume group on it.
    expect(matchRootOption('2', onLvm)).toBeUndefined();
    expect(matchRootOption('1', onLvm)?.partition).toBe(1);
  });
});

describe('operating system and kernels', () => {
  it('detects Debian and Ubuntu from os-release, and older guests from release files', () => {
    expect(
      detectOs(
        guestWith({
          'etc/os-release': 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
        }),
      ),
    ).toEqual({
      family: 'debian',
      id: 'debian',
      version: '12',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
    });
    expect(
      detectOs(guestWith({ 'etc/os-release': 'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="14.04"\n' }))?.family,
    ).toBe('debian');
    expect(
      detectOs(
        guestWith({
          'etc/SuSE-release': 'SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 2\n',
        }),
      ),
    ).toMatchObject({
      family: 'suse',
      id: 'sles',
      version: '11',
    });
    expect(detectOs(guestWith({ 'etc/redhat-release': 'CentOS release 5.11 (Final)\n' }))).toMatchObject({
      family: 'redhat',
      id: 'centos',
      version: '5.11',
    });
    expect(detectOs(guestWith({ 'etc/debian_version': '6.0.10\n' }))).toMatchObject({
      family: 'debian',
      version: '6.0.10',
    });
    expect(detectOs(guestWith({ 'etc/hostname': 'x\n' }))).toBeUndefined();
  });
  it('finds kernels newest first and flags Xen-only ones', () => {
    const tree = guestWith({
      'boot/vmlinuz-5.10.0-28-amd64': '',
      'boot/initrd.img-5.10.0-28-amd64': '',
      'boot/vmlinuz-6.1.0-18-amd64': '',
      'boot/vmlinuz-2.6.32-5-xen-amd64': '',
      'boot/config-2.6.32-5-xen-amd64': 'CONFIG_X86_64_XEN=y\n',
    });
    expect(findKernels(tree).map((k) => [k.version, k.initrd, k.xenOnly])).toEqual([
      ['6.1.0-18-amd64', undefined, false],
      ['5.10.0-28-amd64', '/boot/initrd.img-5.10.0-28-amd64', false],
      ['2.6.32-5-xen-amd64', undefined, true],
    ]);
    // SUSE's flavour symlinks name a kernel already listed under its version.
    const suse = guestWith({
      'boot/vmlinuz-2.6.37.6-0.5-xen': '',
      'boot/initrd-2.6.37.6-0.5-xen': '',
    });
    symlinkSync('vmlinuz-2.6.37.6-0.5-xen', join(suse.root, 'boot/vmlinuz-xen'));
    symlinkSync('initrd-2.6.37.6-0.5-xen', join(suse.root, 'boot/initrd-xen'));
    expect(findKernels(suse).map((k) => k.version)).toEqual(['2.6.37.6-0.5-xen']);
    expect(isXenOnlyKernel('3.0.13-0.27-xen', undefined)).toBe(true);
    expect(isXenOnlyKernel('2.6.18-398.el5xen', undefined)).toBe(true);
    expect(isXenOnlyKernel('2.6.26-2-xen-amd64', undefined)).toBe(true);
    expect(isXenOnlyKernel('6.1.0-18-amd64', 'CONFIG_XEN=y\nCONFIG_XEN_PVHVM=y\n')).toBe(false);
  });
  it('reads module names from an initrd listing, whatever the compression', () => {
    const names = modulesInListing(
      'usr/lib/modules/6.1.0/kernel/drivers/block/virtio_blk.ko\nlib/modules/x/kernel/fs/ext4/ext4.ko.zst\nlib/modules/x/xen-blkfront.ko.xz\nconf/modules\n',
    );
    expect([...names].sort()).toEqual(['ext4', 'virtio_blk', 'xen_blkfront']);
  });
});

describe('choosing the root', () => {
  const search = (partitions: number[]) => ({
    candidates: partitions.map(
      (partition) => ({ partition, os: { prettyName: `OS ${partition}` } }) as RootCandidate,
    ),
    filesystems: [],
  });
  it('takes the only candidate, asks when there are several, and requires --root without a terminal', async () => {
    expect((await chooseRoot('d.raw', search([2]), undefined, undefined)).partition).toBe(2);
    const asked = await chooseRoot('d.raw', search([2, 3]), undefined, async (c) => c[1] as RootCandidate);
    expect(asked.partition).toBe(3);
    await expect(chooseRoot('d.raw', search([2, 3]), undefined, undefined)).rejects.toThrow(
      'd.raw holds several root filesystems: 2 (OS 2), 3 (OS 3); choose one with --root N',
    );
    expect((await chooseRoot('d.raw', search([2, 3]), 'xvda3', undefined)).partition).toBe(3);
  });
  it('explains encrypted and LVM disks', async () => {
    const luks = {
      candidates: [],
      filesystems: [
        { partition: 2, device: '/dev/loop2', type: 'crypto_LUKS', uuid: undefined, label: undefined },
      ],
    };
    await expect(chooseRoot('d.raw', luks, undefined, undefined)).rejects.toThrow(
      'd.raw: no Linux root filesystem found (p2: crypto_LUKS) (an encrypted root cannot be converted)',
    );
  });
});
