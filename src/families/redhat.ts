/** Red Hat: RHEL, CentOS, Fedora and their rebuilds: dracut (6+) or mkinitrd (5), rpm, redhat-release. */
import { dracut, type InitrdTool } from '../guest/initrd-tools.js';
import { VIRTIO_DRIVERS } from '../guest/kvm-target.js';
import { DRACUT_PATHS, type FamilyProfile, hasAny, MKINITRD_PATHS, RPM } from './profile.js';

/** Red Hat's mkinitrd (RHEL/CentOS 5): --with for each module, -f to replace. */
const redhatMkinitrd: InitrdTool = {
  name: 'mkinitrd (Red Hat)',
  rebuild: (version, initrd, modules) => [
    'mkinitrd',
    '-f',
    ...[...VIRTIO_DRIVERS, ...modules].map((m) => `--with=${m}`),
    initrd,
    version,
  ],
  stateFiles: () => [],
  defaultInitrd: (version) => `/boot/initrd-${version}.img`,
  // From its sandbox it cannot see the root device, and it names modules a Xen kernel lacks.
  harmless: ['root device', 'no module .* found for kernel'],
};

const IDS = ['rhel', 'centos', 'fedora', 'rocky', 'almalinux', 'ol'];

export const redhatProfile: FamilyProfile = {
  family: 'redhat',
  label: 'Red Hat (RHEL, CentOS, Fedora)',
  ownsId: (id) => IDS.includes(id),
  fromReleaseFile(tree) {
    const text = tree.read('/etc/redhat-release');
    if (!text) return undefined;
    const version = /release (\d+(?:\.\d+)?)/.exec(text)?.[1] ?? '';
    const id = /centos/i.test(text) ? 'centos' : /fedora/i.test(text) ? 'fedora' : 'rhel';
    return { family: 'redhat', id, version, prettyName: text.trim() };
  },
  // RHEL 6 and later, then RHEL 5.
  initrdNames: [(v) => `initramfs-${v}.img`, (v) => `initrd-${v}.img`],
  initrdTool(tree) {
    if (hasAny(tree, DRACUT_PATHS)) return dracut((v) => `/boot/initramfs-${v}.img`);
    return hasAny(tree, MKINITRD_PATHS) ? redhatMkinitrd : undefined;
  },
  initrdToolNames: 'dracut or mkinitrd',
  kernelPackageHint: 'FILE.rpm (the kernel package)',
  packageTool: RPM,
};
