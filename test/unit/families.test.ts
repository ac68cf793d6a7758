/** The family profiles: recognition, the initrd tool each picks, kernel packages, refusals. */
import { describe, expect, it } from 'vitest';
import { FAMILIES, packageToolFor, profileOf, supportedFamilies } from '../../src/families/index.js';
import { findKernels } from '../../src/inspect/kernels.js';
import { detectOs } from '../../src/inspect/os-release.js';
import { isHarmless } from '../../src/pipeline/apply.js';
import { guestWith } from '../helpers/guest-files.js';

const tool = (family: 'debian' | 'redhat' | 'suse', files: Record<string, string>) =>
  profileOf(family)?.initrdTool(guestWith(files));

describe('family profiles', () => {
  it('recognise their os-release IDs and ID_LIKE, and leave others unknown', () => {
    const os = (text: string) => detectOs(guestWith({ '/etc/os-release': text }))?.family;
    expect(os('ID=ubuntu\n')).toBe('debian');
    expect(os('ID=rocky\nID_LIKE="rhel centos fedora"\n')).toBe('redhat');
    expect(os('ID="sles"\n')).toBe('suse');
    expect(os('ID=opensuse-leap\n')).toBe('suse');
    expect(os('ID=linuxmint\nID_LIKE="ubuntu debian"\n')).toBe('debian');
    expect(os('ID=arch\n')).toBe('unknown');
    expect(profileOf('unknown')).toBeUndefined();
  });

  it('try the old release files SUSE and Red Hat first: a stray debian_version does not decide', () => {
    const release = (files: Record<string, string>) => detectOs(guestWith(files))?.family;
    const stray = { '/etc/debian_version': '7.0\n' };
    expect(
      release({ ...stray, '/etc/SuSE-release': 'SUSE Linux Enterprise Server 11\nVERSION = 11\n' }),
    ).toBe('suse');
    expect(release({ ...stray, '/etc/redhat-release': 'CentOS release 5.11 (Final)\n' })).toBe('redhat');
  });

  it('pick the initrd tool their releases use, dracut first where it replaced the old one', () => {
    const initramfs = { '/usr/sbin/update-initramfs': '', '/etc/initramfs-tools/modules': '' };
    expect(tool('debian', initramfs)?.name).toBe('update-initramfs');
    expect(tool('debian', { '/usr/bin/dracut': '' })?.defaultInitrd('6.1')).toBe('/boot/initrd.img-6.1');
    expect(tool('redhat', { '/sbin/mkinitrd': '' })?.name).toBe('mkinitrd (Red Hat)');
    expect(tool('redhat', { '/sbin/mkinitrd': '', '/sbin/dracut': '' })?.defaultInitrd('2.6.32')).toBe(
      '/boot/initramfs-2.6.32.img',
    );
    expect(tool('suse', { '/sbin/mkinitrd': '' })?.name).toBe('mkinitrd (SUSE)');
    expect(tool('suse', { '/usr/bin/dracut': '' })?.defaultInitrd('4.12')).toBe('/boot/initrd-4.12');
    expect(tool('suse', {})).toBeUndefined();
  });

  it("keep the mkinitrds' complaints about the root device harmless, and nothing else", () => {
    const suse = tool('suse', { '/sbin/mkinitrd': '' })?.harmless ?? [];
    expect(isHarmless(suse, 'Could not find the root device')).toBe(true);
    expect(isHarmless(suse, 'gzip: write error: No space left on device')).toBe(false);
    const redhat = tool('redhat', { '/sbin/mkinitrd': '' })?.harmless ?? [];
    expect(isHarmless(redhat, 'No module xenblk found for kernel 2.6.18')).toBe(true);
    expect(tool('debian', { '/usr/bin/dracut': '' })?.harmless).toEqual([]);
  });

  it("find a kernel's initrd under each family's name", () => {
    const tree = guestWith({
      '/boot/vmlinuz-6.1.0-28-amd64': '',
      '/boot/initrd.img-6.1.0-28-amd64': '',
      '/boot/vmlinuz-2.6.32-754.el6.x86_64': '',
      '/boot/initramfs-2.6.32-754.el6.x86_64.img': '',
      '/boot/vmlinuz-2.6.18-398.el5': '',
      '/boot/initrd-2.6.18-398.el5.img': '',
      '/boot/vmlinuz-3.0.101-63-default': '',
      '/boot/initrd-3.0.101-63-default': '',
    });
    expect(Object.fromEntries(findKernels(tree).map((k) => [k.version, k.initrd]))).toEqual({
      '6.1.0-28-amd64': '/boot/initrd.img-6.1.0-28-amd64',
      '3.0.101-63-default': '/boot/initrd-3.0.101-63-default',
      '2.6.32-754.el6.x86_64': '/boot/initramfs-2.6.32-754.el6.x86_64.img',
      '2.6.18-398.el5': '/boot/initrd-2.6.18-398.el5.img',
    });
  });

  it('install kernel packages with the tool of their format, recording its database', () => {
    expect(packageToolFor('deb').install(['/tmp/k.deb'])).toEqual(['dpkg', '-i', '/tmp/k.deb']);
    expect(packageToolFor('rpm').install(['/tmp/k.rpm'])).toEqual(['rpm', '-Uhv', '/tmp/k.rpm']);
    expect(packageToolFor('deb').state).toContain('/var/lib/dpkg');
    expect(packageToolFor('rpm').state).toEqual(['/var/lib/rpm']);
  });

  it('name every family in the refusal of an unsupported guest', () => {
    expect(supportedFamilies()).toBe(
      'Debian, Ubuntu, Red Hat (RHEL, CentOS, Fedora) and SUSE (SLES, openSUSE)',
    );
    expect(FAMILIES.map((p) => p.family)).toEqual(['debian', 'redhat', 'suse']);
  });
});
