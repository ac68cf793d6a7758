/**
 * `--isolation vm`: a plan's guest commands run inside a throwaway qemu VM instead of a sandbox on
 * the host's kernel, the way virt-v2v keeps guest code off the host. The VM boots a kernel of the
 * host's with an initramfs built here (busybox, a few modules, the job), sees the image's whole
 * disk as its only disk (virtio, no network, no other device of the host's), mounts the guest's
 * filesystems, runs the commands in order, unmounts and powers off. KVM when it works, else TCG.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { type CommandRunner, type CommandSpec, guestLimits } from '../exec.js';
import type { Accel } from '../verify/boot-check.js';
import { kvmWorks } from '../verify/kvm-probe.js';
import {
  APPLIANCE_SCRATCH_PREFIX,
  type ApplianceCommand,
  type ApplianceMount,
  type ApplianceReport,
  INIT_SCRIPT,
  jobFiles,
  parseReport,
} from './appliance-job.js';
import {
  type ApplianceKernel,
  applianceModules,
  chooseApplianceKernel,
  findStaticBusybox,
  moduleLoadOrder,
  moduleName,
} from './appliance-kernel.js';
import { type CpioEntry, newcArchive } from './cpio.js';

export interface ApplianceRun {
  /** The image's whole disk on the host (its loop or nbd device): the VM's /dev/vda. */
  disk: string;
  mounts: readonly ApplianceMount[];
  commands: readonly ApplianceCommand[];
  accel: Accel | 'auto';
  /** Where the VM's console is kept. */
  consoleLog: string;
  onNote?: (note: string) => void;
  /** The appliance's latest progress line. */
  onProgress?: (line: string) => void;
}

export interface ApplianceOutcome extends ApplianceReport {
  accel: Accel;
  seconds: number;
  kernel: string;
}

/** Seconds of silence after which a KVM that produced no console output is taken as broken. */
const KVM_SILENCE_SECONDS = 20;
/** Beyond the commands' own limits: the appliance's boot and shutdown, under TCG at worst. */
const BOOT_ALLOWANCE_SECONDS = 600;
/** A report larger than this is not the appliance's (64 KiB of output per stream per command). */
const REPORT_CAP_BYTES = 16 * 1024 ** 2;

/** One line for the plan: how its guest commands will run with --isolation vm. */
export function describeAppliance(limits: { memoryBytes: number }): string {
  let kernel: string;
  try {
    kernel = `kernel ${chooseApplianceKernel().version} of this host's`;
  } catch {
    kernel = 'no kernel on this host to boot it (the apply will refuse)';
  }
  return `guest commands run in a throwaway qemu VM, one boot for all of them: ${kernel}, KVM where it works else TCG, ${Math.round(limits.memoryBytes / 1024 ** 2)} MiB, one vCPU, no network, the image's disk its only device (named /dev/vda inside); the guest's filesystems are unmounted from this host while the VM runs; every check runs on this host afterwards`;
}

/** The appliance's initramfs: busybox, the modules in load order, /init and the job. */
export function applianceInitramfs(
  kernel: ApplianceKernel,
  busybox: string,
  mounts: readonly ApplianceMount[],
  commands: readonly ApplianceCommand[],
): Buffer {
  const modules = moduleLoadOrder(kernel.modulesDir, applianceModules(mounts.map((m) => m.fsType)));
  for (const file of modules) {
    if (!file.endsWith('.ko')) {
      throw new UserError(
        `--isolation vm: ${kernel.modulesDir}/${file} is compressed; the appliance loads plain .ko modules only (choose another kernel with XEN2KVM_APPLIANCE_KERNEL)`,
      );
    }
  }
  const entries: CpioEntry[] = [
    ...['/bin', '/dev', '/proc', '/sys', '/tmp', '/guest', '/modules', '/job'].map(
      (path) => ({ path, type: 'dir' }) as const,
    ),
    { path: '/dev/console', type: 'char', major: 5, minor: 1 },
    { path: '/bin/busybox', type: 'file', data: readFileSync(busybox), mode: 0o755 },
    { path: '/init', type: 'file', data: INIT_SCRIPT, mode: 0o755 },
    ...modules.map(
      (file) =>
        ({
          path: `/modules/${moduleName(file)}.ko`,
          type: 'file',
          data: readFileSync(join(kernel.modulesDir, file)),
        }) as const,
    ),
    { path: '/modules/order', type: 'file', data: modules.map((f) => `${moduleName(f)}.ko\n`).join('') },
  ];
  const dirs = new Set<string>();
  for (const [path, content] of jobFiles(mounts, commands)) {
    const dir = path.slice(0, path.lastIndexOf('/'));
    if (dir !== '/job' && !dirs.has(dir)) {
      dirs.add(dir);
      entries.push({ path: dir, type: 'dir' });
    }
    entries.push({ path, type: 'file', data: content });
  }
  return newcArchive(entries);
}

