/** The guest rewrite steps, in the order they are planned and shown. */
import type { Step } from '../src/pipeline/types.js';
import { bootloaderStep } from './bootloader.js';
import { deviceMapStep } from './device-map.js';
import { fstabStep } from './fstab.js';
import { gettyStep } from './getty.js';
import { grubConfigStep } from './grub-config.js';
import { grubDefaultsStep } from './grub-defaults.js';
import { initramfsModulesStep } from './initramfs-modules.js';
import { initrdStep } from './initrd.js';
import { kernelPackageStep } from './kernel-package.js';
import { lvmConfigStep } from './lvm-config.js';
import { modprobeStep } from './modprobe.js';
import { networkStep } from './network.js';
import { securettyStep } from './securetty.js';
import { selinuxStep } from './selinux.js';
import { sysconfigStep } from './sysconfig.js';

export const guestSteps: readonly Step[] = [
  fstabStep,
  grubDefaultsStep,
  grubConfigStep,
  deviceMapStep,
  gettyStep,
  securettyStep,
  sysconfigStep,
  modprobeStep,
  lvmConfigStep,
  networkStep,
  initramfsModulesStep,
  kernelPackageStep,
  initrdStep,
  bootloaderStep,
  selinuxStep,
];
