/**
 * KEY=value lines of shell-sourced configuration (/etc/default/grub, /etc/sysconfig/*,
 * initramfs.conf): the value of each matching key is rewritten with its indentation, its quotes and
 * a trailing comment kept, so a file the guest's own tools source still reads the same way. A line
 * with anything else after the value (a second assignment, a command) is not ours to parse and is
 * left as it is.
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
  // A quoted value runs to its closing quote; a bare one to the first space. After it only spaces,
  // or spaces and a comment (a "#" starts a comment only at the start of a word).
  const line = new RegExp(
    `^(?<indent>\\s*)(?<key>${keys.source})=(?:"(?<dq>[^"]*)"|'(?<sq>[^']*)'|(?<bare>[^\\s"';]*))(?<trailing>\\s+#.*|\\s*)$`,
  );
  return text
    .split('\n')
    .map((original) => {
      const groups = line.exec(original)?.groups;
      if (!groups) return original;
      const { indent = '', key = '', dq, sq, bare = '', trailing = '' } = groups;
      const quote = dq !== undefined ? '"' : sq !== undefined ? "'" : '';
      const edited = edit(dq ?? sq ?? bare, key);
      const mark = quote || (options.bare === 'quote' || /\s/.test(edited) ? '"' : '');
      return `${indent}${key}=${mark}${edited}${mark}${trailing}`;
    })
    .join('\n');
}

/** Whether any line assigns `key` (set or not, quoted or not). */
export function assigns(text: string, key: string): boolean {
  return new RegExp(`^\\s*${key}=`, 'm').test(text);
}
