import { describe, expect, it } from 'vitest';
import { rewriteDeviceMap } from '../../steps/device-map.js';
import { rewriteFstab } from '../../steps/fstab.js';
import { rewriteInittab } from '../../steps/getty.js';
import { rewriteGrub2Config, rewriteKernelLines } from '../../steps/grub-config.js';
import { rewriteGrubDefaults } from '../../steps/grub-defaults.js';
import { addInitramfsModules, replaceModulesDep } from '../../steps/initramfs-modules.js';
import { rewriteSecuretty } from '../../steps/securetty.js';
import * as sample from './samples/index.js';

describe('fstab', () => {
  it('renames every xvd device and leaves UUID, LABEL, /dev/mapper and comments alone', () => {
    const out = rewriteFstab(sample.DEBIAN_XEN_TOOLS_FSTAB);
    expect(out).toContain('/dev/vda1 none swap sw 0 0');
    expect(out).toContain('/dev/vda2 / ext4 noatime,nodiratime,errors=remount-ro 0 1');
    expect(out).toContain('/dev/vdb1       /srv            xfs');
    expect(out).toContain('UUID=0a3407de-014b-458b-b5c1-848e92a327a3 /home ext4 defaults 0 2');
    expect(out).toContain('/dev/mapper/vg0-var /var ext4 defaults 0 2');
    expect(out).not.toMatch(/xvd/);
    expect(out.split('\n')).toHaveLength(sample.DEBIAN_XEN_TOOLS_FSTAB.split('\n').length);
  });

  it('keeps columns aligned', () => {
    const out = rewriteFstab(sample.SUSE_FSTAB);
    expect(out.split('\n')[1]).toBe(
      '/dev/vda2            /                    ext3       acl,user_xattr        1 1',
    );
  });

  it('is idempotent', () => {
    const once = rewriteFstab(sample.SUSE_FSTAB);
    expect(rewriteFstab(once)).toBe(once);
  });
});

describe('/etc/default/grub', () => {
  const policy = { extra: ['net.ifnames=0'] };
  it('moves the console to ttyS0 and root to virtio, and puts GRUB on the serial port', () => {
    const out = rewriteGrubDefaults(
      'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet console=hvc0"\nGRUB_CMDLINE_LINUX="root=/dev/xvda2"\n',
      policy,
    );
    expect(out).toBe(
      'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet console=ttyS0,115200"\nGRUB_CMDLINE_LINUX="root=/dev/vda2 console=ttyS0,115200 net.ifnames=0"\nGRUB_TERMINAL="console serial"\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n',
    );
  });
  it('adds GRUB_CMDLINE_LINUX when the file has none, and is idempotent', () => {
    const out = rewriteGrubDefaults('GRUB_TIMEOUT=5\n', policy);
    expect(out).toContain('GRUB_CMDLINE_LINUX="console=ttyS0,115200 net.ifnames=0"');
    expect(rewriteGrubDefaults(out, policy)).toBe(out);
  });
  it('keeps single quotes', () => {
    expect(rewriteGrubDefaults("GRUB_CMDLINE_LINUX='console=xvc0'\n", { extra: [] })).toContain(
      "GRUB_CMDLINE_LINUX='console=ttyS0,115200'",
    );
  });
});

describe('boot menus', () => {
  it('converts a grub-mkconfig kernel line and adds the serial terminal before the first entry', () => {
    const out = rewriteGrub2Config(sample.DEBIAN_GRUB_CFG, { extra: [] });
    expect(out).toContain(
      '\tlinux\t/boot/vmlinuz-6.1.0-18-amd64 root=UUID=0a3407de-014b-458b-b5c1-848e92a327a3 ro console=ttyS0,115200 quiet',
    );
    expect(out.indexOf('terminal_output serial console')).toBeLessThan(out.indexOf('menuentry'));
    expect(out).toContain("echo\t'Loading Linux 6.1.0-18-amd64 ...'");
    expect(rewriteGrub2Config(out, { extra: [] })).toBe(out);
  });
  it('converts a SUSE menu.lst kernel line (root, resume, xvc0)', () => {
    const out = rewriteKernelLines(sample.SUSE_MENU_LST, { extra: [] });
    expect(out).toContain(
      '    kernel /boot/vmlinuz-3.0.13-0.27-xen root=/dev/vda2 resume=/dev/vda1 splash=silent showopts console=ttyS0,115200',
    );
    expect(out).toContain('    initrd /boot/initrd-3.0.13-0.27-xen');
  });
  it('maps device.map to the virtio disk', () => {
    expect(rewriteDeviceMap('(hd0)\t/dev/xvda\n(hd1) /dev/xvdb\n')).toBe('(hd0)\t/dev/vda\n(hd1) /dev/vdb\n');
  });
});

describe('inittab', () => {
  it('Debian sysvinit: comments the hvc0 getty and enables the commented ttyS0 line at 115200', () => {
    const out = rewriteInittab(sample.DEBIAN_SYSVINIT_INITTAB);
    expect(out).toContain('#1:2345:respawn:/sbin/getty --noclear 38400 hvc0');
    expect(out).toContain('\nT0:23:respawn:/sbin/getty -L ttyS0 115200 vt100\n');
    expect(out).toContain('#T1:23:respawn:/sbin/getty -L ttyS1 9600 vt100');
    expect(rewriteInittab(out)).toBe(out);
  });
  it('SUSE: comments the S0 getty on xvc0 and enables the S0 ttyS0 line', () => {
    const out = rewriteInittab(sample.SUSE_INITTAB);
    expect(out).toContain('#S0:12345:respawn:/sbin/agetty -L 9600 xvc0 vt102');
    expect(out).toContain('\nS0:12345:respawn:/sbin/agetty -L 115200 ttyS0 vt102\n');
  });
  it('Red Hat: comments the co: getty on xvc0 and adds a ttyS0 getty with a free id', () => {
    const out = rewriteInittab(sample.REDHAT_INITTAB);
    expect(out).toContain('#co:2345:respawn:/sbin/agetty xvc0 9600 vt100-nav');
    expect(out).toContain('T0:2345:respawn:/sbin/getty -L ttyS0 115200 vt102');
    expect(out.match(/ttyS0/g)).toHaveLength(1);
  });
  it('leaves an inittab without a Xen console alone', () => {
    const text = '1:2345:respawn:/sbin/getty 38400 tty1\n';
    expect(rewriteInittab(text)).toBe(text);
  });
});

describe('securetty and initramfs-tools', () => {
  it('drops the Xen consoles from securetty and adds ttyS0 once', () => {
    const out = rewriteSecuretty(sample.SECURETTY);
    expect(out).toBe('console\nvc/1\ntty1\ntty2\nttyS0\n');
    expect(rewriteSecuretty(out)).toBe(out);
  });
  it('lists missing virtio modules once, whatever the dash/underscore spelling', () => {
    const out = addInitramfsModules('xen-blkfront\nvirtio-pci\n', ['virtio_pci', 'virtio_blk', 'ext4']);
    expect(out).toBe(
      'xen-blkfront\nvirtio-pci\n# KVM: virtio disk and network, and the root filesystem\nvirtio_blk\next4\n',
    );
    expect(addInitramfsModules(out, ['virtio_pci', 'virtio_blk', 'ext4'])).toBe(out);
  });
  it('replaces MODULES=dep, which would probe the host inside a chroot', () => {
    expect(replaceModulesDep(sample.INITRAMFS_CONF)).toContain('\nMODULES=most\n');
    expect(replaceModulesDep('MODULES=list\n')).toBe('MODULES=list\n');
  });
});
