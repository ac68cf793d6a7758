/**
 * What passes on the wire of a copy: its bytes counted, and held to a rate when --bandwidth asks
 * (the stream is paused, so the ssh connection itself slows down through TCP's flow control).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { UserError } from '../errors.js';

export class WireMeter extends Transform {
  bytes = 0;
  private readonly started = performance.now();

  constructor(private readonly bytesPerSecond?: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.push(chunk);
    if (!this.bytesPerSecond) {
      done();
      return;
    }
    const due = this.started + (this.bytes / this.bytesPerSecond) * 1000;
    const wait = due - performance.now();
    if (wait > 1) setTimeout(done, wait);
    else done();
  }
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** --bandwidth's value: bytes per second, with an optional K, M or G (binary) suffix: 20M, 512K. */
export function parseBandwidth(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMG]?)(?:i?B)?(?:\/s)?$/i.exec(text.trim());
  const value = match ? Number(match[1]) * (UNITS[(match[2] ?? '').toUpperCase()] ?? 1) : Number.NaN;
  if (!Number.isFinite(value) || value < 1024)
    throw new UserError(
      `--bandwidth ${text}: expected bytes per second of at least 1K, like 512K, 20M or 1G`,
      2,
    );
  return Math.round(value);
}

/** Bytes as people read them: 1.5 GiB, 340 MiB, 12 KiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** Seconds as people read them: 45 s, 3 min 20 s, 2 h 5 min. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
