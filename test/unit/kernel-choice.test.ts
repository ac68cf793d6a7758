import { describe, expect, it } from 'vitest';
import { defaultEntry, grub2Entries, legacyEntries, menuDefaultVersion } from '../../src/guest/boot-menu.js';
import { kernelVersionsInListing, pathsInListing } from '../../src/guest/kernel-packages.js';
import { bootDefault } from '../../steps/grub-config.js';
import { newRoots } from '../../steps/kernel-package.js';

const DEBIAN_GRUB = `set default="0"
menuentry 'Debian GNU/Linux' --class debian {
	linux	/boot/vmlinuz-6.1.0-9-amd64 root=/dev/vda2 ro
	initrd	/boot/initrd.img-6.1.0-9-amd64
}
submenu 'Advanced options for Debian GNU/Linux' {
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-9-amd64' {
		if [ x$feature_all_video_module = xy ]; then
			insmod all_video
		fi
		linux	/boot/vmlinuz-6.1.0-9-amd64 root=/dev/vda2 ro
	}
	menuentry 'Debian GNU/Linux, with Linux 5.10.0-8-amd64' {
		linux	/boot/vmlinuz-5.10.0-8-amd64 root=/dev/vda2 ro
	}
}
`;

// SUSE 11 as its installer wrote it for a Xen guest: the Xen kernel first, the default kernel second.
const SUSE_MENU = `# Modified by YaST2.
default 0
timeout 8
gfxmenu (hd0,1)/boot/message

title Xen -- SUSE Linux Enterprise Server 11 SP4 - 3.0.101-63
    root (hd0,1)
    kernel /boot/vmlinuz-3.0.101-63-xen root=/dev/xvda2 console=xvc0
    initrd /boot/initrd-3.0.101-63-xen

title SUSE Linux Enterprise Server 11 SP4 - 3.0.101-63
    root (hd0,1)
    kernel /boot/vmlinuz-3.0.101-63-default root=/dev/xvda2
    initrd /boot/initrd-3.0.101-63-default
`;

describe('boot menus', () => {
  it('count GRUB 2 entries the way `set default` does, submenus included', () => {
    const entries = grub2Entries(DEBIAN_GRUB);
    expect(entries.map((e) => [e.path, e.version])).toEqual([
      ['0', '6.1.0-9-amd64'],
      ['1>0', '6.1.0-9-amd64'],
      ['1>1', '5.10.0-8-amd64'],
    ]);
    expect(defaultEntry(DEBIAN_GRUB, entries, false)?.path).toBe('0');
    expect(bootDefault(DEBIAN_GRUB, '5.10.0-8-amd64', false)).toContain('set default="1>1"\n');
    expect(bootDefault(DEBIAN_GRUB, '6.1.0-9-amd64', false)).toBe(DEBIAN_GRUB);
  });

  it('switch a SUSE menu from its Xen kernel to the default kernel beside it', () => {
    expect(legacyEntries(SUSE_MENU).map((e) => e.version)).toEqual(['3.0.101-63-xen', '3.0.101-63-default']);
    expect(menuDefaultVersion([{ text: SUSE_MENU, legacy: true }])).toBe('3.0.101-63-xen');
    const switched = bootDefault(SUSE_MENU, '3.0.101-63-default', true);
    expect(switched).toMatch(/^default 1$/m);
    expect(switched.replace(/^default 1$/m, 'default 0')).toBe(SUSE_MENU);
  });

  it('add an entry for a kernel being installed, copied from the default one, and boot it', () => {
    const added = bootDefault(SUSE_MENU, '3.0.101-108-default', true);
    const entries = legacyEntries(added);
    expect(entries.map((e) => e.version)).toEqual([
      '3.0.101-108-default',
      '3.0.101-63-xen',
      '3.0.101-63-default',
    ]);
    expect(added).toMatch(/^default 0$/m);
    expect(added).toContain('    kernel /boot/vmlinuz-3.0.101-108-default root=/dev/xvda2 console=xvc0\n');
    expect(added).toContain('    initrd /boot/initrd-3.0.101-108-default\n');
    const warnings: string[] = [];
    expect(bootDefault('set default=0\n', '1.0', false, (w) => warnings.push(w))).toBe('set default=0\n');
    expect(warnings[0]).toMatch(/no menu entry with a kernel line to copy for kernel 1\.0/);
  });
});

// openSUSE 11.4 as YaST wrote it for a guest with only the Xen kernel: a title that does not spell
// the version, and YaST's identifier comment above it.
const OPENSUSE_MENU = `# Modified by YaST2. Last modification on Sat Oct  1 12:00:00 UTC 2011
default 0
timeout 8
gfxmenu (hd0,1)/boot/message
##YaST - activate

###Don't change this comment - YaST2 identifier: Original name: xen###
title openSUSE 11.4 - 2.6.37.6-0.5 (xen)
    root (hd0,1)
    kernel /boot/vmlinuz-2.6.37.6-0.5-xen root=/dev/xvda2 console=xvc0
    initrd /boot/initrd-2.6.37.6-0.5-xen
`;

