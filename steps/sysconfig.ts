/**
 * /etc/sysconfig files of SUSE and Red Hat guests. `kernel`: the initrd module lists lose the Xen
 * drivers and gain virtio (SUSE INITRD_MODULES, DOMU_INITRD_MODULES), and Red Hat's DEFAULTKERNEL
 * stops naming the Xen flavour. `bootloader` (SUSE): the kernel arguments perl-Bootloader puts on
 * every future kernel's entry move to ttyS0 and virtio, so the next kernel update keeps KVM settings.
 */
import { convertKernelArgs } from '../src/guest/kernel-args.js';
import type { Step } from '../src/pipeline/types.js';

const VIRTIO_INITRD = ['virtio_blk', 'virtio', 'virtio_pci'];
const MODULE_LISTS = /^(\s*(?:DOMU_)?INITRD_MODULES=)(["']?)(.*?)\2(\s*)$/;
const APPEND_KEYS =
  /^(\s*(?:DEFAULT_APPEND|XEN_KERNEL_APPEND|XEN_APPEND|FAILSAFE_APPEND|KDUMP_APPEND)=)(["']?)(.*?)\2(\s*)$/;

export function rewriteSysconfigKernel(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const modules = MODULE_LISTS.exec(line);
      if (modules) {
        const [, key, quote, value = '', trailing] = modules;
        const kept = value.split(/\s+/).filter((m) => m && !/^xen/.test(m));
        for (const m of VIRTIO_INITRD) if (!kept.includes(m)) kept.push(m);
        return `${key}${quote || '"'}${kept.join(' ')}${quote || '"'}${trailing}`;
      }
      // Red Hat: the package new kernels are installed from.
      return line.replace(/^(\s*DEFAULTKERNEL=)(["']?)kernel-xen\2/, '$1$2kernel$2');
    })
    .join('\n');
}

export function rewriteSysconfigBootloader(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const match = APPEND_KEYS.exec(line);
      if (!match) return line;
      const [, key, quote, value = '', trailing] = match;
      const converted = convertKernelArgs(value, { extra: [], complete: false });
      return `${key}${quote}${converted}${quote}${trailing}`;
    })
    .join('\n');
}

export const sysconfigStep: Step = {
  id: 'sysconfig',
  title: 'Rewrite /etc/sysconfig kernel and bootloader settings',
  plan({ tree }) {
    const kernel = tree.read('/etc/sysconfig/kernel');
    if (kernel !== undefined) {
      tree.write(
        '/etc/sysconfig/kernel',
        rewriteSysconfigKernel(kernel),
        'sysconfig',
        'virtio in the initrd, no Xen kernel default',
      );
    }
    const bootloader = tree.read('/etc/sysconfig/bootloader');
    if (bootloader !== undefined) {
      tree.write(
        '/etc/sysconfig/bootloader',
        rewriteSysconfigBootloader(bootloader),
        'sysconfig',
        'future kernels boot on ttyS0 and virtio',
      );
    }
  },
};
