/**
 * The one place xen2kvm starts external programs. Every command is tagged by what it may change
 * (so a dry-run can prove it ran nothing that writes), carries a named timeout, and on failure
 * raises an error whose message holds the command and the tail of its stderr.
 */
import type { Readable } from 'node:stream';
import { execa } from 'execa';
import { InterruptedError } from './errors.js';
import { bubblewrapArgs, type SandboxDevice } from './sandbox/bubblewrap.js';
import { createCommandCgroup, type SandboxLimits } from './sandbox/cgroup.js';

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
  /** a command on a Xen host over ssh (reading a configuration, xl shutdown -w, lvcreate) */
  remote: 10 * 60_000,
  /** building a fixture guest with debootstrap */
  build: 30 * 60_000,
  /** the throwaway VM that runs a plan's guest commands (--isolation vm); its commands keep their own */
  appliance: 90 * 60_000,
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
  /**
   * A guest program (bwrap around it): run in a control group of its own with these caps, and
   * every process it started killed when it ends, times out or is interrupted.
   */
  guest?: SandboxLimits;
  /** For a guest command, what the guest was asked to run (messages name it, not bwrap's flags). */
  guestArgv?: readonly string[];
  /** Where a guest command ran, for messages: its bubblewrap sandbox (the default) or the appliance VM. */
  isolation?: 'sandbox' | 'vm';
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
    /** The program is not installed (it could not be started: ENOENT). */
    readonly notFound = false,
  ) {
    super(`${describeCommand(spec)}: ${reason}`);
  }
}

export interface CommandRunner {
  run(spec: CommandSpec): Promise<CommandResult>;
  /**
   * Starts a long-running program whose output is watched as it comes (the appliance VM), stopped
   * with the others on an interruption. Runners that cannot (command stubs) leave it out.
   */
  watch?(spec: CommandSpec, onOutput: (chunk: string) => void): WatchedProcess;
}

/** Observer for every command started (for --verbose and logs). */
export type CommandListener = (spec: CommandSpec, result: CommandResult | undefined, ms: number) => void;

export function formatCommand(spec: Pick<CommandSpec, 'file' | 'args'>): string {
  return [spec.file, ...spec.args].map(shellQuote).join(' ');
}

/** The command as messages name it: a guest command by what it runs in the guest. */
export function describeCommand(
  spec: Pick<CommandSpec, 'file' | 'args' | 'guestArgv' | 'isolation'>,
): string {
  if (!spec.guestArgv) return formatCommand(spec);
  const [file = '', ...args] = spec.guestArgv;
  const where = spec.isolation === 'vm' ? 'in the appliance VM' : "in the guest's sandbox";
  return `${formatCommand({ file, args })} (${where})`;
}

export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The last `count` non-empty lines of a command's output, joined: what an error message quotes. */
export function lastLines(text: string, count: number): string {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines.slice(-count).join(' | ');
}

export class HostCommandRunner implements CommandRunner {
  private readonly running = new Map<{ kill: (signal: NodeJS.Signals) => boolean }, CommandSpec['kind']>();
  private interruptedBy: string | undefined;

  constructor(private readonly options: { listener?: CommandListener } = {}) {}

  /**
   * Stops the commands in flight and refuses new ones, except host commands (unmount, detach):
   * those are what the cleanup after an interruption is made of.
   */
  interrupt(signal: string): void {
    this.interruptedBy ??= signal;
    // A host command (mount, losetup, umount) is short and may be the cleanup itself: killed half-way
    // it would leave the very mount or loop device the run is about to release.
    for (const [child, kind] of this.running) if (kind !== 'host') child.kill('SIGTERM');
  }

  get interrupted(): string | undefined {
    return this.interruptedBy;
  }

  watch(spec: CommandSpec, onOutput: (chunk: string) => void): WatchedProcess {
    if (this.interruptedBy && spec.kind !== 'host') throw new InterruptedError(this.interruptedBy);
    const watched = startWatched(spec, onOutput, this.options.listener);
    const handle = {
      kill: () => {
        watched.stop();
        return true;
      },
    };
    this.running.set(handle, spec.kind);
    void watched.exited.finally(() => this.running.delete(handle));
    return watched;
  }

