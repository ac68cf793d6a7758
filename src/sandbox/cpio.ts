/**
 * A cpio archive in the "newc" format, the one the Linux kernel unpacks as an initramfs. Written
 * here rather than by the cpio program because the appliance's archive is a handful of entries
 * built in memory, each with the exact owner and mode it needs (root, whoever runs xen2kvm).
 */

export type CpioEntry =
  | { path: string; type: 'dir'; mode?: number }
  | { path: string; type: 'file'; data: Uint8Array | string; mode?: number }
  | { path: string; type: 'char'; major: number; minor: number; mode?: number };

const TYPE_BITS = { dir: 0o040000, file: 0o100000, char: 0o020000 } as const;
const DEFAULT_MODE = { dir: 0o755, file: 0o644, char: 0o600 } as const;

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function record(ino: number, name: string, mode: number, data: Buffer, rdev: [number, number]): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`);
  const fields = [ino, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
  const header = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
  return [header, nameBytes, pad4(header.length + nameBytes.length), data, pad4(data.length)];
}

/** The archive of `entries`, in order (a directory must come before what it holds). */
export function newcArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((entry, index) => {
    const name = entry.path.replace(/^\/+/, '');
    const mode = TYPE_BITS[entry.type] | (entry.mode ?? DEFAULT_MODE[entry.type]);
    const data = entry.type === 'file' ? Buffer.from(entry.data) : Buffer.alloc(0);
    const rdev: [number, number] = entry.type === 'char' ? [entry.major, entry.minor] : [0, 0];
    parts.push(...record(index + 1, name, mode, data, rdev));
  });
  parts.push(...record(0, 'TRAILER!!!', 0, Buffer.alloc(0), [0, 0]));
  return Buffer.concat(parts);
}
