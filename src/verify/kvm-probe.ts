/**
 * Whether KVM runs a guest on this host, not only whether /dev/kvm opens: some hosts (nested
 * virtualisation without the CPU features qemu asks for) have a /dev/kvm on which qemu aborts at
 * once (`-cpu host`: "failed to set MSR") or a kernel hangs before its first line. The probe boots
 * the host's own kernel under KVM for a few seconds and waits for its first console line; it asks
 * nothing of the guest. The answer is kept for the rest of the process, and for the rest of the
 * host's boot in /run (keyed by the boot id): runs started together then all answer alike and at
 * once, instead of each paying for a probe of its own.
 */
import { constants, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { startWatched } from '../exec.js';
import { chooseApplianceKernel } from '../sandbox/appliance-kernel.js';

export interface KvmVerdict {
  ok: boolean;
  /** Why not, in a few words (for "booting with TCG: ..."). */
  why: string;
}

/** A working KVM prints the kernel's first line well within a second; this is generous. */
const PROBE_SECONDS = 10;

let verdict: Promise<KvmVerdict> | undefined;

/** /dev/kvm opens for reading and writing: needed, not enough. */
async function kvmDeviceOpens(): Promise<boolean> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where the verdict of this boot of the host is kept (tmpfs: gone at the next boot). */
const CACHE_DIR = '/run/xen2kvm';
const CACHE_FILE = join(CACHE_DIR, 'kvm-verdict.json');

/** Whether KVM can run a kernel here (probed once per host boot). */
export function kvmWorks(): Promise<KvmVerdict> {
  verdict ??= cachedOrProbed();
  return verdict;
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

async function cachedOrProbed(): Promise<KvmVerdict> {
  if (process.env.XEN2KVM_KVM === 'no') return { ok: false, why: 'XEN2KVM_KVM=no' };
  const boot = bootId();
  try {
    const kept = JSON.parse(readFileSync(CACHE_FILE, 'utf8')) as KvmVerdict & { boot?: string };
    if (boot && kept.boot === boot && typeof kept.ok === 'boolean' && typeof kept.why === 'string')
      return { ok: kept.ok, why: kept.why };
  } catch {
    // none kept yet, or unreadable: probe
  }
  const fresh = await probe();
  if (boot) {
    try {
      mkdirSync(CACHE_DIR, { recursive: true, mode: 0o755 });
      const partial = `${CACHE_FILE}.${process.pid}`;
      writeFileSync(partial, JSON.stringify({ ...fresh, boot }));
      renameSync(partial, CACHE_FILE);
    } catch {
      // not root, or /run read-only: the next run probes again
    }
  }
  return fresh;
}

async function probe(): Promise<KvmVerdict> {
  if (!(await kvmDeviceOpens())) return { ok: false, why: '/dev/kvm is missing or not writable' };
  let vmlinuz: string;
  try {
    vmlinuz = chooseApplianceKernel().vmlinuz;
  } catch {
    // No kernel to try it with: /dev/kvm opening is all there is to go by.
    return { ok: true, why: '' };
  }
  let output = '';
  let finished = false;
  const vm = startWatched(
    {
      file: 'qemu-system-x86_64',
      args: [
        '-machine',
        'accel=kvm',
        '-cpu',
        'host',
        '-m',
        '128',
        '-nodefaults',
        '-display',
        'none',
        '-serial',
        'stdio',
        '-no-reboot',
        '-kernel',
        vmlinuz,
        '-append',
        'console=ttyS0 panic=-1',
      ],
    },
    (chunk) => {
      output += chunk;
      if (/Linux version/.test(output)) vm.stop();
    },
  );
  const timer = setTimeout(() => {
    if (!finished) vm.stop();
  }, PROBE_SECONDS * 1000);
  await vm.exited;
  finished = true;
  clearTimeout(timer);
  if (/Linux version/.test(output)) return { ok: true, why: '' };
  const qemuLines = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^qemu-system[^:]*: /.test(line) && !/warning:/.test(line));
  const qemuError = qemuLines.find((line) => /error:/.test(line)) ?? qemuLines.pop();
  return {
    ok: false,
    why: qemuError
      ? `KVM fails here (${qemuError.replace(/^qemu-system[^:]*: (error: )?/, '')})`
      : `a kernel under KVM printed nothing within ${PROBE_SECONDS} s`,
  };
}
