/**
 * KEY=value lines of shell-sourced configuration (/etc/default/grub, /etc/sysconfig/*,
 * initramfs.conf): the value of each matching key is rewritten with its indentation, its quotes and
 * anything after it kept, so a file the guest's own tools source still reads the same way.
 */

export interface AssignmentOptions {
  /**
   * What a value written without quotes gets: 'quote' puts it in double quotes (lists the guest's
   * tools split on spaces); 'keep' leaves it bare unless the new value has a space, which a bare
   * shell value cannot hold.
   */
  bare: 'quote' | 'keep';
}

/** `keys` matches a whole key name, e.g. /GRUB_CMDLINE_LINUX(?:_DEFAULT)?/. */
export function rewriteAssignments(
  text: string,
  keys: RegExp,
  edit: (value: string, key: string) => string,
  options: AssignmentOptions,
): string {
  const line = new RegExp(
    `^(?<indent>\\s*)(?<key>${keys.source})=(?<quote>["']?)(?<value>.*?)\\k<quote>(?<trailing>\\s*)$`,
  );
  return text
    .split('\n')
    .map((original) => {
      const groups = line.exec(original)?.groups;
      if (!groups) return original;
      const { indent = '', key = '', quote = '', value = '', trailing = '' } = groups;
      // A bare value ends at the first space or quote; anything else on the line is not ours to parse.
      if (!quote && /[\s"']/.test(value)) return original;
      const edited = edit(value, key);
      const mark = quote || (options.bare === 'quote' || /\s/.test(edited) ? '"' : '');
      return `${indent}${key}=${mark}${edited}${mark}${trailing}`;
    })
    .join('\n');
}

/** Whether any line assigns `key` (set or not, quoted or not). */
export function assigns(text: string, key: string): boolean {
  return new RegExp(`^\\s*${key}=`, 'm').test(text);
}
