/** `xen2kvm verify IMAGE`: boot it as KVM would and wait for a login prompt on ttyS0. */
import { dirname, join, resolve } from 'node:path';
import { detectContainer } from '../disk/container.js';
import { checkImageFile } from '../inspect/image-file.js';
import { type CliIo, writeLine } from '../ui/io.js';
import {
  type Accel,
  type BootCheckResult,
  bootCheck,
  type DirectKernel,
  stripTerminalCodes,
} from '../verify/boot-check.js';
import { domainNameFor } from '../xml/domain.js';

export interface VerifyOptions {
  image: string;
  accel: Accel | 'auto';
  timeoutSeconds: number;
  kvmSilenceSeconds: number;
  memoryMiB: number;
  consoleLog?: string;
  /** qemu's name of the image format; detected when not given. */
  format?: string;
  moreDisks?: string[];
  direct?: DirectKernel;
}

export function defaultConsoleLog(image: string): string {
  const path = resolve(image);
  return join(dirname(path), `${domainNameFor(path)}.console.log`);
}

/** Prints the outcome and returns it. */
export async function runBootCheck(options: VerifyOptions, io: CliIo): Promise<BootCheckResult> {
  await checkImageFile(options.image, false, true);
  const format = options.format ?? (await detectContainer(options.image)) ?? 'raw';
  const consoleLog = options.consoleLog ?? defaultConsoleLog(options.image);
  writeLine(
    io.stderr,
    `booting ${options.image} (virtio disk and NIC, console on ttyS0, -snapshot: the image is not written)...`,
  );
  // On a terminal, one status line: seconds so far and the console's latest line.
  let latest = '';
  const started = performance.now();
  const progress = io.interactive
    ? setInterval(() => {
        const line = latest.slice(0, 70);
        io.stderr.write(`\r\x1b[K  ${((performance.now() - started) / 1000).toFixed(0)} s  ${line}`);
      }, 1000)
    : undefined;
  const result = await bootCheck({
    onOutput: (chunk) => {
      const lines = stripTerminalCodes(chunk)
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      latest = lines[lines.length - 1] ?? latest;
    },
    image: options.image,
    accel: options.accel,
    timeoutSeconds: options.timeoutSeconds,
    kvmSilenceSeconds: options.kvmSilenceSeconds,
    memoryMiB: options.memoryMiB,
    format,
    moreDisks: options.moreDisks,
    direct: options.direct,
    consoleLog,
    onNote: (note) => writeLine(io.stderr, `note: ${note}`),
  });
  if (progress) {
    clearInterval(progress);
    io.stderr.write('\r\x1b[K');
  }
  const verdict = result.ok ? 'boot check passed' : 'boot check FAILED';
  writeLine(
    io.stdout,
    `${verdict}: ${result.reason} (${result.accel.toUpperCase()}, ${result.seconds.toFixed(1)} s)`,
  );
  writeLine(io.stdout, `console log: ${result.consoleLog}`);
  return result;
}
