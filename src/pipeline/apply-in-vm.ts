/**
 * Applying a plan's guest commands with `--isolation vm`: the same commands, with the same staged
 * files, environment and input, run in one boot of the appliance VM (sandbox/appliance.ts) instead
 * of one bubblewrap sandbox each. The guest's filesystems are unmounted from the host while the VM
 * has the disk (two kernels must never write one filesystem), then mounted again exactly as they
 * were, and every command's check runs on the host afterwards, in order, as in the sandbox mode.
 */
import { readFileSync, rmSync } from 'node:fs';
import { InterruptedError, UserError } from '../errors.js';
import { CommandError, type CommandRunner, type CommandSpec, guestTimeoutMs } from '../exec.js';
import { mountedOptions } from '../guest/mounts.js';
import { type ApplianceOutcome, runAppliance } from '../sandbox/appliance.js';
import type { ApplianceCommand, ApplianceMount } from '../sandbox/appliance-job.js';
import { GUEST_ENV } from '../sandbox/bubblewrap.js';
import type { Accel } from '../verify/boot-check.js';
import { GUEST_TMPDIR, judgeCommand, stageFiles } from './apply.js';
import type { Guest, PlannedCommand } from './types.js';

/** A mount of the guest's on the host, and the device the VM knows the same filesystem by. */
export interface GuestMount {
  /** Host block device. */
  source: string;
  /** Host directory. */
  target: string;
  fsType: string;
  /** Guest path. */
  path: string;
  vmDevice: string;
}

/**
 * The image's block devices as the VM sees them: the whole disk is vda, partition N is vdaN. A
 * partitionless image (a bare filesystem, its one "partition" the whole file) is vda itself.
 */
export function vmDeviceNames(
  disk: Guest['disk'],
  table: Pick<Guest['table'], 'label'>,
): Map<string, string> {
  const names = new Map<string, string>([[disk.disk, '/dev/vda']]);
  for (const [number, device] of disk.partitions) {
    names.set(device, table.label === 'none' ? '/dev/vda' : `/dev/vda${number}`);
  }
  return names;
}

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * The guest's mounts on the host (its root and what is mounted below it), outermost first. A
 * filesystem the VM cannot reach by a partition of the disk (a logical volume) is refused before
 * anything is written.
 */
export function guestMounts(
  guest: Pick<Guest, 'root' | 'disk' | 'label' | 'table'>,
  mountsText?: string,
): GuestMount[] {
  const names = vmDeviceNames(guest.disk, guest.table);
  const text = mountsText ?? readFileSync('/proc/self/mounts', 'utf8');
  const mounts = text
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields.length >= 3)
    .map(([source = '', target = '', fsType = '']) => ({ source, target: unescapeMountPath(target), fsType }))
    .filter((m) => m.target === guest.root || m.target.startsWith(`${guest.root}/`))
    .sort((a, b) => a.target.length - b.target.length);
  return mounts.map((m) => {
    const vmDevice = names.get(m.source);
    if (!vmDevice) {
      throw new UserError(
        `${guest.label}: --isolation vm reaches the guest's filesystems through the partitions of its disk, and ${m.source} (mounted on ${m.target.slice(guest.root.length) || '/'}) is not one (a logical volume?); convert this guest with the default sandbox`,
      );
    }
    return { ...m, path: m.target.slice(guest.root.length) || '/', vmDevice };
  });
}

/** Host device names in a command's words and input, as the VM knows those devices. */
export function translateDevices(text: string, names: Map<string, string>): string {
  let out = text;
  for (const [host, vm] of names) {
    out = out.replace(new RegExp(`${host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w/])`, 'g'), vm);
  }
  return out;
}

async function unmountAll(runner: CommandRunner, mounts: readonly GuestMount[]): Promise<void> {
  for (const mount of [...mounts].reverse()) {
    await runner.run({ file: 'umount', args: [mount.target], kind: 'host', timeout: 'attach' });
  }
}

/** Nothing of the host's page cache of these devices may outlive what the VM wrote through them. */
async function flushBuffers(runner: CommandRunner, devices: readonly string[]): Promise<void> {
  await runner.run({ file: 'blockdev', args: ['--flushbufs', ...devices], kind: 'host', timeout: 'attach' });
}

/** Mounts again what was unmounted (a mount that never went away is left as it is). */
async function remountAll(runner: CommandRunner, mounts: readonly GuestMount[]): Promise<void> {
  for (const mount of mounts) {
    if (mountedOptions(mount.target).length > 0) continue;
    await runner.run({
      file: 'mount',
      args: ['-t', mount.fsType, '-w', '-o', 'nosuid,nodev', mount.source, mount.target],
      kind: 'host',
      timeout: 'attach',
    });
  }
}

export interface VmApplyOptions {
  accel: Accel | 'auto';
  consoleLog: string;
  onNote?: (note: string) => void;
  onProgress?: (line: string) => void;
}

/** Runs every planned command in one appliance boot, then each one's check on the host. */
export async function runCommandsInVm(
  runner: CommandRunner,
  guest: Pick<Guest, 'root' | 'disk' | 'label' | 'table' | 'image'>,
  commands: readonly PlannedCommand[],
  options: VmApplyOptions,
): Promise<ApplianceOutcome> {
  const mounts = guestMounts(guest);
  const names = vmDeviceNames(guest.disk, guest.table);
  const staged = commands.flatMap((command) => stageFiles(guest.root, command));
  const vmCommands: ApplianceCommand[] = commands.map((command) => ({
    argv: command.argv.map((word) => translateDevices(word, names)),
    env: { ...GUEST_ENV, TMPDIR: GUEST_TMPDIR, ...command.env },
    input: command.input === undefined ? undefined : translateDevices(command.input, names),
    timeoutSeconds: Math.ceil(guestTimeoutMs(command.timeout) / 1000),
    tolerant: Boolean(command.harmless && command.check),
  }));
  const vmMounts: ApplianceMount[] = mounts.map((m) => ({
    device: m.vmDevice,
    path: m.path,
    fsType: m.fsType,
  }));
  const devices = [...names.keys()];
  let outcome: ApplianceOutcome;
  try {
    await unmountAll(runner, mounts);
    await flushBuffers(runner, devices);
    outcome = await runAppliance(runner, {
      disk: guest.disk.disk,
      mounts: vmMounts,
      commands: vmCommands,
      ...options,
    });
  } finally {
    await flushBuffers(runner, devices);
    await remountAll(runner, mounts);
    for (const host of staged) rmSync(host, { force: true });
  }
  const interrupted = (runner as { interrupted?: string }).interrupted;
  if (interrupted) throw new InterruptedError(interrupted);
  if (!outcome.unmounted) {
    options.onNote?.(
      "the appliance VM could not unmount the guest's filesystems cleanly; they were remounted read-only first",
    );
  }
  for (const [index, command] of commands.entries()) {
    const spec: CommandSpec = {
      file: 'qemu-system-x86_64',
      args: [],
      kind: 'write',
      timeout: command.timeout,
      guestArgv: command.argv,
      isolation: 'vm',
    };
    const result = outcome.results[index];
    if (!result) {
      throw new CommandError(
        spec,
        undefined,
        `did not run: the appliance VM stopped before it (console: ${options.consoleLog})`,
      );
    }
    if (result.timedOut) {
      throw new CommandError(spec, result, `timed out after ${vmCommands[index]?.timeoutSeconds} s`);
    }
    await judgeCommand(guest, command, spec, result);
  }
  return outcome;
}
