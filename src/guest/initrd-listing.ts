/**
 * Lists an initramfs without spawning anything, for the common layouts: cpio archives (newc), one
 * after another, the last usually gzip-compressed (Debian puts an uncompressed early-microcode
 * archive first). Returns undefined for compressions Node cannot read (zstd, xz, lz4), and the
 * caller then asks the guest's own tool.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

const CPIO_MAGIC = ['070701', '070702'];
const HEADER = 110;

const align4 = (n: number) => (n + 3) & ~3;

/** Paths of one or more concatenated newc archives in `data`, from `offset`; returns where they end. */
function readCpio(data: Buffer, start: number, paths: string[]): number {
  let offset = start;
  while (offset + HEADER <= data.length && CPIO_MAGIC.includes(data.toString('latin1', offset, offset + 6))) {
    const field = (index: number) =>
      Number.parseInt(data.toString('latin1', offset + 6 + index * 8, offset + 14 + index * 8), 16);
    const fileSize = field(6);
    const nameSize = field(11);
    const name = data.toString('utf8', offset + HEADER, offset + HEADER + nameSize - 1);
    offset = align4(offset + HEADER + nameSize);
    offset = align4(offset + fileSize);
    if (name === 'TRAILER!!!') {
      // Archives are padded (often to 512 bytes) before the next one starts.
      while (offset < data.length && data[offset] === 0) offset++;
      continue;
    }
    paths.push(name.replace(/^\.\//, ''));
  }
  return offset;
}

export function listInitramfs(hostPath: string): string[] | undefined {
  const data = readFileSync(hostPath);
  const paths: string[] = [];
  let offset = 0;
  while (offset < data.length) {
    const next = readCpio(data, offset, paths);
    if (next > offset) {
      offset = next;
      continue;
    }
    if (data[offset] === 0x1f && data[offset + 1] === 0x8b) {
      try {
        const inner = gunzipSync(data.subarray(offset));
        if (readCpio(inner, 0, paths) === 0) return undefined;
        return paths;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }
  return paths;
}
