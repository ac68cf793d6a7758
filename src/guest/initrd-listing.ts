/**
 * Lists the paths in a guest's initramfs on the host, without running anything of the guest's: the
 * review must never execute guest code, and the initrd is guest input like any other file. Handles
 * what guests use: newc cpio archives one after another (an uncompressed early-microcode archive in
 * front), the main one compressed with gzip (read in-process), or xz, lzma, bzip2, lz4, lzo or zstd
 * (the host's own decompressor, output streamed). Names are collected as the archive streams past,
 * so memory stays small; the decompressed bytes and the time are capped, so a decompression bomb
 * ends as "unreadable", never as a host out of memory.
 */
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { streamCommand } from '../exec.js';

const CPIO_MAGIC = ['070701', '070702'];
const HEADER = 110;
// Arithmetic, not bitwise: offsets pass 2^31 in large (or hostile) archives.
const align4 = (n: number) => n + ((4 - (n % 4)) % 4);

export interface ListingLimits {
  /** Decompressed bytes read at most (the whole stream, all archives). */
  maxBytes: number;
  /** Milliseconds spent at most. */
  maxMs: number;
  /** Size of the initrd file itself at most. */
  maxFileBytes: number;
}

export const DEFAULT_LISTING_LIMITS: ListingLimits = {
  maxBytes: 1024 ** 3,
  maxMs: 60_000,
  maxFileBytes: 1024 ** 3,
};

export type InitrdListing = { paths: string[] } | { unreadable: string };

/** Collects the names of newc archives fed to it in chunks, one archive after another. */
class CpioNames {
  readonly paths: string[] = [];
  /** Absolute offset in the stream of the next byte to be fed. */
  private position = 0;
  private pending: Buffer = Buffer.alloc(0);
  private skip = 0;
  private betweenArchives = false;
  archives = 0;
  /** Set when the stream holds something other than cpio where a header should be. */
  stoppedAt: number | undefined;

  /** Feeds bytes; returns false once the stream has stopped being cpio (feed no more). */
  push(chunk: Buffer): boolean {
    if (this.stoppedAt !== undefined) return false;
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const base = this.position - this.pending.length;
    this.pending = Buffer.alloc(0);
    let at = 0;
    while (at < data.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length - at);
        this.skip -= n;
        at += n;
        continue;
      }
      if (this.betweenArchives) {
        // Archives are padded (often to 512 bytes) before the next one starts.
        while (at < data.length && data[at] === 0) at++;
        if (at === data.length) break;
        this.betweenArchives = false;
      }
      const magic = data.toString('latin1', at, Math.min(at + 6, data.length));
      if (!CPIO_MAGIC.some((m) => m.startsWith(magic))) {
        this.stoppedAt = base + at;
        return false;
      }
      if (data.length - at < HEADER) {
        this.pending = data.subarray(at);
        break;
      }
      const field = (index: number) =>
        Number.parseInt(data.toString('latin1', at + 6 + index * 8, at + 14 + index * 8), 16);
      const fileSize = field(6);
      const nameSize = field(11);
      if (!Number.isFinite(fileSize) || !Number.isFinite(nameSize) || nameSize < 1 || nameSize > 4096) {
        this.stoppedAt = base + at;
        return false;
      }
      if (data.length - at < HEADER + nameSize) {
        this.pending = data.subarray(at);
        break;
      }
      const name = data.toString('utf8', at + HEADER, at + HEADER + nameSize - 1);
      const start = base + at;
      const dataStart = align4(start + HEADER + nameSize);
      const end = align4(dataStart + fileSize);
      at += HEADER + nameSize;
      this.skip = end - (base + at);
      if (name === 'TRAILER!!!') {
        this.archives++;
        this.betweenArchives = true;
      } else {
        this.paths.push(name.replace(/^\.\//, ''));
      }
    }
    this.position = base + data.length;
    return true;
  }
}

type Compression = { name: string; tool?: readonly string[] };

/** The compression whose magic starts `head`, if any guest initrd uses it. */
function compressionOf(head: Buffer): Compression | undefined {
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts(0x1f, 0x8b)) return { name: 'gzip' };
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return { name: 'xz', tool: ['xz', '-dc'] };
  if (starts(0x5d, 0x00, 0x00)) return { name: 'lzma', tool: ['xz', '--format=lzma', '-dc'] };
  if (starts(0x42, 0x5a, 0x68)) return { name: 'bzip2', tool: ['bzip2', '-dc'] };
  if (starts(0x02, 0x21, 0x4c, 0x18) || starts(0x04, 0x22, 0x4d, 0x18))
    return { name: 'lz4', tool: ['lz4', '-dc'] };
  if (starts(0x89, 0x4c, 0x5a, 0x4f)) return { name: 'lzo', tool: ['lzop', '-dc'] };
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return { name: 'zstd', tool: ['zstd', '-dc'] };
  return undefined;
}