/** The qemu command of the appliance: nothing of the host's but the one disk and two serial ports. */
export function applianceCommand(
  kernel: ApplianceKernel,
  initramfs: string,
  disk: string,
  report: string,
  accel: Accel,
  memoryMiB: number,
): Pick<CommandSpec, 'file' | 'args'> {
  const qemu = [
    'qemu-system-x86_64',
    '-machine',
    `pc,accel=${accel}`,
    ...(accel === 'kvm' ? ['-cpu', 'host'] : []),
    '-smp',
    '1',
    '-m',
    String(memoryMiB),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-monitor',
    'none',
    '-nic',
    'none',
    '-no-reboot',
    // qemu itself is confined too: no new privileges, no spawning, no resource games.
    '-sandbox',
    'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
    '-kernel',
    kernel.vmlinuz,
    '-initrd',
    initramfs,
    '-append',
    'console=ttyS0 panic=-1 loglevel=4 rdinit=/init',
    '-serial',
    'stdio',
    '-serial',
    `file:${report}`,
    '-drive',
    `file=${disk},if=virtio,format=raw,cache=writeback`,
  ];
  // setpriv: qemu dies with xen2kvm, even a SIGKILLed one, so no VM goes on writing the image.
  return { file: 'setpriv', args: ['--pdeathsig', 'KILL', '--', ...qemu] };
}

/** Boots the appliance once, runs every command, and reads back what it reported. */
export async function runAppliance(runner: CommandRunner, run: ApplianceRun): Promise<ApplianceOutcome> {
  const kernel = chooseApplianceKernel();
  const busybox = findStaticBusybox();
  const scratch = mkdtempSync(join(tmpdir(), `${APPLIANCE_SCRATCH_PREFIX}${process.pid}-`));
  try {
    const initramfs = join(scratch, 'initramfs.cpio');
    writeFileSync(initramfs, applianceInitramfs(kernel, busybox, run.mounts, run.commands));
    const report = join(scratch, 'report');
    const limitSeconds = run.commands.reduce((sum, c) => sum + c.timeoutSeconds, BOOT_ALLOWANCE_SECONDS);
    const kvm = run.accel === 'auto' ? await kvmWorks() : undefined;
    let accel: Accel = run.accel === 'auto' ? (kvm?.ok ? 'kvm' : 'tcg') : run.accel;
    if (kvm && !kvm.ok) run.onNote?.(`${kvm.why}: running the appliance with TCG`);
    let attempt = await boot(
      runner,
      run,
      kernel,
      initramfs,
      report,
      accel,
      limitSeconds,
      run.accel === 'auto',
    );
    let log = attempt.output;
    if (attempt.outcome === 'silent') {
      run.onNote?.(
        `KVM gave no console output within ${KVM_SILENCE_SECONDS} s: running the appliance with TCG`,
      );
      accel = 'tcg';
      attempt = await boot(runner, run, kernel, initramfs, report, accel, limitSeconds, false);
      log += `\n--- retry with TCG ---\n${attempt.output}`;
    }
    writeFileSync(run.consoleLog, log);
    if (attempt.outcome === 'timeout') {
      throw new UserError(
        `the appliance VM did not finish within ${limitSeconds} s and was stopped (console: ${run.consoleLog})`,
      );
    }
    const size = statSync(report).size;
    if (size > REPORT_CAP_BYTES) {
      throw new UserError(`the appliance VM's report is ${size} bytes, more than it ever writes: refused`);
    }
    return {
      ...parseReport(readFileSync(report, 'utf8'), run.commands.length),
      accel,
      seconds: attempt.seconds,
      kernel: kernel.version,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

interface Boot {
  outcome: 'exited' | 'silent' | 'timeout';
  output: string;
  seconds: number;
}

function boot(
  runner: CommandRunner,
  run: ApplianceRun,
  kernel: ApplianceKernel,
  initramfs: string,
  report: string,
  accel: Accel,
  limitSeconds: number,
  watchSilence: boolean,
): Promise<Boot> {
  const watch = runner.watch?.bind(runner);
  if (!watch) throw new Error('the appliance VM needs a runner that can watch a program');
  writeFileSync(report, '');
  const started = performance.now();
  const memoryMiB = Math.round(guestLimits().memoryBytes / 1024 ** 2);
  const spec: CommandSpec = {
    ...applianceCommand(kernel, initramfs, run.disk, report, accel, memoryMiB),
    kind: 'write',
    timeout: 'appliance',
  };
  let output = '';
  let outcome: Boot['outcome'] = 'exited';
  let silence: NodeJS.Timeout | undefined;
  const vm = watch(spec, (chunk) => {
    output += chunk;
    if (output.length > REPORT_CAP_BYTES) output = output.slice(-REPORT_CAP_BYTES / 2);
    // qemu's own warnings say nothing of whether the VM runs: only the VM's console counts.
    if (/\S/.test(chunk.replace(/^qemu-system[^\n]*\n?/gm, ''))) clearTimeout(silence);
    const at = output.lastIndexOf(PROGRESS);
    const line = at < 0 ? '' : (output.slice(at + PROGRESS.length).split('\n')[0] ?? '');
    if (line) run.onProgress?.(line.replace(/[^\x20-\x7e]/g, '').slice(0, 200));
  });
  const stop = (why: Boot['outcome']) => {
    outcome = why;
    vm.stop();
  };
  const overall = setTimeout(() => stop('timeout'), limitSeconds * 1000);
  if (watchSilence) silence = setTimeout(() => stop('silent'), KVM_SILENCE_SECONDS * 1000);
  return vm.exited.then(() => {
    clearTimeout(overall);
    clearTimeout(silence);
    return { outcome, output, seconds: (performance.now() - started) / 1000 };
  });
}

/** How the appliance's /init prefixes its progress lines on the console. */
const PROGRESS = 'xen2kvm-appliance: ';
