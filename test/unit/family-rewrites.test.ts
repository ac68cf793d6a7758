import { describe, expect, it } from 'vitest';
import { rewriteGrubLegacyConfig } from '../../steps/grub-config.js';
import { rewriteModprobeAliases } from '../../steps/modprobe.js';
import { rewriteSysconfigBootloader, rewriteSysconfigKernel } from '../../steps/sysconfig.js';
import * as sample from './samples/index.js';

describe('SUSE and Red Hat configuration', () => {
  it('sysconfig/kernel: Xen drivers out of both initrd lists, virtio in, comments untouched', () => {
    const out = rewriteSysconfigKernel(sample.SUSE_SYSCONFIG_KERNEL);
    expect(out).toContain('\nINITRD_MODULES="processor thermal fan jbd ext3 virtio_blk virtio virtio_pci"\n');
    expect(out).toContain('\nDOMU_INITRD_MODULES="dm-mod virtio_blk virtio virtio_pci"\n');
    expect(out).toContain('# ramdisk that is created for unprivileged Xen domains (domU); you may need');
    expect(rewriteSysconfigKernel(out)).toBe(out);
  });
  it('sysconfig/kernel: Red Hat installs and boots the normal kernel package', () => {
    expect(rewriteSysconfigKernel(sample.REDHAT_SYSCONFIG_KERNEL)).toContain('\nDEFAULTKERNEL=kernel\n');
  });
  it('sysconfig/bootloader: future kernels get ttyS0 and virtio resume, other keys untouched', () => {
    const out = rewriteSysconfigBootloader(sample.SUSE_SYSCONFIG_BOOTLOADER);
    expect(out).toContain(
      '\nDEFAULT_APPEND="resume=/dev/vda1 splash=silent showopts console=ttyS0,115200"\n',
    );
    expect(out).toContain(
      '\nXEN_KERNEL_APPEND="resume=/dev/vda1 splash=silent showopts console=ttyS0,115200"\n',
    );
    expect(out).toContain('\nXEN_APPEND=""\n');
    expect(out).toContain('\nLOADER_TYPE="grub"\n');
    expect(rewriteSysconfigBootloader(out)).toBe(out);
  });
  it('modprobe.conf: scsi_hostadapter and ethN aliases move to virtio, options stay', () => {
    expect(rewriteModprobeAliases(sample.RHEL5_MODPROBE_CONF)).toBe(
      'alias eth0 virtio_net\nalias scsi_hostadapter virtio_blk\nalias eth1 virtio_net\noptions ip_conntrack hashsize=16384\n',
    );
  });
  it('menu.lst: SUSE gfxmenu commented (no graphics on a serial console), kernel line converted', () => {
    const out = rewriteGrubLegacyConfig(sample.SUSE_MENU_LST, { extra: [] });
    expect(out).toContain('\n#gfxmenu (hd0,1)/boot/message\n');
    expect(out).toContain('root=/dev/vda2 resume=/dev/vda1 splash=silent showopts console=ttyS0,115200');
    expect(rewriteGrubLegacyConfig(out, { extra: [] })).toBe(out);
  });
});

describe('network pinning and SELinux', async () => {
  const { rewriteIfcfg, rewritePersistentNetRules } = await import('../../steps/network.js');
  const { selinuxEnabled } = await import('../../steps/selinux.js');

  it('comments out udev rules that name a NIC by its MAC, and only those', () => {
    const rules = [
      '# Xen virtual device (vif)',
      'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="00:16:3e:5a:21:0c", KERNEL=="eth*", NAME="eth0"',
      'SUBSYSTEM=="net", ACTION=="add", KERNEL=="eth*", RUN+="/bin/true"',
    ].join('\n');
    expect(rewritePersistentNetRules(rules).split('\n')).toEqual([
      '# Xen virtual device (vif)',
      '#SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="00:16:3e:5a:21:0c", KERNEL=="eth*", NAME="eth0"',
      'SUBSYSTEM=="net", ACTION=="add", KERNEL=="eth*", RUN+="/bin/true"',
    ]);
  });

  it('comments out HWADDR in ifcfg files and leaves files without one alone', () => {
    expect(rewriteIfcfg('DEVICE=eth0\nHWADDR=00:16:3E:2B:7A:41\nONBOOT=yes\n')).toBe(
      'DEVICE=eth0\n# xen2kvm: the MAC below belonged to the Xen NIC\n#HWADDR=00:16:3E:2B:7A:41\nONBOOT=yes\n',
    );
    expect(rewriteIfcfg("BOOTPROTO='dhcp4'\n")).toBe("BOOTPROTO='dhcp4'\n");
  });

  it('relabels only when SELinux is enforcing or permissive', () => {
    expect(selinuxEnabled('SELINUX=enforcing\nSELINUXTYPE=targeted\n')).toBe(true);
    expect(selinuxEnabled('SELINUX=permissive\n')).toBe(true);
    expect(selinuxEnabled('SELINUX=disabled\n')).toBe(false);
    expect(selinuxEnabled(undefined)).toBe(false);
  });
});
