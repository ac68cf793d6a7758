/** A Xen configuration whose disks were copied here: each copied disk read from its local file. */
import type { XenGuestConfig } from './guest-config.js';

export function withLocalDisks(config: XenGuestConfig, files: Record<string, string> = {}): XenGuestConfig {
  if (Object.keys(files).length === 0) return config;
  return {
    ...config,
    disks: config.disks.map((disk) => {
      const file = files[disk.vdev];
      // The copy is a plain file in the disk's own format, wherever the original lived.
      return file ? { ...disk, source: file, block: false, network: undefined } : disk;
    }),
  };
}
