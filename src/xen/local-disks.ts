/**
 * --disk XENDEV=FILE, the guest's Xen disks given as files here; and a Xen configuration whose
 * disks were copied here, each copied disk read from its local file.
 */
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { XenGuestConfig } from './guest-config.js';

/** One --disk value: the Xen device as written, without /dev/, and the file; undefined when it is not XENDEV=FILE. */
function diskOption(option: string): { vdev: string; file: string } | undefined {
  const match = /^([a-z/]+\d*)=(.+)$/.exec(option);
  return match?.[1] && match[2] ? { vdev: match[1].replace(/^\/dev\//, ''), file: match[2] } : undefined;
}

/** One --disk value, or the one-line refusal of a malformed one. */
export function parseDiskOption(option: string): { vdev: string; file: string } {
  const disk = diskOption(option);
  if (!disk) throw new UserError(`--disk ${option}: expected XENDEVICE=FILE, e.g. --disk xvda1=swap.img`, 2);
  return disk;
}

/** --disk values as Xen device -> absolute file; a malformed one is left to the check that reads it (parseDiskOption). */
export function diskFiles(options: readonly string[]): Record<string, string> {
  const files: Record<string, string> = {};
  for (const disk of options.map(diskOption)) if (disk) files[disk.vdev] = resolve(disk.file);
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
