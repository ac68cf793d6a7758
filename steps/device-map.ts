/** /boot/grub/device.map: GRUB's BIOS drive (hd0) is the virtio disk now. */
import { type DeviceRenames, toKvmDevice } from '../src/guest/device-names.js';
import type { Step } from '../src/pipeline/types.js';

export function rewriteDeviceMap(text: string, renames?: DeviceRenames): string {
  return toKvmDevice(text, renames);
}

export const deviceMapStep: Step = {
  id: 'device-map',
  title: "Rewrite GRUB's device.map",
  plan({ tree, guest }) {
    for (const path of ['/boot/grub/device.map', '/boot/grub2/device.map']) {
      tree.rewrite(path, (text) => rewriteDeviceMap(text, guest.renames), '(hd0) is the virtio disk');
    }
  },
};
