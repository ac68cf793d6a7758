/**
 * /etc/sysconfig files of SUSE and Red Hat guests. `kernel`: the initrd module lists lose the Xen
 * drivers and gain virtio (SUSE INITRD_MODULES, DOMU_INITRD_MODULES), and Red Hat's DEFAULTKERNEL
 * stops naming the Xen flavour. `bootloader` (SUSE): the kernel arguments perl-Bootloader puts on
 * every future kernel's entry move to ttyS0 and virtio, so the next kernel update keeps KVM settings.
 */
import { convertKernelArgs } from '../src/guest/kernel-args.js';
import { VIRTIO_INITRD_MODULES } from '../src/guest/kvm-target.js';
import { rewriteAssignments } from '../src/guest/shell-assignments.js';
import type { Step } from '../src/pipeline/types.js';

const MODULE_LISTS = /(?:DOMU_)?INITRD_MODULES/;
const APPEND_KEYS = /DEFAULT_APPEND|XEN_KERNEL_APPEND|XEN_APPEND|FAILSAFE_APPEND|KDUMP_APPEND/;

export function rewriteSysconfigKernel(text: string): string {
  const modules = rewriteAssignments(
    text,
    MODULE_LISTS,
    (value) => {
      const kept = value.split(/\s+/).filter((m) => m && !/^xen/.test(m));
      for (const m of VIRTIO_INITRD_MODULES) if (!kept.includes(m)) kept.push(m);
      return kept.join(' ');
    },
    { bare: 'quote' },
  );
  // Red Hat: the package new kernels are installed from.
  return rewriteAssignments(
    modules,
    /DEFAULTKERNEL/,
    (value) => (value === 'kernel-xen' ? 'kernel' : value),
    {
      bare: 'keep',
    },
  );
}

export function rewriteSysconfigBootloader(text: string): string {
  return rewriteAssignments(
    text,
    APPEND_KEYS,
    (value) => convertKernelArgs(value, { extra: [], complete: false }),
    { bare: 'keep' },
  );
}

export const sysconfigStep: Step = {
  id: 'sysconfig',
  title: 'Rewrite /etc/sysconfig kernel and bootloader settings',
  plan({ tree }) {
    tree.rewrite(
      '/etc/sysconfig/kernel',
      rewriteSysconfigKernel,
      'virtio in the initrd, no Xen kernel default',
    );
    tree.rewrite(
      '/etc/sysconfig/bootloader',
      rewriteSysconfigBootloader,
      'future kernels boot on ttyS0 and virtio',
    );
  },
};
