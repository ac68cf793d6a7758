/**
 * Boots an image the way a KVM host presents it - virtio disk, virtio NIC, console on the first
 * serial port - and succeeds when a login prompt appears on ttyS0. The image is never written
 * (qemu -snapshot keeps every write in a throwaway overlay). KVM is used when it works; a KVM that
 * produces no console output at all is taken as broken and the boot is retried under TCG.
 */
import { writeFile } from 'node:fs/promises';
import { type CommandListener, startWatched } from '../exec.js';
import { BOOT_VCPUS, takeBootSlot } from './boot-slot.js';
import { kvmWorks } from './kvm-probe.js';

export type Accel = 'kvm' | 'tcg';

export interface DirectKernel {
  kernel: string;
  initrd?: string;
  cmdline: string;
}

export interface BootCheckOptions {
  image: string;
  accel: Accel | 'auto';
  timeoutSeconds: number;
  /** Under auto, seconds of silence after which KVM is declared broken and TCG is used. */
  kvmSilenceSeconds: number;
  memoryMiB: number;
  /** qemu's name of the image format (raw, qcow2, vpc...). */
  format: string;
  /** Further raw disks (vdb, vdc...): a partitionless guest's swap, say. */
  moreDisks?: string[];
  /** Boot this kernel directly instead of the disk's bootloader. */
  direct?: DirectKernel;
  consoleLog: string;
  onNote?: (note: string) => void;
  /** Console output as it arrives (for a progress line). */
  onOutput?: (chunk: string) => void;
  listener?: CommandListener;
}

export interface BootCheckResult {
  ok: boolean;
  accel: Accel;
  seconds: number;
  /** What decided the outcome: the login line, the failure line, or the timeout. */
  reason: string;
  consoleLog: string;
  notes: string[];
}

/** Lines that mean the boot has failed for good: no point waiting for the timeout. */
const FATAL = [
  /Kernel panic[^\n]*/,
  /Gave up waiting for root[^\n]*/,
  /ALERT![^\n]*/,
  /No bootable device[^\n]*/,
  /You are in emergency mode[^\n]*/,
  /Boot failed: not a bootable disk[^\n]*/,
];
const LOGIN = /^[^\n]*\blogin: *$/m;

export function stripTerminalCodes(text: string): string {
  // The last alternative: an escape cut short where systemd shortens a long line with "…".
  // biome-ignore lint/suspicious/noControlCharactersInRegex: console output carries ANSI escapes
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r|\x1b\[[0-9;?]*/g, '');
}

export function judgeConsole(text: string): { ok: boolean; line: string } | undefined {
  const clean = stripTerminalCodes(text);
  const login = LOGIN.exec(clean);
  if (login) return { ok: true, line: login[0].trim() };
  for (const pattern of FATAL) {
    const match = pattern.exec(clean);
    if (match) return { ok: false, line: match[0].trim() };
  }
  return undefined;
}

/**
 * The failure line with its cause where the console names one: emergency mode says only that
 * something failed, while the lines before it say which device systemd gave up on. Under TCG that
 * is usually the host's load, not the guest: say so, so an operator reruns instead of debugging.
 */
export function explainFailure(text: string, line: string, accel: Accel): string {
  if (!/emergency mode/.test(line)) return line;
  const timedOut = [
    ...stripTerminalCodes(text).matchAll(/Timed out waiting for device ([^\n]*?)\.?\s*$/gm),
  ].map((match) => match[1]?.trim());
  if (timedOut.length === 0) return line;
  const cause = `${line} - timed out waiting for ${timedOut.join(', ')}`;
  return accel === 'tcg'
    ? `${cause} (under TCG a busy host can starve the guest past systemd's 90 s device timeout: rerun on a quieter host or with KVM)`
    : cause;
}

export function qemuArgs(
  image: string,
  accel: Accel,
  memoryMiB: number,
  format = 'raw',
  moreDisks: readonly string[] = [],
  direct?: DirectKernel,
): string[] {
  const boot = direct
    ? [
        '-kernel',
        direct.kernel,
        ...(direct.initrd ? ['-initrd', direct.initrd] : []),
        '-append',
        direct.cmdline,
      ]
    : [];
  return [
    ...boot,
    '-machine',
    `pc,accel=${accel}`,
    '-smp',
    String(BOOT_VCPUS),
    '-m',
    String(memoryMiB),
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-snapshot',
    '-drive',
    `file=${image},if=virtio,format=${format}`,
    ...moreDisks.flatMap((disk) => ['-drive', `file=${disk},if=virtio,format=raw`]),
    '-netdev',
    'user,id=net0',
    '-device',
    'virtio-net-pci,netdev=net0',
  ];
}

