/**
 * Which kernel a boot menu starts, and how to make it start another: GRUB 2's grub.cfg (menuentry
 * and submenu blocks, `set default=`) and GRUB legacy's menu.lst/grub.conf (title blocks,
 * `default N`). A kernel with no entry yet (one being installed) gets a copy of an existing entry
 * with the version changed, so it keeps the root, console and initrd conventions of the guest.
 */

export interface MenuEntry {
  /** What `default` names it by: "2" for a top-level entry, "1>0" inside a submenu (GRUB 2). */
  path: string;
  /** The kernel version its kernel line boots (/boot/vmlinuz-VERSION), if it names one. */
  version: string | undefined;
  /** Line numbers (0-based) of the entry's first and last line. */
  first: number;
  last: number;
  /** Whether it is at top level (a copy can go beside it). */
  topLevel: boolean;
}

const KERNEL_IMAGE = /^\s*(?:linux|linux16|linuxefi|kernel)\s+(?:\([^)]*\))?\S*\/vmlinu[xz]-(\S+)/;

function versionIn(lines: string[], first: number, last: number): string | undefined {
  for (let i = first; i <= last; i++) {
    const match = KERNEL_IMAGE.exec(lines[i] ?? '');
    if (match?.[1]) return match[1];
  }
  return undefined;
}

/** GRUB 2 menu entries, in the order `set default=` counts them. */
export function grub2Entries(text: string): MenuEntry[] {
  const lines = text.split('\n');
  const entries: MenuEntry[] = [];
  const stack: { kind: 'menuentry' | 'submenu' | 'other'; start: number; path: string; children: number }[] =
    [];
  let topCount = 0;
  lines.forEach((line, index) => {
    const opening = /^\s*(menuentry|submenu)\b.*\{\s*$/.exec(line);
    if (opening) {
      const parent = [...stack].reverse().find((s) => s.kind === 'submenu');
      const path = parent ? `${parent.path}>${parent.children++}` : String(topCount++);
      stack.push({ kind: opening[1] as 'menuentry' | 'submenu', start: index, path, children: 0 });
      return;
    }
    if (/\{\s*$/.test(line) && !/^\s*#/.test(line)) {
      stack.push({ kind: 'other', start: index, path: '', children: 0 });
      return;
    }
    if (/^\s*\}\s*$/.test(line)) {
      const closed = stack.pop();
      if (closed?.kind === 'menuentry') {
        entries.push({
          path: closed.path,
          version: versionIn(lines, closed.start, index),
          first: closed.start,
          last: index,
          topLevel: !closed.path.includes('>'),
        });
      }
    }
  });
  return entries.sort((a, b) => a.first - b.first);
}

/** GRUB legacy title blocks: from a `title` line to the line before the next one (or the end). */
export function legacyEntries(text: string): MenuEntry[] {
  const lines = text.split('\n');
  const starts = lines.flatMap((line, index) => (/^\s*title\b/.test(line) ? [index] : []));
  return starts.map((first, n) => {
    let last = (starts[n + 1] ?? lines.length) - 1;
    while (last > first && (lines[last] ?? '').trim() === '') last--;
    return { path: String(n), version: versionIn(lines, first, last), first, last, topLevel: true };
  });
}

/**
 * GRUB legacy's `default N`, or `default=N` as anaconda writes grub.conf (its parser takes a space or
 * an equals sign between a command and its argument).
 */
const LEGACY_DEFAULT = /^(\s*default)(\s*=\s*|\s+)(\S+).*$/m;

/** The entry `default` selects (GRUB 2: a number or a path; legacy: a number); the first one otherwise. */
export function defaultEntry(text: string, entries: MenuEntry[], legacy: boolean): MenuEntry | undefined {
  const value = legacy
    ? (LEGACY_DEFAULT.exec(text)?.[3] ?? '0')
    : (/^\s*set\s+default=["']?([^"'\s]+)["']?/m.exec(text)?.[1] ?? '0');
  return entries.find((e) => e.path === value) ?? (/^\d+$/.test(value) ? undefined : entries[0]);
}

/** Makes `path` the default entry, replacing the existing setting (in its own spelling) or adding one at the top. */
export function setDefault(text: string, path: string, legacy: boolean): string {
  if (legacy) {
    if (LEGACY_DEFAULT.test(text)) return text.replace(LEGACY_DEFAULT, `$1$2${path}`);
    return `default ${path}\n${text}`;
  }
  const pattern = /^(\s*)set\s+default=.*$/m;
  if (pattern.test(text)) return text.replace(pattern, `$1set default="${path}"`);
  return `set default="${path}"\n${text}`;
}

/**
 * Adds an entry for kernel `version`, copied from `template` with its version replaced, in front of
 * the template (top level), and in front of the comments that belong to the template (YaST's
 * identifier comment stays with its entry, and is not copied). Returns the new text.
 */
export function addEntryFor(text: string, template: MenuEntry, version: string): string {
  const lines = text.split('\n');
  const block = lines.slice(template.first, template.last + 1);
  const old = template.version as string;
  const copy = block.map((line) =>
    /^\s*title\b/.test(line) ? retitle(line, old, version) : line.split(old).join(version),
  );
  let at = template.first;
  while (at > 0 && /^\s*#/.test(lines[at - 1] ?? '')) at--;
  lines.splice(at, 0, ...copy, '');
  return lines.join('\n');
}

/**
 * The title of a GRUB legacy entry copied for another kernel: its Xen markers ("(xen)", "Xen -- ")
 * dropped, since the new kernel is not a Xen one. One that spells the old version gets the new one
 * in its place; one that does not ("openSUSE 11.4 - 2.6.37.6-0.5 (xen)", "Xen -- SLES 11 SP4 -
 * 3.0.101-63") names the new kernel instead: the distribution's part of the title, then the version.
 */
function retitle(line: string, oldVersion: string, version: string): string {
  const match = /^(\s*title\s+)(.*)$/.exec(line);
  if (!match) return line;
  const unmarked = (title: string) =>
    title
      .replace(/^\s*xen\s*--\s*/i, '')
      .replace(/\s*\(\s*xen\s*\)/gi, '')
      .trim();
  if (line.includes(oldVersion))
    return `${match[1]}${unmarked((match[2] ?? '').split(oldVersion).join(version))}`;
  const flavour = /-?xenU?$/.exec(oldVersion)?.[0] ?? '';
  const release = oldVersion.slice(0, oldVersion.length - flavour.length);
  const name = unmarked((match[2] ?? '').split(release).join(''))
    .replace(/[\s(-]+$/, '')
    .trim();
  return `${match[1]}${name ? `${name} - ` : ''}${version}`;
}

/** The version of the kernel the menu boots by default, from grub.cfg or else menu.lst/grub.conf. */
export function menuDefaultVersion(menus: { text: string; legacy: boolean }[]): string | undefined {
  for (const { text, legacy } of menus) {
    const entries = legacy ? legacyEntries(text) : grub2Entries(text);
    const entry = defaultEntry(text, entries, legacy);
    if (entry?.version) return entry.version;
  }
  return undefined;
}
