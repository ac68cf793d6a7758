/** A Xen configuration whose disks were copied here: each copied disk read from its local file. */
import { resolve } from 'node:path';
import type { XenGuestConfig } from './guest-config.js';

/** --disk XENDEV=FILE values as Xen device -> absolute file (malformed ones are left to givenDisks' message). */
export function diskFiles(options: readonly string[]): Record<string, string> {
  const files: Record<string, string> = {};
  for (const option of options) {
    const match = /^(?:\/dev\/)?([a-z]+\d*)=(.+)$/.exec(option);
    if (match?.[1] && match[2]) files[match[1]] = resolve(match[2]);
  }
  return files;
}

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
