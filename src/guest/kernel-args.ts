/**
 * Rewrites a kernel command line for KVM: root on virtio, the console on the first serial port,
 * Xen-only console options dropped, and any extra arguments the guest needs (net.ifnames=0).
 */
import { type DeviceRenames, toKvmDevice } from './device-names.js';
import { SERIAL_CONSOLE } from './kvm-target.js';

export interface KernelArgsPolicy {
  /** Arguments appended when absent, e.g. net.ifnames=0. */
  extra: readonly string[];
  /** Append the serial console and the extras when absent (false: only convert what is there). */
  complete: boolean;
  /** Explicit device renames of a guest whose disks were laid out anew. */
  renames?: DeviceRenames;
}

const XEN_CONSOLE = /^console=(hvc|xvc)\d*(,.*)?$/;
const XEN_ONLY = /^(xencons|xen_emul_unplug)=/;

export function convertKernelArgs(args: string, policy: KernelArgsPolicy): string {
  const words = args.split(/\s+/).filter(Boolean);
  const out: string[] = [];
  for (const word of words) {
    if (XEN_CONSOLE.test(word) || word === SERIAL_CONSOLE) {
      if (!out.includes(SERIAL_CONSOLE)) out.push(SERIAL_CONSOLE);
    } else if (XEN_ONLY.test(word)) {
      // meaningless outside Xen
    } else if (word.startsWith('root=') || word.startsWith('resume=')) {
      out.push(toKvmDevice(word, policy.renames));
    } else {
      out.push(word);
    }
  }
  if (!policy.complete) return out.join(' ');
  if (!out.some((w) => /^console=ttyS0\b/.test(w))) out.push(SERIAL_CONSOLE);
  for (const extra of policy.extra) {
    const key = extra.split('=')[0];
    if (!out.some((w) => w.split('=')[0] === key)) out.push(extra);
  }
  return out.join(' ');
}
