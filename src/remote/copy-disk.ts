/**
 * One disk of a Xen guest copied from its Xen host: the sender (disk-stream.ts) runs there over
 * ssh, compressed by zstd when both ends have it, and the frames are written into a sparse file
 * here. A connection cut mid-copy is retried from the last checkpoint; a copy interrupted for good
 * is resumed by the next run from the state file beside the target.
 */
import { existsSync, rmSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { UserError } from '../errors.js';
import { type CommandListener, type PipedProcess, startPiped } from '../exec.js';
import {
  CopyCutOff,
  type CopyProgress,
  type CopyState,
  readCopyState,
  receiveDisk,
  SENDER,
} from './disk-stream.js';
import { quoteWords, type SshSource, sshCommandLineArgs } from './ssh-source.js';
import { WireMeter } from './wire.js';

export interface DiskCopyOptions {
  /** zstd on the wire (both ends have it). */
  compress: boolean;
  /** Bytes per second on the wire at most. */
  bandwidth?: number;
  /** How many times a cut connection is retried before the copy is given up (and left to resume). */
  retries: number;
  onProgress?: (progress: CopyProgress & { wireBytes: number; seconds: number }) => void;
  /** A cut connection, and where the copy goes on from. */
  onRetry?: (why: string, from: number) => void;
  listener?: CommandListener;
}

export interface DiskCopyReport {
  device: string;
  target: string;
  size: number;
  /** Disk bytes that came as data, over every attempt (the rest were zero chunks, never sent). */
  dataBytes: number;
  /** Bytes that crossed the ssh connection, compressed, over every attempt. */
  wireBytes: number;
  seconds: number;
  compressed: boolean;
  /** Offsets the copy resumed from: a state file left by an earlier run, then each retry. */
  resumedFrom: number[];
  sha256: string;
  /** An earlier run had finished this copy; nothing was sent. */
  reused?: boolean;
}

/** The state file of a copy into `target`. */
export const copyStateFile = (target: string) => `${target}.copy-state`;

/** The state of a finished copy in `target` (every byte in place and checked), if it is one. */
export function finishedCopy(target: string): CopyState | undefined {
  const state = readCopyState(copyStateFile(target));
  return existsSync(target) && state?.sha256 && state.done === state.size ? state : undefined;
}

/** Forgets a copy: the next one starts from the first byte. */
export function discardCopy(target: string): void {
  rmSync(target, { force: true });
  rmSync(copyStateFile(target), { force: true });
}

export async function copyDisk(
  source: SshSource,
  device: string,
  target: string,
  options: DiskCopyOptions,
): Promise<DiskCopyReport> {
  const stateFile = copyStateFile(target);
  let resumeFrom: CopyState | undefined = existsSync(target) ? readCopyState(stateFile) : undefined;
  // A target with no state of ours is not half a copy: start it again.
  if (!resumeFrom) rmSync(target, { force: true });
  const resumedFrom = resumeFrom ? [resumeFrom.done] : [];
  const started = performance.now();
  let wireBytes = 0;
  // Data bytes sent by the attempts that were cut (the last progress each reported).
  let dataBefore = 0;
  for (let attempt = 0; ; attempt++) {
    let attemptData = 0;
    const from = resumeFrom?.done ?? 0;
    const sender = quoteWords(['python3', '-c', SENDER, device, String(from)]);
    // The pipe is fixed syntax between quoted words: nothing read from anywhere becomes shell code.
    const commandLine = options.compress ? `${sender} | zstd -q -c -1` : sender;
    const ssh = startPiped(
      { file: 'ssh', args: sshCommandLineArgs(source, commandLine) },
      undefined,
      options.listener,
    );
    const wire = new WireMeter(options.bandwidth);
    ssh.stdout.pipe(wire);
    let unzip: PipedProcess | undefined;
    let frames: Readable = wire;
    if (options.compress) {
      unzip = startPiped({ file: 'zstd', args: ['-d', '-q', '-c'] }, wire, options.listener);
      frames = unzip.stdout;
    }
    const wireBefore = wireBytes;
    try {
      const result = await receiveDisk(
        frames,
        target,
        stateFile,
        (progress) => {
          attemptData = progress.dataBytes;
          options.onProgress?.({
            ...progress,
            dataBytes: dataBefore + progress.dataBytes,
            wireBytes: wireBefore + wire.bytes,
            seconds: (performance.now() - started) / 1000,
          });
        },
        undefined,
        resumeFrom,
      );
      wireBytes = wireBefore + wire.bytes;
      await ssh.exited;
      await unzip?.exited;
      return {
        device,
        target,
        size: result.size,
        dataBytes: dataBefore + result.dataBytes,
        wireBytes,
        seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
        compressed: options.compress,
        resumedFrom,
        sha256: result.sha256,
      };
    } catch (error) {
      ssh.stop();
      unzip?.stop();
      const exit = await ssh.exited;
      await unzip?.exited;
      wireBytes = wireBefore + wire.bytes;
      dataBefore += attemptData;
      if (!(error instanceof CopyCutOff))
        throw new UserError(`copying ${device} from ${source.host}: ${(error as Error).message}`);
      // The sender never started and ssh itself did not fail: the command failed on the Xen host.
      const sshFailed = exit.exitCode === 255 || exit.exitCode === undefined;
      if (!error.started && !sshFailed)
        throw new UserError(
          `cannot read ${device} on ${source.host}: ${exit.stderr || `exit code ${exit.exitCode}`}`,
        );
      const state = readCopyState(stateFile);
      if (attempt >= options.retries)
        throw new UserError(
          `copying ${device} from ${source.host} was cut off ${options.retries + 1} times (${exit.stderr || error.message}); run the same import again to resume from byte ${state?.done ?? 0}`,
        );
      resumeFrom = state;
      resumedFrom.push(state?.done ?? 0);
      options.onRetry?.(exit.stderr || error.message, state?.done ?? 0);
    }
  }
}
