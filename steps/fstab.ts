/** /etc/fstab: every /dev/xvdX device becomes /dev/vdX. UUID=, LABEL= and /dev/mapper entries need nothing. */
import { type DeviceRenames, toKvmDevice } from '../src/guest/device-names.js';
import type { Step } from '../src/pipeline/types.js';

export function rewriteFstab(text: string, renames?: DeviceRenames): string {
  return text
    .split('\n')
    .map((line) => {
      const match = /^(\s*)(\S+)(.*)$/.exec(line);
      if (!match || line.trimStart().startsWith('#')) return line;
      const [, indent, device = '', rest = ''] = match;
      const converted = toKvmDevice(device, renames);
      // Keep space-aligned columns aligned: pad a shorter name when the file lines its fields up.
      const aligned = /^ {2,}/.test(rest);
      const pad =
        aligned && converted.length < device.length ? ' '.repeat(device.length - converted.length) : '';
      return `${indent}${converted}${pad}${rest}`;
    })
    .join('\n');
}

export const fstabStep: Step = {
  id: 'fstab',
  title: 'Rewrite /etc/fstab for virtio disks',
  plan({ tree, guest }) {
    tree.rewrite('/etc/fstab', (text) => rewriteFstab(text, guest.renames), 'Xen disk names to virtio');
  },
};
