/**
 * What libvirt's qemu driver and qemu itself accept, where a Xen configuration may say otherwise:
 * each Xen value is mapped to one they take, or dropped, and the caller warns in one line. Facts
 * from libvirt 9 and qemu 7 (Debian 12): the qemu driver refuses `preserve` and `rename-restart`
 * for on_poweroff and on_reboot; qemu knows keymaps by its own names (en-us, not Xen's en).
 */
import { createHash } from 'node:crypto';

/** The keymaps qemu ships (share/qemu/keymaps). */
const QEMU_KEYMAPS = new Set(
  'ar bepo cz da de de-ch en-gb en-us es et fi fo fr fr-be fr-ca fr-ch hr hu is it ja lt lv mk nl no pl pt pt-br ru sl sv th tr'.split(
    ' ',
  ),
);

/** Xen's keymap names that qemu spells another way. */
const KEYMAP_ALIASES: Record<string, string> = {
  en: 'en-us',
  us: 'en-us',
  uk: 'en-gb',
  gb: 'en-gb',
  'de-de': 'de',
  'fr-fr': 'fr',
};

/** The keymap qemu knows for a Xen keymap, with why when it differs; undefined: none (dropped). */
export function qemuKeymap(keymap: string): { keymap?: string; note?: string } {
  const lower = keymap.toLowerCase();
  if (QEMU_KEYMAPS.has(lower)) return { keymap: lower };
  const alias = KEYMAP_ALIASES[lower];
  if (alias) return { keymap: alias, note: `keymap ${keymap} is ${alias} to qemu` };
  return { note: `keymap ${keymap} is not one qemu knows: left out (the VNC client's keymap is used)` };
}

export type LifecycleEvent = 'on_poweroff' | 'on_reboot' | 'on_crash';

const ACCEPTED: Record<LifecycleEvent, readonly string[]> = {
  on_poweroff: ['destroy', 'restart'],
  on_reboot: ['destroy', 'restart'],
  on_crash: ['destroy', 'restart', 'preserve', 'coredump-destroy', 'coredump-restart'],
};

/** What a Xen action means for the qemu driver: itself if accepted, else the closest it takes. */
export function qemuLifecycle(
  event: LifecycleEvent,
  value: string | undefined,
): { action: string; note?: string } {
  const fallback = event === 'on_reboot' ? 'restart' : 'destroy';
  if (value === undefined) return { action: fallback };
  if (ACCEPTED[event].includes(value)) return { action: value };
  // rename-restart keeps the old domain around and starts a new one: restart is what the guest sees.
  const action = value === 'rename-restart' ? 'restart' : fallback;
  return {
    action,
    note: `${event} = ${value} is not an action libvirt's qemu driver takes: ${action} is used`,
  };
}

/**
 * A uuid that is the same every time for the same domain name, so defining the converted guest
 * again replaces it instead of failing with "domain already exists with uuid". A name-based
 * (version 5, SHA-1) uuid in a namespace of xen2kvm's own.
 */
export function stableUuid(name: string): string {
  const namespace = Buffer.from('5f0c1b9e7d2a4c39a8e6b3d41f72c0aa', 'hex');
  const bytes = createHash('sha1').update(namespace).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The highest CPU number a libvirt cpuset ("0-3,6", "^2" exclusions aside) names; undefined when none. */
export function highestCpu(cpuset: string): number | undefined {
  let highest: number | undefined;
  for (const part of cpuset.split(',')) {
    const match = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (!match) continue;
    const top = Number(match[2] ?? match[1]);
    highest = highest === undefined ? top : Math.max(highest, top);
  }
  return highest;
}

/** Why a pinning cannot start on a host with this many CPUs; undefined when it can. */
export function pinningProblem(cpuset: string, hostCpus: number): string | undefined {
  const highest = highestCpu(cpuset);
  if (highest === undefined || highest < hostCpus) return undefined;
  return `cpus = ${cpuset} pins the guest to CPU ${highest}, which this host does not have (it has ${hostCpus}): libvirt refuses to start it here; change the <vcpu cpuset> or remove it`;
}