class Budget {
  private readonly deadline: number;
  bytes = 0;
  constructor(readonly limits: ListingLimits) {
    this.deadline = Date.now() + limits.maxMs;
  }
  /** Why to stop now, if the caps are reached. */
  exceeded(): string | undefined {
    if (this.bytes > this.limits.maxBytes)
      return `more than ${Math.round(this.limits.maxBytes / 1024 ** 2)} MiB decompressed (a decompression bomb?)`;
    if (Date.now() > this.deadline) return `reading it took more than ${this.limits.maxMs / 1000} s`;
    return undefined;
  }
  get msLeft(): number {
    return Math.max(1, this.deadline - Date.now());
  }
}

/** Gunzips `data` in-process into `names`, stopping at the caps. */
function gunzipInto(data: Buffer, names: CpioNames, budget: Budget): Promise<string | undefined> {
  return new Promise((resolve) => {
    const gunzip = createGunzip();
    let verdict: string | undefined;
    const timer = setTimeout(() => stop(budget.exceeded() ?? 'too slow'), budget.msLeft);
    const stop = (why: string | undefined) => {
      verdict ??= why;
      clearTimeout(timer);
      gunzip.destroy();
      resolve(verdict);
    };
    gunzip.on('data', (chunk: Buffer) => {
      budget.bytes += chunk.length;
      const over = budget.exceeded();
      if (over) return stop(over);
      if (!names.push(chunk)) stop(undefined);
    });
    gunzip.on('error', (error) => stop(names.archives > 0 ? undefined : `gzip: ${error.message}`));
    gunzip.on('end', () => stop(undefined));
    gunzip.end(data);
  });
}

/** Decompresses `data` with the host's tool into `names`, stopping at the caps. */
async function decompressInto(
  tool: readonly string[],
  data: Buffer,
  names: CpioNames,
  budget: Budget,
): Promise<string | undefined> {
  let over: string | undefined;
  const outcome = await streamCommand(
    { file: tool[0] as string, args: tool.slice(1) },
    data,
    budget.msLeft,
    (chunk) => {
      budget.bytes += chunk.length;
      over = budget.exceeded();
      return over === undefined && names.push(chunk);
    },
  );
  if (over) return over;
  if (outcome.missing) return `its ${tool[0]} compression needs ${tool[0]} on this host; install it`;
  if (outcome.timedOut) return `reading it took more than ${budget.limits.maxMs / 1000} s`;
  // Trailing padding after the last frame makes some tools complain; what was listed stands.
  if (outcome.exitCode !== 0 && names.archives === 0 && !outcome.stopped)
    return `${tool[0]} failed: ${outcome.stderr}`;
  return undefined;
}

/** The paths in the initramfs at `hostPath`, or why it cannot be read. */
export async function listInitramfs(
  hostPath: string,
  limits: ListingLimits = DEFAULT_LISTING_LIMITS,
): Promise<InitrdListing> {
  const file = await open(hostPath, 'r');
  let data: Buffer;
  try {
    const { size } = await file.stat();
    if (size > limits.maxFileBytes) return { unreadable: `it is ${size} bytes, more than an initrd holds` };
    data = Buffer.alloc(size);
    await file.read(data, 0, size, 0);
  } finally {
    await file.close();
  }
  const budget = new Budget(limits);
  // The uncompressed archives in front (early microcode), then at most one compressed stream.
  const front = new CpioNames();
  front.push(data);
  const offset = front.stoppedAt ?? data.length;
  if (offset >= data.length) {
    return front.archives > 0 ? { paths: front.paths } : { unreadable: 'it holds no cpio archive' };
  }
  const rest = data.subarray(offset);
  const compression = compressionOf(rest);
  if (!compression) {
    return { unreadable: `unknown format at byte ${offset} (${rest.subarray(0, 4).toString('hex')})` };
  }
  const names = new CpioNames();
  const failed = compression.tool
    ? await decompressInto(compression.tool, rest, names, budget)
    : await gunzipInto(rest, names, budget);
  if (failed) return { unreadable: `${compression.name}: ${failed}` };
  if (names.archives === 0 && names.paths.length === 0) {
    return { unreadable: `its ${compression.name} stream holds no cpio archive` };
  }
  return { paths: [...front.paths, ...names.paths] };
}
