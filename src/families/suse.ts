/** SUSE: SLES and openSUSE: dracut (12+) or SUSE's own mkinitrd (10/11), rpm, SuSE-release. */
import { dracut, type InitrdTool } from '../guest/initrd-tools.js';
import { VIRTIO_DRIVERS } from '../guest/kvm-target.js';
import { DRACUT_PATHS, type FamilyProfile, hasAny, MKINITRD_PATHS, RPM } from './profile.js';

/** SUSE's mkinitrd (SLES 10/11): modules from -m, on top of INITRD_MODULES in /etc/sysconfig/kernel. */
const suseMkinitrd: InitrdTool = {
  name: 'mkinitrd (SUSE)',
  rebuild: (version, initrd, modules) => [
    'mkinitrd',
    '-k',
    `/boot/vmlinuz-${version}`,
    '-i',
    initrd,
    '-m',
    [...VIRTIO_DRIVERS, ...modules].join(' '),
  ],
  stateFiles: () => [],
  defaultInitrd: (version) => `/boot/initrd-${version}`,
  // From its sandbox it cannot see the root device, and says so in several ways.
  harmless: ['root device', 'could not find the root', 'no root device'],
};

export const suseProfile: FamilyProfile = {
  family: 'suse',
  label: 'SUSE (SLES, openSUSE)',
  ownsId: (id) => id === 'suse' || id.startsWith('sles') || id.startsWith('opensuse'),
  fromReleaseFile(tree) {
    const text = tree.read('/etc/SuSE-release');
    if (!text) return undefined;
    const version = /VERSION\s*=\s*(\S+)/.exec(text)?.[1] ?? '';
    const id = /enterprise/i.test(text) ? 'sles' : 'opensuse';
    return { family: 'suse', id, version, prettyName: text.split('\n')[0]?.trim() ?? id };
  },
  initrdNames: [(v) => `initrd-${v}`],
  initrdTool(tree) {
    if (hasAny(tree, DRACUT_PATHS)) return dracut((v) => `/boot/initrd-${v}`);
    return hasAny(tree, MKINITRD_PATHS) ? suseMkinitrd : undefined;
  },
  initrdToolNames: 'dracut or mkinitrd',
  kernelPackageHint: 'FILE.rpm (kernel-default, with kernel-default-base on SLES 12)',
  packageTool: RPM,
};
