/**
 * The guest's own LVM configuration. A device filter written for Xen ("a|/dev/xvd.*|", "r|.*|")
 * would hide the physical volume once the disk is vda, and the root volume group would never be
 * found at boot; the device cache of LVM 2.02 (/etc/lvm/cache/.cache) lists the Xen names and is
 * rebuilt by LVM when absent.
 */
import type { Step } from '../src/pipeline/types.js';

const LVM_CONF = '/etc/lvm/lvm.conf';
export const LVM_DEVICE_CACHE = '/etc/lvm/cache/.cache';

/** Settings that name devices; only their values are rewritten, never comments. */
const DEVICE_SETTINGS = /^(\s*(?:filter|global_filter|preferred_names)\s*=)(.*)$/;

export function rewriteLvmConf(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const match = DEVICE_SETTINGS.exec(line);
      return match ? `${match[1]}${(match[2] ?? '').replaceAll('xvd', 'vd')}` : line;
    })
    .join('\n');
}

export const lvmConfigStep: Step = {
  id: 'lvm-config',
  title: "Point the guest's LVM device filter at the virtio disks",
  plan({ tree }) {
    tree.rewrite(LVM_CONF, rewriteLvmConf, 'the filter must accept the vd disks');
    if (tree.exists(LVM_DEVICE_CACHE))
      tree.remove(LVM_DEVICE_CACHE, 'it lists the Xen device names; LVM rebuilds it');
  },
};
