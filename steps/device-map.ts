/** /boot/grub/device.map: GRUB's BIOS drive (hd0) is the virtio disk now. */
import { toKvmDevice } from '../src/guest/device-names.js';
import type { Step } from '../src/pipeline/types.js';

export function rewriteDeviceMap(text: string): string {
  return toKvmDevice(text);
}

export const deviceMapStep: Step = {
  id: 'device-map',
  title: 'Rewrite /boot/grub/device.map',
  plan({ tree }) {
    const text = tree.read('/boot/grub/device.map');
    if (text !== undefined) {
      tree.write('/boot/grub/device.map', rewriteDeviceMap(text), 'device-map', '(hd0) is the virtio disk');
    }
  },
};
