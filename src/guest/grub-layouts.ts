/** Where GRUB keeps its menu and tools in a guest, for the rewrites and the bootloader install. */

export const GRUB2_CONFIG = '/boot/grub/grub.cfg';

/** GRUB 2 as Debian installs it (grub, grub-install) and as Red Hat and SUSE do (grub2, grub2-install). */
export const GRUB2_LAYOUTS = [
  { config: GRUB2_CONFIG, dir: '/boot/grub', install: 'grub-install' },
  { config: '/boot/grub2/grub.cfg', dir: '/boot/grub2', install: 'grub2-install' },
] as const;

/** GRUB legacy's menu: SUSE's menu.lst, Red Hat's grub.conf. */
export const GRUB_LEGACY_CONFIGS = ['/boot/grub/menu.lst', '/boot/grub/grub.conf'];
