/**
 * Copying a Xen guest's disk from its host without writing anything there: a small Python program
 * (every dom0 that boots PV guests has Python, pygrub is written in it) reads the disk from an
 * offset on, and sends each 1 MiB chunk that holds data as a frame, each all-zero chunk as a marker
 * without data, and at the end the SHA-256 of the whole disk. The receiving side writes the data
 * frames at their offsets into a sparse file and records how far the copy got, so a copy cut off
 * resumes from there; the digest of the whole file that arrived is checked against the sender's
 * (a resumed sender reads the part already copied again, to hash it, but does not send it).
 *
 * Frames (big-endian): "X2KD" size:u64 start:u64, then "D" offset:u64 length:u32 data, or
 * "Z" offset:u64 length:u32, and last "E" end:u64 sha256:32 bytes.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import type { Readable } from 'node:stream';

export const CHUNK = 1 << 20;

/** The sender, run as `python3 -c SENDER DEVICE START`. */
export const SENDER = `
import hashlib, os, struct, sys
dev, start, chunk = sys.argv[1], int(sys.argv[2]), ${CHUNK}
f = open(dev, 'rb')
size = f.seek(0, os.SEEK_END)
out = sys.stdout.buffer
out.write(b'X2KD' + struct.pack('>QQ', size, start))
out.flush()
digest = hashlib.sha256()
f.seek(0)
offset = 0
while offset < start:
    data = f.read(min(chunk, start - offset))
    if not data:
        break
    digest.update(data)
    offset += len(data)
zero = bytes(chunk)
while offset < size:
    data = f.read(min(chunk, size - offset))
    if not data:
        break
    digest.update(data)
    if data == zero[:len(data)]:
        out.write(b'Z' + struct.pack('>QI', offset, len(data)))
    else:
        out.write(b'D' + struct.pack('>QI', offset, len(data)))
        out.write(data)
    offset += len(data)
out.write(b'E' + struct.pack('>Q', offset) + digest.digest())
out.flush()
`;

/** How far a copy got: the sender's disk size and the offset up to which every byte is in place. */
export interface CopyState {
  size: number;
  done: number;
  /** Once the copy is finished and checked: the SHA-256 of the whole disk. */
  sha256?: string;
}

/** The state a copy left, or undefined when there is none (or it is not one of ours). */
export function readCopyState(stateFile: string): CopyState | undefined {
  if (!existsSync(stateFile)) return undefined;
  let state: Partial<CopyState>;
  try {
    state = JSON.parse(readFileSync(stateFile, 'utf8')) as Partial<CopyState>;
  } catch {
    return undefined;
  }
  if (typeof state.size !== 'number' || typeof state.done !== 'number') return undefined;
  return {
    size: state.size,
    done: state.done,
    ...(typeof state.sha256 === 'string' ? { sha256: state.sha256 } : {}),
  };
}

export interface CopyProgress {
  /** Bytes of the disk accounted for (written or known to be zero), out of size. */
  done: number;
  size: number;
  /** Bytes of disk data that came as data frames (the rest were zero chunks). */
  dataBytes: number;
}

export interface CopyResult {
  size: number;
  start: number;
  end: number;
  dataBytes: number;
  /** SHA-256 of the whole disk, as both ends computed it. */
  sha256: string;
}

/**
 * Reads the sender's frames from `stream` into `target` (created sparse, or continued from the
 * offset the state file holds) and checks the digest of what arrived. The state file is written
 * after every `checkpointBytes` of progress, once what it claims is on disk (fsync).
 */
