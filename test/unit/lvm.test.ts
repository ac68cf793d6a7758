import { describe, expect, it } from 'vitest';
import { inGroup, lvmScope, mapperName, namesVolume, parseLvmReport } from '../../src/disk/lvm.js';
import { rewriteLvmConf } from '../../steps/lvm-config.js';

describe('LVM names', () => {
  it('doubles the dashes inside each name, as device-mapper does', () => {
    expect(mapperName('xen-guest-vg', 'swap_1')).toBe('xen--guest--vg-swap_1');
    expect(mapperName('VolGroup00', 'LogVol00')).toBe('VolGroup00-LogVol00');
    expect(mapperName('a', 'b-c')).toBe('a-b--c');
  });

  it("tells a group's nodes from those of a group whose name it starts", () => {
    expect(inGroup('a-root', 'a')).toBe(true);
    expect(inGroup('a--b-root', 'a')).toBe(false);
    expect(inGroup('a--b-root', 'a-b')).toBe(true);
    expect(inGroup('ab-root', 'a')).toBe(false);
    expect(inGroup('a-', 'a')).toBe(false);
  });

  it('knows a volume by the names fstab and kernel lines use', () => {
    const volume = { vg: 'xen-guest-vg', lv: 'root' };
    expect(namesVolume('/dev/mapper/xen--guest--vg-root', volume)).toBe(true);
    expect(namesVolume('/dev/xen-guest-vg/root', volume)).toBe(true);
    expect(namesVolume('xen-guest-vg/root', volume)).toBe(true);
    expect(namesVolume('/dev/mapper/xen-guest-vg-root', volume)).toBe(false);
    expect(namesVolume('/dev/xvda2', volume)).toBe(false);
  });
});

describe('LVM commands', () => {
  it('see only the given devices, write no metadata and keep no backup on the host', () => {
    const [devicesFlag, devices, configFlag, config] = lvmScope(['/dev/mapper/loop0p2', '/dev/loop3']);
    expect([devicesFlag, devices, configFlag]).toEqual([
      '--devices',
      '/dev/mapper/loop0p2,/dev/loop3',
      '--config',
    ]);
    expect(config).toContain('use_devicesfile = 0');
    expect(config).toContain('global_filter = [ "a|.*|" ]');
    expect(config).toContain('backup = 0 archive = 0');
    expect(config).toContain('metadata_read_only = 1');
    expect(config).not.toContain('read_only_volume_list');
  });

  it('activate a review read-only', () => {
    expect(lvmScope(['/dev/loop3'], ['vg0'])[3]).toContain(
      'activation { read_only_volume_list = [ "vg0" ] }',
    );
  });

  it('report through JSON', () => {
    const output = JSON.stringify({
      report: [{ lv: [{ vg_name: 'vg0', lv_name: 'root', lv_dm_path: '/dev/mapper/vg0-root' }] }],
    });
    expect(parseLvmReport(output, 'lv')).toEqual([
      { vg_name: 'vg0', lv_name: 'root', lv_dm_path: '/dev/mapper/vg0-root' },
    ]);
    expect(parseLvmReport(output, 'vg')).toEqual([]);
  });
});

describe("the guest's lvm.conf", () => {
  it('lets the filter accept the virtio disks, leaving comments and other settings alone', () => {
    const conf = [
      'devices {',
      '    # filter = [ "a|/dev/xvd.*|" ]',
      '    filter = [ "a|^/dev/xvd[a-z][0-9]*$|", "r|.*|" ]',
      '    global_filter = [ "a|/dev/xvda2|", "r|.*|" ]',
      '    preferred_names = [ "^/dev/xvd" ]',
      '    scan = [ "/dev" ]',
      '}',
    ].join('\n');
    expect(rewriteLvmConf(conf).split('\n')).toEqual([
      'devices {',
      '    # filter = [ "a|/dev/xvd.*|" ]',
      '    filter = [ "a|^/dev/vd[a-z][0-9]*$|", "r|.*|" ]',
      '    global_filter = [ "a|/dev/vda2|", "r|.*|" ]',
      '    preferred_names = [ "^/dev/vd" ]',
      '    scan = [ "/dev" ]',
      '}',
    ]);
  });
});
