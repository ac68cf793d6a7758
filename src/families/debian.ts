/** Debian and Ubuntu: initramfs-tools (or dracut where it replaced it), dpkg, /etc/debian_version. */
import { dracut, type InitrdTool } from '../guest/initrd-tools.js';
import { DRACUT_PATHS, type FamilyProfile, hasAny } from './profile.js';

const initramfsTools: InitrdTool = {
  name: 'update-initramfs',
  // The drivers come from /etc/initramfs-tools/modules, which the initramfs-modules step writes.
  rebuild: (version) => ['update-initramfs', '-u', '-k', version],
  stateFiles: (version) => [`/var/lib/initramfs-tools/${version}`],
  defaultInitrd: (version) => `/boot/initrd.img-${version}`,
  harmless: [],
};

export const debianProfile: FamilyProfile = {
  family: 'debian',
  label: 'Debian, Ubuntu',
  ownsId: (id) => id === 'debian' || id === 'ubuntu',
  fromReleaseFile(tree) {
    const text = tree.read('/etc/debian_version');
    if (!text) return undefined;
    const version = text.trim();
    return { family: 'debian', id: 'debian', version, prettyName: `Debian GNU/Linux ${version}` };
  },
  initrdNames: [(v) => `initrd.img-${v}`],
  initrdTool(tree) {
    if (tree.exists('/usr/sbin/update-initramfs') && tree.exists('/etc/initramfs-tools'))
      return initramfsTools;
    if (hasAny(tree, DRACUT_PATHS)) return dracut((v) => `/boot/initrd.img-${v}`);
    return undefined;
  },
  initrdToolNames: 'update-initramfs or dracut',
  kernelPackageHint: 'FILE.deb (a linux-image-VERSION-amd64 package, from apt-get download)',
  packageTool: {
    format: 'deb',
    binaries: ['/usr/bin/dpkg', '/bin/dpkg'],
    install: (packages) => ['dpkg', '-i', ...packages],
    // Debian's kernel hooks move the /vmlinuz and /initrd.img links; dpkg logs every install.
    state: [
      '/var/lib/dpkg',
      '/vmlinuz',
      '/vmlinuz.old',
      '/initrd.img',
      '/initrd.img.old',
      '/var/log/dpkg.log',
    ],
  },
};