export async function receiveDisk(
  stream: Readable,
  target: string,
  stateFile: string,
  onProgress: (progress: CopyProgress) => void = () => {},
  checkpointBytes = 64 * CHUNK,
  /** The state the copy continues from (the sender was asked to start at its `done`). */
  resumeFrom?: CopyState,
): Promise<CopyResult> {
  const fd = openSync(target, existsSync(target) ? 'r+' : 'w+');
  try {
    const parser = new FrameParser();
    let header: { size: number; start: number } | undefined;
    let end: { end: number; digest: Buffer } | undefined;
    let done = 0;
    let dataBytes = 0;
    let checkpointAt = 0;
    const checkpoint = () => {
      fsyncSync(fd);
      writeFileSync(stateFile, JSON.stringify({ size: header?.size, done }));
      checkpointAt = done;
    };
    for await (const chunk of stream) {
      for (const frame of parser.push(chunk as Buffer)) {
        if (frame.kind === 'header') {
          if (frame.start !== (resumeFrom?.done ?? 0))
            throw new Error(`the sender started at ${frame.start}, not where this copy stands`);
          if (resumeFrom && frame.size !== resumeFrom.size)
            throw new Error(
              `the disk is ${frame.size} bytes now, ${resumeFrom.size} when the copy began: remove ${target} and start again`,
            );
          header = frame;
          done = frame.start;
          checkpointAt = done;
          continue;
        }
        if (!header) throw new Error('the sender spoke no header: not a xen2kvm disk stream');
        if (frame.kind === 'end') {
          end = frame;
          continue;
        }
        if (frame.offset !== done) throw new Error(`the sender skipped from ${done} to ${frame.offset}`);
        if (frame.kind === 'data') {
          writeSync(fd, frame.data, 0, frame.data.length, frame.offset);
          dataBytes += frame.data.length;
          done += frame.data.length;
        } else {
          done += frame.length;
        }
        onProgress({ done, size: header.size, dataBytes });
        if (done - checkpointAt >= checkpointBytes) checkpoint();
      }
    }
    if (!header || !end) throw new CopyCutOff(done, header !== undefined);
    if (end.end !== header.size || done !== header.size)
      throw new Error(`the sender stopped at ${end.end} of ${header.size} bytes`);
    // The file is as long as the disk even when it ends in zeros no frame wrote.
    ftruncateSync(fd, header.size);
    checkpoint();
    const local = digestOf(fd, 0, header.size);
    if (!local.equals(end.digest))
      throw new Error(
        `what arrived differs from what was sent (SHA-256 ${local.toString('hex')} here, ${end.digest.toString('hex')} there)`,
      );
    const sha256 = local.toString('hex');
    // A finished copy's state says so, with the digest both ends agreed on.
    writeFileSync(stateFile, JSON.stringify({ size: header.size, done, sha256 }));
    return { size: header.size, start: header.start, end: header.size, dataBytes, sha256 };
  } finally {
    closeSync(fd);
  }
}

/** The stream ended before the sender's last frame: the connection was cut (or the sender died). */
export class CopyCutOff extends Error {
  override readonly name = 'CopyCutOff';
  constructor(
    readonly at: number,
    /** The sender had started: it spoke its header. */
    readonly started: boolean,
  ) {
    super(`the copy was cut off at ${at} bytes`);
  }
}

/** SHA-256 of bytes [from, to) of an open file. */
function digestOf(fd: number, from: number, to: number): Buffer {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(CHUNK);
  for (let offset = from; offset < to; ) {
    const read = readSync(fd, buffer, 0, Math.min(CHUNK, to - offset), offset);
    if (read === 0) break;
    hash.update(buffer.subarray(0, read));
    offset += read;
  }
  return hash.digest();
}

type Frame =
  | { kind: 'header'; size: number; start: number }
  | { kind: 'data'; offset: number; data: Buffer }
  | { kind: 'zero'; offset: number; length: number }
  | { kind: 'end'; end: number; digest: Buffer };

/** Cuts the byte stream into frames, whatever sizes its pieces arrive in. */
export class FrameParser {
  private pending: Buffer = Buffer.alloc(0);
  private seenHeader = false;

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.next();
      if (!frame) break;
      frames.push(frame);
    }
    return frames;
  }

  private next(): Frame | undefined {
    const b = this.pending;
    if (!this.seenHeader) {
      if (b.length < 20) return undefined;
      if (b.subarray(0, 4).toString('latin1') !== 'X2KD') throw new Error('not a xen2kvm disk stream');
      this.seenHeader = true;
      this.pending = b.subarray(20);
      return { kind: 'header', size: Number(b.readBigUInt64BE(4)), start: Number(b.readBigUInt64BE(12)) };
    }
    if (b.length < 1) return undefined;
    const tag = String.fromCharCode(b[0] as number);
    if (tag === 'E') {
      if (b.length < 41) return undefined;
      this.pending = b.subarray(41);
      return { kind: 'end', end: Number(b.readBigUInt64BE(1)), digest: Buffer.from(b.subarray(9, 41)) };
    }
    if (tag !== 'D' && tag !== 'Z')
      throw new Error(`unknown frame ${JSON.stringify(tag)} in the disk stream`);
    if (b.length < 13) return undefined;
    const offset = Number(b.readBigUInt64BE(1));
    const length = b.readUInt32BE(9);
    if (tag === 'Z') {
      this.pending = b.subarray(13);
      return { kind: 'zero', offset, length };
    }
    if (b.length < 13 + length) return undefined;
    this.pending = b.subarray(13 + length);
    return { kind: 'data', offset, data: Buffer.from(b.subarray(13, 13 + length)) };
  }
}
