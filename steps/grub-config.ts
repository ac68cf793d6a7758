/**
 * The boot menu GRUB reads (grub.cfg for GRUB 2, menu.lst/grub.conf for GRUB legacy, which pygrub
 * read on Xen): every kernel line boots root=/dev/vdXN with console=ttyS0, and GRUB 2 talks on the
 * serial port as well as the screen.
 */
import { convertKernelArgs, type KernelArgsPolicy } from '../src/guest/kernel-args.js';
import type { Step } from '../src/pipeline/types.js';

const KERNEL_LINE = /^(\s*)(linux|linux16|linuxefi|kernel)(\s+)(\S+)(.*)$/;

export const GRUB2_SERIAL = [
  'serial --unit=0 --speed=115200',
  'terminal_input serial console',
  'terminal_output serial console',
];

export function rewriteKernelLines(
  text: string,
  policy: Pick<KernelArgsPolicy, 'extra' | 'renames'>,
): string {
  return text
    .split('\n')
    .map((line) => {
      const match = KERNEL_LINE.exec(line);
      if (!match) return line;
      const [, indent, keyword, space, image, args] = match;
      const converted = convertKernelArgs(args ?? '', { ...policy, complete: true });
      return `${indent}${keyword}${space}${image} ${converted}`;
    })
    .join('\n');
}

/** GRUB 2 config: kernel lines converted, and the serial terminal enabled before the first menu entry. */
export function rewriteGrub2Config(
  text: string,
  policy: Pick<KernelArgsPolicy, 'extra' | 'renames'>,
): string {
  const converted = rewriteKernelLines(text, policy);
  if (/^\s*terminal_output\b.*serial/m.test(converted)) return converted;
  const lines = converted.split('\n');
  const firstEntry = lines.findIndex((line) => /^\s*(menuentry|submenu)\b/.test(line));
  lines.splice(firstEntry === -1 ? lines.length : firstEntry, 0, ...GRUB2_SERIAL, '');
  return lines.join('\n');
}

/**
 * GRUB legacy (menu.lst, grub.conf): kernel lines converted, and SUSE's graphical menu (gfxmenu)
 * commented out, since it cannot show on a serial console.
 */
export function rewriteGrubLegacyConfig(
  text: string,
  policy: Pick<KernelArgsPolicy, 'extra' | 'renames'>,
): string {
  return rewriteKernelLines(text, policy).replace(/^(\s*)(gfxmenu\b.*)$/gm, '$1#$2');
}

export const GRUB2_CONFIG = '/boot/grub/grub.cfg';
export const GRUB_LEGACY_CONFIGS = ['/boot/grub/menu.lst', '/boot/grub/grub.conf'];

export const grubConfigStep: Step = {
  id: 'grub-config',
  title: 'Rewrite the boot menu for ttyS0 and virtio',
  plan({ tree, kernelArgs }) {
    const grub2 = tree.read(GRUB2_CONFIG);
    if (grub2 !== undefined) {
      tree.write(GRUB2_CONFIG, rewriteGrub2Config(grub2, kernelArgs), 'grub-config', 'kernel lines for KVM');
    }
    const seen = new Set<string>();
    for (const path of GRUB_LEGACY_CONFIGS) {
      const canonical = tree.canonical(path);
      const text = tree.read(path);
      if (text === undefined || seen.has(canonical)) continue;
      seen.add(canonical);
      tree.write(path, rewriteGrubLegacyConfig(text, kernelArgs), 'grub-config', 'kernel lines for KVM');
    }
  },
};
