/**
 * SXP, the s-expressions `xm list -l` prints: `(domain (name web)(memory 512)(device (vbd ...)))`.
 * Atoms are bare words or quoted with '' or ""; a backslash before a newline continues the line.
 */
import { position, XenConfigError } from './config-error.js';

export type Sxp = string | Sxp[];

export function parseSxp(text: string, file: string): Sxp {
  let offset = 0;
  const fail = (message: string, at = offset): never => {
    const { line, column } = position(text, at);
    throw new XenConfigError(file, line, column, message);
  };
  const skip = () => {
    for (;;) {
      while (offset < text.length && /[\s\\]/.test(text[offset] as string)) offset++;
      if (text[offset] !== '#') return;
      while (offset < text.length && text[offset] !== '\n') offset++;
    }
  };
  const parseNode = (): Sxp => {
    skip();
    const c = text[offset];
    if (c === undefined) return fail("expected '(' or an atom but found the end of the file");
    if (c === '(') {
      const open = offset++;
      const items: Sxp[] = [];
      for (;;) {
        skip();
        if (text[offset] === ')') {
          offset++;
          return items;
        }
        if (offset >= text.length) fail("unbalanced '(': expected ')'", open);
        items.push(parseNode());
      }
    }
    if (c === ')') return fail("unexpected ')'");
    if (c === "'" || c === '"') {
      const start = offset++;
      const end = text.indexOf(c, offset);
      if (end === -1) fail(`unterminated string: expected a closing ${c}`, start);
      offset = end + 1;
      return text.slice(start + 1, end);
    }
    const atom = /^[^\s()'"]+/.exec(text.slice(offset))?.[0] as string;
    offset += atom.length;
    return atom;
  };
  const root = parseNode();
  skip();
  if (offset < text.length) fail('expected the end of the file after the closing )');
  return root;
}

/** Children of `node` whose first element is `key`. */
export function sxpChildren(node: Sxp, key: string): Sxp[][] {
  if (!Array.isArray(node)) return [];
  return node.filter((child): child is Sxp[] => Array.isArray(child) && child[0] === key);
}

/** The atom value of `(key value)` inside `node`. */
export function sxpValue(node: Sxp, key: string): string | undefined {
  const found = sxpChildren(node, key)[0];
  const value = found?.[1];
  return typeof value === 'string' ? value : undefined;
}
