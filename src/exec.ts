/**
 * The one place xen2kvm starts external programs. Every command is tagged by what it may change
 * (so a dry-run can prove it ran nothing that writes), carries a named timeout, and on failure
 * raises an error whose message holds the command and the tail of its stderr.
 */
import { execa } from 'execa';
import { InterruptedError } from './errors.js';

export const TIMEOUTS = {
  /** blkid, sfdisk -J, losetup queries */
  query: 30_000,
  /** mount, umount, losetup attach/detach, kpartx */
  attach: 60_000,
  /** update-initramfs, dracut, mkinitrd */
  initrd: 15 * 60_000,
  /** grub-install, update-grub */
  bootloader: 5 * 60_000,
  /** package installs inside the guest */
  packages: 20 * 60_000,
  /** copying an image, or writing a qcow2 overlay */
  copy: 60 * 60_000,
  /** building a fixture guest with debootstrap */
  build: 30 * 60_000,
} as const;

export type TimeoutName = keyof typeof TIMEOUTS;

export interface CommandSpec {
  file: string;
  args: readonly string[];
  /**
   * 'read': changes nothing. 'host': changes host state only (attach, mount, unmount), never the
   * image's bytes. 'write': may write the image. A dry-run refuses 'write' commands outright.
   */
  kind: 'read' | 'host' | 'write';
  timeout: TimeoutName;
  input?: string;
  /** Exit codes that count as success besides 0. */
  okExitCodes?: readonly number[];
  env?: Record<string, string>;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly spec: CommandSpec,
    readonly result: CommandResult | undefined,
    reason: string,
  ) {
    super(`${formatCommand(spec)}: ${reason}`);
  }
}

export interface CommandRunner {
  run(spec: CommandSpec): Promise<CommandResult>;
}

/** Observer for every command started (for --verbose and logs). */
export type CommandListener = (spec: CommandSpec, result: CommandResult | undefined, ms: number) => void;

export function formatCommand(spec: Pick<CommandSpec, 'file' | 'args'>): string {
  return [spec.file, ...spec.args].map(shellQuote).join(' ');
}

export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

function lastLines(text: string, count: number): string {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines.slice(-count).join(' | ');
}

export class HostCommandRunner implements CommandRunner {
  private readonly running = new Set<{ kill: (signal: NodeJS.Signals) => boolean }>();
  private interruptedBy: string | undefined;

  constructor(private readonly options: { listener?: CommandListener } = {}) {}

  /**
   * Stops the commands in flight and refuses new ones, except host commands (unmount, detach):
   * those are what the cleanup after an interruption is made of.
   */
  interrupt(signal: string): void {
    this.interruptedBy ??= signal;
    for (const child of this.running) child.kill('SIGTERM');
  }

  get interrupted(): string | undefined {
    return this.interruptedBy;
  }

  async run(spec: CommandSpec): Promise<CommandResult> {
    if (this.interruptedBy && spec.kind !== 'host') throw new InterruptedError(this.interruptedBy);
    const started = performance.now();
    const subprocess = execa(spec.file, [...spec.args], {
      reject: false,
      timeout: TIMEOUTS[spec.timeout],
      input: spec.input,
      stdin: spec.input === undefined ? 'ignore' : 'pipe',
      env: { LC_ALL: 'C', ...spec.env },
      stripFinalNewline: false,
    });
    this.running.add(subprocess);
    const child = await subprocess.finally(() => this.running.delete(subprocess));
    if (this.interruptedBy && spec.kind !== 'host') throw new InterruptedError(this.interruptedBy);
    const result: CommandResult = {
      stdout: String(child.stdout ?? ''),
      stderr: String(child.stderr ?? ''),
      exitCode: child.exitCode ?? -1,
    };
    this.options.listener?.(spec, result, performance.now() - started);
    if (child.timedOut) {
      throw new CommandError(spec, result, `timed out after ${TIMEOUTS[spec.timeout] / 1000} s`);
    }
    if (child.failed && child.exitCode === undefined) {
      const why = child.code === 'ENOENT' ? 'command not found' : (child.shortMessage ?? 'could not start');
      throw new CommandError(spec, result, why);
    }
    if (result.exitCode !== 0 && !spec.okExitCodes?.includes(result.exitCode)) {
      const tail = lastLines(result.stderr || result.stdout, 3);
      throw new CommandError(spec, result, `exit code ${result.exitCode}${tail ? `: ${tail}` : ''}`);
    }
    return result;
  }
}

/**
 * The runner of the review phase (and of every dry-run): it refuses, without starting them, the
 * commands that may write the image.
 */
export class ReadOnlyRunner implements CommandRunner {
  constructor(private readonly inner: CommandRunner) {}

  run(spec: CommandSpec): Promise<CommandResult> {
    if (spec.kind === 'write') {
      return Promise.reject(
        new CommandError(spec, undefined, 'refused: nothing may write the image while reviewing'),
      );
    }
    return this.inner.run(spec);
  }
}

/** PATH and locale a guest command sees: nothing of the host's environment leaks into the chroot. */
export const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const GUEST_ENV = [`PATH=${GUEST_PATH}`, 'LC_ALL=C', 'HOME=/root'];

/** A command run inside the guest's root with chroot and a clean environment. */
export function inGuest(
  root: string,
  argv: readonly string[],
  kind: CommandSpec['kind'],
  timeout: TimeoutName,
  env: Record<string, string> = {},
): CommandSpec {
  return {
    file: 'chroot',
    args: [
      root,
      '/usr/bin/env',
      '-i',
      ...GUEST_ENV,
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      ...argv,
    ],
    kind,
    timeout,
  };
}

/** A long-running program whose output is watched as it comes (a qemu boot check). */
export interface WatchedProcess {
  stop(): void;
  /** Resolves when the process has exited, with its exit code when it had one. */
  exited: Promise<number | undefined>;
}

export function startWatched(
  spec: Pick<CommandSpec, 'file' | 'args'>,
  onOutput: (chunk: string) => void,
  listener?: CommandListener,
): WatchedProcess {
  const started = performance.now();
  const child = execa(spec.file, [...spec.args], {
    reject: false,
    buffer: false,
    stdin: 'ignore',
    all: true,
    env: { LC_ALL: 'C' },
  });
  child.all?.setEncoding('utf8');
  child.all?.on('data', (chunk: string) => onOutput(chunk));
  const exited = child.then((result) => {
    listener?.({ ...spec, kind: 'read', timeout: 'query' }, undefined, performance.now() - started);
    return result.exitCode;
  });
  return {
    stop: () => {
      child.kill('SIGKILL');
    },
    exited,
  };
}