describe('a new entry beside a Xen one', () => {
  it("carries a title naming its kernel, and YaST's identifier stays with the entry it names, once", () => {
    const added = bootDefault(OPENSUSE_MENU, '2.6.37.6-0.5-default', true);
    expect(added).toContain(
      '##YaST - activate\n\ntitle openSUSE 11.4 - 2.6.37.6-0.5-default\n    root (hd0,1)\n    kernel /boot/vmlinuz-2.6.37.6-0.5-default root=/dev/xvda2 console=xvc0\n',
    );
    expect(added).toContain(
      "\n###Don't change this comment - YaST2 identifier: Original name: xen###\ntitle openSUSE 11.4 - 2.6.37.6-0.5 (xen)\n",
    );
    expect(added.match(/YaST2 identifier/g)).toHaveLength(1);
    expect(legacyEntries(added).map((e) => e.version)).toEqual(['2.6.37.6-0.5-default', '2.6.37.6-0.5-xen']);
    expect(added).toMatch(/^default 0$/m);
  });

  it("SLES' Xen title loses its Xen mark; a title spelling the version gets the new one", () => {
    const sles = bootDefault(SUSE_MENU.replace(/title SUSE[\s\S]*$/, ''), '3.0.101-108-default', true);
    expect(sles).toContain('title SUSE Linux Enterprise Server 11 SP4 - 3.0.101-108-default\n');
    const centos = `default 0\ntitle CentOS (2.6.18-398.el5xen)\n    kernel /vmlinuz-2.6.18-398.el5xen ro root=/dev/xvda2\n`;
    expect(bootDefault(centos, '2.6.18-398.el5', true)).toContain('title CentOS (2.6.18-398.el5)\n');
    // anaconda's grub.conf spells it default=N: the setting is changed in place, in that spelling.
    const anaconda = `default=0\ntimeout=5\ntitle CentOS (2.6.32-754.el6xen)\n    kernel /vmlinuz-2.6.32-754.el6xen ro\ntitle CentOS (2.6.32-754.el6)\n    kernel /vmlinuz-2.6.32-754.el6 ro\n`;
    const moved = bootDefault(anaconda, '2.6.32-754.el6', true);
    expect(moved).toMatch(/^default=1\ntimeout=5\n/);
    expect(moved.match(/default/g)).toHaveLength(1);
    const spelled = `default 0\ntitle SUSE Linux Enterprise Server 11 SP4 - 3.0.101-63-xen (xen)\n    kernel /boot/vmlinuz-3.0.101-63-xen root=/dev/xvda2\n`;
    expect(bootDefault(spelled, '3.0.101-63-default', true)).toContain(
      'title SUSE Linux Enterprise Server 11 SP4 - 3.0.101-63-default\n',
    );
  });
});

describe('kernel packages', () => {
  it('name the kernels and paths they install, from dpkg-deb -c and rpm -qlp listings', () => {
    const deb = [
      'drwxr-xr-x root/root         0 2026-11-16 10:17 ./',
      'drwxr-xr-x root/root         0 2026-11-16 10:17 ./boot/',
      '-rw-r--r-- root/root  14186432 2026-11-16 10:17 ./boot/vmlinuz-6.1.0-56-cloud-amd64',
      '-rw-r--r-- root/root     23121 2026-11-16 10:17 ./lib/modules/6.1.0-56-cloud-amd64/kernel/a.ko',
    ].join('\n');
    expect(kernelVersionsInListing(deb)).toEqual(['6.1.0-56-cloud-amd64']);
    expect(pathsInListing(deb)).toEqual([
      '/boot',
      '/boot/vmlinuz-6.1.0-56-cloud-amd64',
      '/lib/modules/6.1.0-56-cloud-amd64/kernel/a.ko',
    ]);
    const rpm = '/boot/vmlinuz-3.10.0-1160.el7.x86_64\n/lib/modules/3.10.0-1160.el7.x86_64/kernel/b.ko.xz';
    expect(kernelVersionsInListing(rpm)).toEqual(['3.10.0-1160.el7.x86_64']);
  });

  it('are journaled by their new branches and the files they replace, never by shared directories', () => {
    const existing = new Map<string, 'dir' | 'file'>([
      ['/lib', 'dir'],
      ['/lib/modules', 'dir'],
      ['/usr/share/doc', 'dir'],
      ['/etc/kernel/postinst.d/zz-hook', 'file'],
      ['/etc/kernel/postinst.d', 'dir'],
      ['/etc/kernel', 'dir'],
      ['/etc', 'dir'],
    ]);
    const roots = newRoots(
      [
        '/lib',
        '/lib/modules',
        '/lib/modules/6.1/kernel',
        '/lib/modules/6.1',
        '/lib/modules/6.1/kernel/a.ko',
        '/usr/share/doc/linux-image-6.1/changelog.gz',
        '/usr/share/doc/linux-image-6.1',
        '/etc/kernel/postinst.d/zz-hook',
      ],
      (path) => existing.get(path) ?? 'absent',
    );
    expect(roots).toEqual([
      '/etc/kernel/postinst.d/zz-hook',
      '/lib/modules/6.1',
      '/usr/share/doc/linux-image-6.1',
    ]);
  });

  it('are journaled by their highest new directory when the package lists files only (an rpm without %dir)', () => {
    const existing = new Map<string, 'dir' | 'file'>([
      ['/usr', 'dir'],
      ['/usr/lib', 'dir'],
      ['/usr/lib/modules', 'dir'],
    ]);
    const roots = newRoots(
      [
        '/usr/lib/modules/6.1/kernel/fs/ext4/ext4.ko',
        '/usr/lib/modules/6.1/modules.order',
        '/usr/lib/modules/6.1/kernel/drivers/block/virtio_blk.ko',
      ],
      (path) => existing.get(path) ?? 'absent',
    );
    expect(roots).toEqual(['/usr/lib/modules/6.1']);
  });
});
