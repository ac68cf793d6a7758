/**
 * /etc/default/grub: what the guest's own update-grub uses on every later kernel update, so the KVM
 * settings survive it. Kernel arguments move to virtio and ttyS0; GRUB's menu is put on the serial
 * port too, so an operator on `virsh console` sees it.
 */

import { convertKernelArgs, type KernelArgsPolicy } from '../src/guest/kernel-args.js';
import { GRUB_SERIAL_COMMAND } from '../src/guest/kvm-target.js';
import { assigns, rewriteAssignments } from '../src/guest/shell-assignments.js';
import type { Step } from '../src/pipeline/types.js';

const SERIAL_SETTINGS: [string, string][] = [
  ['GRUB_TERMINAL', '"console serial"'],
  ['GRUB_SERIAL_COMMAND', `"${GRUB_SERIAL_COMMAND}"`],
];

export function rewriteGrubDefaults(
  text: string,
  policy: Pick<KernelArgsPolicy, 'extra' | 'renames'>,
): string {
  const converted = rewriteAssignments(
    text,
    /GRUB_CMDLINE_LINUX(?:_DEFAULT)?/,
    (value, key) => convertKernelArgs(value, { ...policy, complete: key === 'GRUB_CMDLINE_LINUX' }),
    { bare: 'quote' },
  );
  const out = converted.split('\n');
  if (!assigns(text, 'GRUB_CMDLINE_LINUX')) {
    insertBeforeTrailingBlank(
      out,
      `GRUB_CMDLINE_LINUX="${convertKernelArgs('', { ...policy, complete: true })}"`,
    );
  }
  for (const [key, value] of SERIAL_SETTINGS) {
    if (!assigns(text, key)) insertBeforeTrailingBlank(out, `${key}=${value}`);
  }
  return out.join('\n');
}

function insertBeforeTrailingBlank(lines: string[], line: string): void {
  const end = lines.length > 0 && lines[lines.length - 1] === '' ? lines.length - 1 : lines.length;
  lines.splice(end, 0, line);
}

export const grubDefaultsStep: Step = {
  id: 'grub-defaults',
  title: 'Rewrite /etc/default/grub for ttyS0 and virtio',
  plan({ tree, kernelArgs }) {
    tree.rewrite(
      '/etc/default/grub',
      (text) => rewriteGrubDefaults(text, kernelArgs),
      'serial console, virtio root',
    );
  },
};