/**
 * Under TCG the guest's own timeouts (systemd waits 90 s for a disk) run on the host's clock while
 * its every instruction is emulated, so a guest that has to share its CPU with the host's other
 * work drops to emergency mode for reasons that say nothing about the conversion. Measured on a
 * 2-core host beside three busy processes: at normal priority the guest gave up on its disks; at
 * -10 it found them 56 s into the 90 and reached its login prompt. qemu's TCG thread takes at most
 * one CPU, so the rest of the host keeps the others. `nice` sets it before qemu starts its threads
 * (they inherit it); without the privilege it warns and runs qemu at normal priority.
 */
const TCG_NICENESS = -10;

/** The qemu command of a boot check: under TCG at a raised priority (see TCG_NICENESS). */
export function bootCommand(
  options: Pick<BootCheckOptions, 'image' | 'memoryMiB' | 'format' | 'moreDisks' | 'direct'>,
  accel: Accel,
): { file: string; args: string[] } {
  const qemu = qemuArgs(
    options.image,
    accel,
    options.memoryMiB,
    options.format,
    options.moreDisks,
    options.direct,
  );
  return accel === 'tcg'
    ? { file: 'nice', args: ['-n', String(TCG_NICENESS), 'qemu-system-x86_64', ...qemu] }
    : { file: 'qemu-system-x86_64', args: qemu };
}

interface Attempt {
  outcome: 'login' | 'fatal' | 'timeout' | 'silent' | 'exited';
  line: string;
  output: string;
  seconds: number;
}

/** One boot; under TCG it first takes a boot slot (see boot-slot.ts) and its time starts there. */
async function attempt(
  options: BootCheckOptions,
  accel: Accel,
  silenceSeconds: number | undefined,
  note: (text: string) => void,
): Promise<Attempt> {
  if (accel === 'kvm') return boot(options, accel, silenceSeconds);
  const slot = await takeBootSlot({
    onWait: (holders) =>
      note(
        `waiting for a TCG boot slot: ${holders.length} software-emulated boot(s) already running on this host (pid ${holders.join(', ')}); a guest starved of CPU times out waiting for its disks`,
      ),
  });
  try {
    return await boot(options, accel, silenceSeconds);
  } finally {
    slot?.release();
  }
}

function boot(options: BootCheckOptions, accel: Accel, silenceSeconds: number | undefined): Promise<Attempt> {
  const started = performance.now();
  let output = '';
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: Attempt['outcome'], line: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(overall);
      clearTimeout(silence);
      proc.stop();
      void proc.exited.then(() =>
        resolve({ outcome, line, output, seconds: (performance.now() - started) / 1000 }),
      );
    };
    const proc = startWatched(
      bootCommand(options, accel),
      (chunk) => {
        output += chunk;
        options.onOutput?.(chunk);
        if (
          silenceSeconds !== undefined &&
          stripTerminalCodes(output)
            .replace(/qemu-system[^\n]*\n?/g, '')
            .trim()
        ) {
          clearTimeout(silence);
        }
        const verdict = judgeConsole(output);
        if (verdict) finish(verdict.ok ? 'login' : 'fatal', verdict.line);
      },
      options.listener,
    );
    const overall = setTimeout(
      () => finish('timeout', `no login prompt within ${options.timeoutSeconds} s`),
      options.timeoutSeconds * 1000,
    );
    const silence =
      silenceSeconds === undefined
        ? undefined
        : setTimeout(
            () => finish('silent', `no console output within ${silenceSeconds} s`),
            silenceSeconds * 1000,
          );
    void proc.exited.then((code) =>
      finish('exited', `qemu exited (code ${code ?? 'none'}) before a login prompt`),
    );
  });
}

export async function bootCheck(options: BootCheckOptions): Promise<BootCheckResult> {
  const notes: string[] = [];
  const note = (text: string) => {
    notes.push(text);
    options.onNote?.(text);
  };
  const kvm = options.accel === 'auto' ? await kvmWorks() : undefined;
  let accel: Accel = options.accel === 'auto' ? (kvm?.ok ? 'kvm' : 'tcg') : options.accel;
  if (kvm && !kvm.ok) note(`${kvm.why}: booting with TCG (software emulation)`);
  let result = await attempt(
    options,
    accel,
    options.accel === 'auto' && accel === 'kvm' ? options.kvmSilenceSeconds : undefined,
    note,
  );
  let log = result.output;
  if (result.outcome === 'silent') {
    note(`KVM gave ${result.line}: retrying with TCG (software emulation)`);
    accel = 'tcg';
    result = await attempt(options, accel, undefined, note);
    log += `\n--- retry with TCG ---\n${result.output}`;
  }
  await writeFile(options.consoleLog, log);
  return {
    ok: result.outcome === 'login',
    accel,
    seconds: result.seconds,
    reason: result.outcome === 'fatal' ? explainFailure(result.output, result.line, accel) : result.line,
    consoleLog: options.consoleLog,
    notes,
  };
}
