/**
 * Module aliases of older Red Hat and SUSE guests (modprobe.conf, modules.conf, modprobe.d): the
 * Xen block and network drivers they name become the virtio ones, as mkinitrd reads them to decide
 * what goes into the initrd.
 */
import type { Step } from '../src/pipeline/types.js';

const BLOCK = /^(\s*alias\s+scsi_hostadapter\d*\s+)(xenblk|xen-vbd|xen_vbd|xen-blkfront)(\s*)$/;
const NET = /^(\s*alias\s+eth\d+\s+)(xennet|xen-vnif|xen_vnif|xen-netfront)(\s*)$/;

export function rewriteModprobeAliases(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(BLOCK, '$1virtio_blk$3').replace(NET, '$1virtio_net$3'))
    .join('\n');
}

export const MODPROBE_FILES = ['/etc/modprobe.conf', '/etc/modules.conf'];

export const modprobeStep: Step = {
  id: 'modprobe',
  title: 'Point module aliases at the virtio drivers',
  plan({ tree }) {
    const files = [
      ...MODPROBE_FILES,
      ...tree
        .list('/etc/modprobe.d')
        .filter((n) => n.endsWith('.conf'))
        .map((n) => `/etc/modprobe.d/${n}`),
    ];
    for (const path of files) {
      tree.rewrite(path, rewriteModprobeAliases, 'virtio instead of the Xen drivers');
    }
  },
};
