/**
 * The boot menu GRUB reads (grub.cfg for GRUB 2, menu.lst/grub.conf for GRUB legacy, which pygrub
 * read on Xen): every kernel line boots root=/dev/vdXN with console=ttyS0, and GRUB 2 talks on the
 * serial port as well as the screen.
 */

import {
  addEntryFor,
  defaultEntry,
  grub2Entries,
  legacyEntries,
  type MenuEntry,
  setDefault,
} from '../src/guest/boot-menu.js';
import { GRUB_LEGACY_CONFIGS, GRUB2_LAYOUTS } from '../src/guest/grub-layouts.js';
import { convertKernelArgs, type KernelArgsPolicy } from '../src/guest/kernel-args.js';
import { GRUB_SERIAL_COMMAND } from '../src/guest/kvm-target.js';
import type { Step } from '../src/pipeline/types.js';

const KERNEL_LINE = /^(\s*)(linux|linux16|linuxefi|kernel)(\s+)(\S+)(.*)$/;

export const GRUB2_SERIAL = [
  GRUB_SERIAL_COMMAND,
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

const reason = (kernel: string | undefined) =>
  kernel ? `kernel lines for KVM; boots ${kernel} by default` : 'kernel lines for KVM';

/**
 * Makes the menu boot `version` by default: its entry when it has one, else a copy of the default
 * entry (or the first with a kernel) for that version, put in front of it.
 */
export function bootDefault(
  text: string,
  version: string | undefined,
  legacy: boolean,
  warn: (message: string) => void = () => {},
): string {
  if (!version) return text;
  const entriesOf = (t: string) => (legacy ? legacyEntries(t) : grub2Entries(t));
  let entries = entriesOf(text);
  let entry = entries.find((e) => e.version === version);
  if (!entry) {
    const template = [defaultEntry(text, entries, legacy), ...entries].find((e) => e?.version && e.topLevel);
    if (!template) {
      warn(`no menu entry with a kernel line to copy for kernel ${version}; add one by hand`);
      return text;
    }
    text = addEntryFor(text, template, version);
    entries = entriesOf(text);
    entry = entries.find((e) => e.version === version) as MenuEntry;
  }
  const current = defaultEntry(text, entries, legacy);
  if (current === entry) return text;
  // A default kept in grubenv (set default="${saved_entry}", Red Hat 7) is not this file's to change.
  if (!legacy && /^\s*set\s+default=["']?\$/m.test(text)) {
    warn(`the menu's default comes from grubenv: run grub2-set-default for kernel ${version} in the guest`);
    return text;
  }
  return setDefault(text, entry.path, legacy);
}

export const grubConfigStep: Step = {
  id: 'grub-config',
  title: 'Rewrite the boot menu for ttyS0 and virtio',
  plan({ tree, kernelArgs, guest, warn }) {
    for (const { config } of GRUB2_LAYOUTS) {
      const grub2 = tree.read(config);
      if (grub2 === undefined) continue;
      const converted = bootDefault(rewriteGrub2Config(grub2, kernelArgs), guest.bootKernel, false, warn);
      tree.write(config, converted, reason(guest.bootKernel));
    }
    const seen = new Set<string>();
    for (const path of GRUB_LEGACY_CONFIGS) {
      const canonical = tree.canonical(path);
      const text = tree.read(path);
      if (text === undefined || seen.has(canonical)) continue;
      seen.add(canonical);
      const converted = bootDefault(rewriteGrubLegacyConfig(text, kernelArgs), guest.bootKernel, true, warn);
      tree.write(path, converted, reason(guest.bootKernel));
    }
  },
};
