/** Looks at an image's boot sector without attaching it. */
import { closeSync, openSync, readSync } from 'node:fs';

/** Bytes 0..439 of an MBR hold boot code; 440.. hold the disk signature and the partition table. */
const BOOT_CODE_BYTES = 440;

/** The first `length` bytes of an image (zeros past its end): boot code, boot area, a GPT's head. */
export function readImageHead(image: string, length: number): Buffer {
  const fd = openSync(image, 'r');
  try {
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, 0);
    return buffer;
  } finally {
    closeSync(fd);
  }
}

export async function readBootCode(image: string): Promise<Buffer> {
  return readImageHead(image, BOOT_CODE_BYTES);
}

/** Xen PV guests booted by pygrub often have an all-zero boot code area: SeaBIOS would run zeros. */
export function hasBootCode(bootCode: Buffer): boolean {
  return bootCode.some((byte) => byte !== 0);
}

/** Names the loader whose code is in the boot sector, when it is a well-known one. */
export function identifyBootCode(bootCode: Buffer): string {
  if (!hasBootCode(bootCode)) return 'none';
  if (bootCode.includes(Buffer.from('GRUB'))) return 'grub';
  if (bootCode.includes(Buffer.from('SYSLINUX')) || bootCode.includes(Buffer.from('MBR'))) return 'other';
  return 'unknown';
}
