import { describe, expect, it } from 'vitest';
import { sfdiskScript } from '../../src/disk/assemble.js';
import { bootAreaLength, type PartitionTable } from '../../src/disk/partition-table.js';
import {
  directLayout,
  type GivenDisk,
  NEW_SWAP_BYTES,
  planVolumes,
  wholeDiskLayout,
} from '../../src/disk/volumes.js';
import { toKvmDevice } from '../../src/guest/device-names.js';

const MIB = 1024 * 1024;
const XEN_TOOLS_FSTAB = [
  'proc            /proc           proc    defaults        0       0',
  '/dev/xvda2      /               ext4    errors=remount-ro 0     1',
  '/dev/xvda1      none            swap    sw              0       0',
].join('\n');

const given = (device: string, file: string, size: number, extra: Partial<GivenDisk> = {}): GivenDisk => ({
  device,
  file,
  size,
  partitioned: false,
  fs: { type: undefined, uuid: undefined, label: undefined },
  ...extra,
});

describe('planVolumes', () => {
  it("takes the guest's volumes from its fstab and the files from the Xen config", () => {
    const { volumes, warnings } = planVolumes({ file: '/x/disk.img', size: 1536 * MIB }, XEN_TOOLS_FSTAB, [
      given('/dev/xvda1', '/x/swap.img', 256 * MIB),
      given('/dev/xvda2', '/x/disk.img', 1536 * MIB),
    ]);
    expect(warnings).toEqual([]);
    expect(volumes.map((v) => [v.device, v.role, v.file, v.size])).toEqual([
      ['/dev/xvda1', 'swap', '/x/swap.img', 256 * MIB],
      ['/dev/xvda2', 'root', '/x/disk.img', 1536 * MIB],
    ]);
  });

  it('makes a swap area anew when no file holds it, and refuses a filesystem nobody gave', () => {
    const { volumes } = planVolumes({ file: '/x/disk.img', size: MIB }, XEN_TOOLS_FSTAB, [], true);
    expect(volumes[0]).toMatchObject({ role: 'swap', file: undefined, size: NEW_SWAP_BYTES });
    const direct = planVolumes({ file: '/x/disk.img', size: MIB }, XEN_TOOLS_FSTAB, [], false);
    expect(direct.volumes).toHaveLength(1);
    expect(direct.warnings[0]).toMatch(/^fstab's swap on \/dev\/xvda1 has no file/);
    const withVar = `${XEN_TOOLS_FSTAB}\n/dev/xvda3 /var ext4 defaults 0 2`;
    expect(() => planVolumes({ file: '/x/disk.img', size: MIB }, withVar, [], true)).toThrow(
      'the guest mounts /var from /dev/xvda3, a Xen disk of its own that was not given: add --disk xvda3=FILE or --xen-config CONFIG',
    );
  });

  it('finds UUID= and LABEL= volumes among the given files, and leaves partitioned disks alone', () => {
    const fstab = [
      'UUID=1111 / ext4 defaults 0 1',
      'LABEL=var /var ext4 defaults 0 2',
      '/dev/xvdb1 /srv ext4 defaults 0 2',
    ].join('\n');
    const { volumes } = planVolumes({ file: '/x/root.img', size: MIB }, fstab, [
      given('/dev/xvda1', '/x/root.img', MIB),
      given('/dev/xvda2', '/x/var.img', 2 * MIB, { fs: { type: 'ext4', uuid: '2222', label: 'var' } }),
      given('/dev/xvdb', '/x/data.raw', 8 * MIB, { partitioned: true }),
    ]);
    expect(volumes.map((v) => [v.device, v.fstabDevice, v.mountPoint])).toEqual([
      ['/dev/xvda1', 'UUID=1111', '/'],
      ['/dev/xvda2', 'LABEL=var', '/var'],
    ]);
  });
});

describe('layouts', () => {
  const volumes = planVolumes({ file: '/x/disk.img', size: 1536 * MIB }, XEN_TOOLS_FSTAB, [
    given('/dev/xvda1', '/x/swap.img', 256 * MIB + 1),
  ]).volumes;

  it("keeps Xen's partition numbers on the new disk when they run 1..n, 1 MiB aligned", () => {
    const layout = wholeDiskLayout(volumes);
    expect(layout.partitions.map((p) => [p.number, p.start / MIB, p.size / MIB, p.type, p.bootable])).toEqual(
      [
        [1, 1, 257, '82', false],
        [2, 258, 1536, '83', true],
      ],
    );
    expect(layout.rootPartition).toBe(2);
    expect(layout.size).toBe((258 + 1536 + 1) * MIB);
    expect([...layout.renames]).toEqual([
      ['/dev/xvda1', '/dev/vda1'],
      ['/dev/xvda2', '/dev/vda2'],
    ]);
    expect(sfdiskScript(layout)).toBe(
      'label: dos\nstart=2048, size=526336, type=82\nstart=528384, size=3145728, type=83, bootable\n',
    );
  });

  it('numbers the partitions in order when the Xen numbers leave gaps', () => {
    const rootOnly = planVolumes(
      { file: '/x/disk.img', size: MIB },
      '/dev/xvda2 / ext4 defaults 0 1',
      [],
    ).volumes;
    const layout = wholeDiskLayout(rootOnly);
    expect(layout.rootPartition).toBe(1);
    expect(toKvmDevice('root=/dev/xvda2 resume=/dev/xvda2', layout.renames)).toBe(
      'root=/dev/vda1 resume=/dev/vda1',
    );
  });

  it('gives each volume a disk of its own for direct boot, the root first', () => {
    const layout = directLayout(volumes);
    expect(layout.disks).toEqual(['/x/disk.img', '/x/swap.img']);
    expect(toKvmDevice('/dev/xvda2 /dev/xvda1 /dev/xvdb1', layout.renames)).toBe(
      '/dev/vda /dev/vdb /dev/vdb1',
    );
  });
});

describe('bootAreaLength', () => {
  const table = (parts: [number, number, string][]): PartitionTable => ({
    label: 'gpt',
    sectorSize: 512,
    partitions: parts.map(([start, size, type], i) => ({
      number: i + 1,
      start,
      size,
      type,
      bootable: false,
    })),
  });
  const BIOS = '21686148-6449-6E6F-744E-656564454649';
  const LINUX = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

  it('covers a BIOS boot partition in front of the others, which GRUB writes', () => {
    expect(
      bootAreaLength(
        table([
          [MIB, MIB, BIOS],
          [2 * MIB, 100 * MIB, LINUX],
        ]),
      ),
    ).toBe(2 * MIB);
    expect(bootAreaLength(table([[MIB, 100 * MIB, LINUX]]))).toBe(MIB);
    expect(
      bootAreaLength(
        table([
          [MIB, 100 * MIB, LINUX],
          [101 * MIB, MIB, BIOS],
        ]),
      ),
    ).toBe(MIB);
  });
});

describe('boot menus on a guest laid out anew', () => {
  it('follow the explicit renames on kernel lines and in /etc/default/grub', async () => {
    const { rewriteGrub2Config } = await import('../../steps/grub-config.js');
    const { rewriteGrubDefaults } = await import('../../steps/grub-defaults.js');
    const renames = new Map([['/dev/xvda2', '/dev/vda']]);
    expect(
      rewriteGrub2Config('menuentry x {\n\tlinux /vmlinuz root=/dev/xvda2 ro\n}', { extra: [], renames }),
    ).toContain('\tlinux /vmlinuz root=/dev/vda ro console=ttyS0,115200');
    expect(rewriteGrubDefaults('GRUB_CMDLINE_LINUX="root=/dev/xvda2"\n', { extra: [], renames })).toContain(
      'GRUB_CMDLINE_LINUX="root=/dev/vda console=ttyS0,115200"',
    );
  });
});
