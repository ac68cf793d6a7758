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
import { createHash, type Hash } from 'node:crypto';
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
    if data == (zero if len(data) == chunk else bytes(len(data))):
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
    // Whatever lies past the checkpoint (half a chunk of a cut attempt) is dropped: a zero chunk is
    // not written, so the file must hold zeros (a hole) wherever no data frame lands.
    ftruncateSync(fd, resumeFrom?.done ?? 0);
    // The digest covers the whole disk as this file holds it: the part copied before, read back,
    // then every frame as it is written.
    const hash = createHash('sha256');
    hashRange(hash, fd, 0, resumeFrom?.done ?? 0);
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
          hash.update(frame.data);
          dataBytes += frame.data.length;
          done += frame.data.length;
        } else {
          if (frame.length > CHUNK)
            throw new Error(`a zero run of ${frame.length} bytes is longer than a chunk`);
          hash.update(ZEROS.subarray(0, frame.length));
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
    const local = hash.digest();
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

const ZEROS = Buffer.alloc(CHUNK);

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

/** Feeds bytes [from, to) of an open file to `hash`. */
function hashRange(hash: Hash, fd: number, from: number, to: number): void {
  const buffer = Buffer.alloc(CHUNK);
  for (let offset = from; offset < to; ) {
    const read = readSync(fd, buffer, 0, Math.min(CHUNK, to - offset), offset);
    if (read === 0) throw new Error(`the copy is shorter than its state says (${offset} of ${to} bytes)`);
    hash.update(buffer.subarray(0, read));
    offset += read;
  }
}

type Frame =
  | { kind: 'header'; size: number; start: number }
  | { kind: 'data'; offset: number; data: Buffer }
  | { kind: 'zero'; offset: number; length: number }
  | { kind: 'end'; end: number; digest: Buffer };

/** Cuts the byte stream into frames, whatever sizes its pieces arrive in (each byte copied at most once more). */
export class FrameParser {
  private pieces: Buffer[] = [];
  private length = 0;
  private seenHeader = false;

  push(chunk: Buffer): Frame[] {
    this.pieces.push(chunk);
    this.length += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.next();
      if (!frame) break;
      frames.push(frame);
    }
    return frames;
  }

  /** The next `n` bytes as one buffer, or undefined until that many have arrived; not consumed. */
  private peek(n: number): Buffer | undefined {
    if (this.length < n) return undefined;
    if ((this.pieces[0] as Buffer).length < n) this.pieces = [Buffer.concat(this.pieces, this.length)];
    return this.pieces[0] as Buffer;
  }

  private consume(n: number): void {
    const first = this.pieces[0] as Buffer;
    this.pieces[0] = first.subarray(n);
    if ((this.pieces[0] as Buffer).length === 0) this.pieces.shift();
    this.length -= n;
  }

  private next(): Frame | undefined {
    if (!this.seenHeader) {
      const b = this.peek(20);
      if (!b) return undefined;
      if (b.subarray(0, 4).toString('latin1') !== 'X2KD') throw new Error('not a xen2kvm disk stream');
      this.seenHeader = true;
      const frame: Frame = {
        kind: 'header',
        size: Number(b.readBigUInt64BE(4)),
        start: Number(b.readBigUInt64BE(12)),
      };
      this.consume(20);
      return frame;
    }
    const head = this.peek(1);
    if (!head) return undefined;
    const tag = String.fromCharCode(head[0] as number);
    if (tag === 'E') {
      const b = this.peek(41);
      if (!b) return undefined;
      const frame: Frame = {
        kind: 'end',
        end: Number(b.readBigUInt64BE(1)),
        digest: Buffer.from(b.subarray(9, 41)),
      };
      this.consume(41);
      return frame;
    }
    if (tag !== 'D' && tag !== 'Z')
      throw new Error(`unknown frame ${JSON.stringify(tag)} in the disk stream`);
    const b = this.peek(13);
    if (!b) return undefined;
    const offset = Number(b.readBigUInt64BE(1));
    const length = b.readUInt32BE(9);
    // The sender never frames more than a chunk: a longer frame is no stream of ours (and is not buffered).
    if (length > CHUNK) throw new Error(`a frame of ${length} bytes in the disk stream, more than a chunk`);
    if (tag === 'Z') {
      this.consume(13);
      return { kind: 'zero', offset, length };
    }
    const whole = this.peek(13 + length);
    if (!whole) return undefined;
    // A view, not a copy: the stream's buffers are never written again.
    const frame: Frame = { kind: 'data', offset, data: whole.subarray(13, 13 + length) };
    this.consume(13 + length);
    return frame;
  }
}
