/**
 * /etc/default/grub: what the guest's own update-grub uses on every later kernel update, so the KVM
 * settings survive it. Kernel arguments move to virtio and ttyS0; GRUB's menu is put on the serial
 * port too, so an operator on `virsh console` sees it.
 */
import { convertKernelArgs, type KernelArgsPolicy } from '../src/guest/kernel-args.js';
import type { Step } from '../src/pipeline/types.js';

const SERIAL_SETTINGS: [string, string][] = [
  ['GRUB_TERMINAL', '"console serial"'],
  ['GRUB_SERIAL_COMMAND', '"serial --unit=0 --speed=115200"'],
];

export function rewriteGrubDefaults(
  text: string,
  policy: Pick<KernelArgsPolicy, 'extra' | 'renames'>,
): string {
  const lines = text.split('\n');
  let sawCmdline = false;
  const out = lines.map((line) => {
    const match = /^(\s*)(GRUB_CMDLINE_LINUX(?:_DEFAULT)?)=(["']?)(.*?)\3(\s*)$/.exec(line);
    if (!match) return line;
    const [, indent, key, quote, value, trailing] = match;
    const complete = key === 'GRUB_CMDLINE_LINUX';
    if (complete) sawCmdline = true;
    const converted = convertKernelArgs(value ?? '', { ...policy, complete });
    return `${indent}${key}=${quote || '"'}${converted}${quote || '"'}${trailing}`;
  });
  if (!sawCmdline) {
    insertBeforeTrailingBlank(
      out,
      `GRUB_CMDLINE_LINUX="${convertKernelArgs('', { ...policy, complete: true })}"`,
    );
  }
  for (const [key, value] of SERIAL_SETTINGS) {
    if (!out.some((line) => new RegExp(`^\\s*${key}=`).test(line)))
      insertBeforeTrailingBlank(out, `${key}=${value}`);
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
    const text = tree.read('/etc/default/grub');
    if (text !== undefined) {
      tree.write(
        '/etc/default/grub',
        rewriteGrubDefaults(text, kernelArgs),
        'grub-defaults',
        'serial console, virtio root',
      );
    }
  },
};