  async run(spec: CommandSpec): Promise<CommandResult> {
    if (!spec.guest) return this.start(spec, spec.file, spec.args);
    const group = createCommandCgroup(spec.guest);
    if (!group) return this.start(spec, spec.file, spec.args);
    try {
      // The shell joins the group, then becomes bwrap: everything the guest starts is counted there.
      const join =
        'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"';
      const args = ['-c', join, 'xen2kvm-sandbox', String(group.procsFiles.length), ...group.procsFiles];
      try {
        // Once the sandbox's first process is gone, whatever is left in the group dies too: an
        // orphan (bwrap's inner process, when a signal reached the outer one first) would otherwise
        // hold the command's output open, and the run would wait for it forever.
        return await this.start(spec, '/bin/sh', [...args, spec.file, ...spec.args], () => {
          void group.killAll();
        });
      } catch (error) {
        if (error instanceof CommandError && group.oomKilled()) {
          throw new CommandError(
            spec,
            error.result,
            `ran out of its memory cap (${Math.round(spec.guest.memoryBytes / 1024 ** 2)} MiB) and was killed`,
          );
        }
        throw error;
      }
    } finally {
      // Whatever the command left running dies before anything it used is unmounted.
      await group.killAll();
      group.remove();
    }
  }

  private async start(
    spec: CommandSpec,
    file: string,
    args: readonly string[],
    onExit?: () => void,
  ): Promise<CommandResult> {
    if (this.interruptedBy && spec.kind !== 'host') throw new InterruptedError(this.interruptedBy);
    const started = performance.now();
    const subprocess = execa(file, [...args], {
      reject: false,
      timeout: timeoutOf(spec),
      killSignal: spec.guest ? 'SIGKILL' : 'SIGTERM',
      input: spec.input,
      stdin: spec.input === undefined ? 'ignore' : 'pipe',
      env: { LC_ALL: 'C', ...spec.env },
      stripFinalNewline: false,
    });
    this.running.set(subprocess, spec.kind);
    if (onExit) subprocess.once('exit', onExit);
    const child = await subprocess.finally(() => this.running.delete(subprocess));
    if (this.interruptedBy && spec.kind !== 'host') throw new InterruptedError(this.interruptedBy);
    const result: CommandResult = {
      stdout: String(child.stdout ?? ''),
      stderr: String(child.stderr ?? ''),
      exitCode: child.exitCode ?? -1,
    };
    this.options.listener?.(spec, result, performance.now() - started);
    if (child.timedOut) {
      throw new CommandError(spec, result, `timed out after ${timeoutOf(spec) / 1000} s`);
    }
    if (child.failed && child.exitCode === undefined) {
      const notFound = child.code === 'ENOENT';
      const why = notFound ? 'command not found' : (child.shortMessage ?? 'could not start');
      throw new CommandError(spec, result, why, notFound);
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
    if (spec.guest) {
      return Promise.reject(
        new CommandError(spec, undefined, 'refused: a review runs no program of the guest'),
      );
    }
    if (spec.kind === 'write') {
      return Promise.reject(
        new CommandError(spec, undefined, 'refused: nothing may write the image while reviewing'),
      );
    }
    return this.inner.run(spec);
  }

  watch(spec: CommandSpec, onOutput: (chunk: string) => void): WatchedProcess {
    if (spec.guest || spec.kind === 'write' || !this.inner.watch) {
      throw new CommandError(spec, undefined, 'refused: nothing may write the image while reviewing');
    }
    return this.inner.watch(spec, onOutput);
  }
}

/** Limits of every guest command: XEN2KVM_GUEST_MEMORY_MIB and XEN2KVM_GUEST_PROCESSES override them. */
export function guestLimits(): SandboxLimits {
  const number = (name: string, fallback: number) => {
    const value = Number(process.env[name]);
    return Number.isInteger(value) && value > 0 ? value : fallback;
  };
  return {
    memoryBytes: number('XEN2KVM_GUEST_MEMORY_MIB', 2048) * 1024 ** 2,
    maxProcesses: number('XEN2KVM_GUEST_PROCESSES', 1024),
  };
}

/** A guest command's time limit: its named one, or XEN2KVM_GUEST_TIMEOUT seconds when that is shorter. */
export function guestTimeoutMs(name: TimeoutName): number {
  const named = TIMEOUTS[name];
  const cap = Number(process.env.XEN2KVM_GUEST_TIMEOUT) * 1000;
  return cap > 0 ? Math.min(named, cap) : named;
}

function timeoutOf(spec: CommandSpec): number {
  return spec.guest ? guestTimeoutMs(spec.timeout) : TIMEOUTS[spec.timeout];
}

/** A program of the guest's, run confined to it (see sandbox/bubblewrap.ts) with a clean environment. */
export function inGuest(
  root: string,
  argv: readonly string[],
  kind: CommandSpec['kind'],
  timeout: TimeoutName,
  env: Record<string, string> = {},
  devices: readonly SandboxDevice[] = [],
): CommandSpec {
  return {
    file: 'bwrap',
    args: bubblewrapArgs({ root, argv, env, devices }),
    kind,
    timeout,
    guest: guestLimits(),
    guestArgv: argv,
  };
}

export interface StreamOutcome {
  exitCode: number | undefined;
  /** The last line of its stderr. */
  stderr: string;
  /** The consumer asked to stop; the program was killed. */
  stopped: boolean;
  timedOut: boolean;
  /** The program is not installed. */
  missing: boolean;
}

/**
 * A read-only filter (a decompressor) fed `input`, its output handed over chunk by chunk as it
 * comes, never held whole: `onChunk` returns false to stop it. For guest data of any size.
 */
export async function streamCommand(
  spec: Pick<CommandSpec, 'file' | 'args'>,
  input: Uint8Array,
  timeoutMs: number,
  onChunk: (chunk: Buffer) => boolean,
): Promise<StreamOutcome> {
  const child = execa(spec.file, [...spec.args], {
    input,
    reject: false,
    buffer: { stdout: false, stderr: true },
    encoding: 'buffer',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    env: { LC_ALL: 'C' },
  });
  let stopped = false;
  child.stdout?.on('data', (chunk: Buffer) => {
    if (stopped) return;
    if (!onChunk(chunk)) {
      stopped = true;
      child.kill('SIGKILL');
    }
  });
  const result = await child;
  return {
    exitCode: result.exitCode,
    stderr:
      Buffer.from(result.stderr ?? [])
        .toString('utf8')
        .trim()
        .split('\n')
        .pop() ?? '',
    stopped,
    timedOut: result.timedOut,
    missing: result.code === 'ENOENT',
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

/** A program whose output is a byte stream read as it comes (ssh carrying a disk, zstd -d). */
export interface PipedProcess {
  stdout: Readable;
  /** Resolves when the program has exited: its exit code (undefined when a signal ended it) and stderr's last lines. */
  exited: Promise<{ exitCode: number | undefined; stderr: string; missing: boolean }>;
  stop(): void;
}

/**
 * Starts a read-only program whose stdout is consumed as a stream, never buffered whole; `input`
 * (another process's output) is piped into its stdin when given.
 */
export function startPiped(
  spec: Pick<CommandSpec, 'file' | 'args'>,
  input?: Readable,
  listener?: CommandListener,
): PipedProcess {
  const started = performance.now();
  const child = execa(spec.file, [...spec.args], {
    reject: false,
    buffer: { stdout: false, stderr: true },
    encoding: 'buffer',
    stdin: input ? 'pipe' : 'ignore',
    env: { LC_ALL: 'C' },
  });
  if (input && child.stdin) {
    // A consumer that stops early closes its stdin: the writer's EPIPE is that, not a failure.
    child.stdin.on('error', () => {});
    input.pipe(child.stdin);
  }
  const exited = child.then((result) => {
    listener?.({ ...spec, kind: 'read', timeout: 'copy' }, undefined, performance.now() - started);
    return {
      exitCode: result.exitCode,
      stderr: lastLines(Buffer.from(result.stderr ?? []).toString('utf8'), 2),
      missing: result.code === 'ENOENT',
    };
  });
  return {
    stdout: child.stdout as Readable,
    exited,
    stop: () => {
      child.kill('SIGKILL');
    },
  };
}
