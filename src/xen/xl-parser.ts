/**
 * The xm/xl configuration syntax (a small subset of Python, as xl.cfg(5) describes it):
 * `KEY = VALUE` or `KEY += VALUE` settings separated by newlines or `;`, `#` comments, strings in
 * '' or "" (with backslash escapes) or in Python's triple quotes (which may span lines), decimal, hex (0x) and octal (0o or a leading 0) numbers, and
 * lists in [] that may nest and end with a trailing comma.
 */
import { position, XenConfigError } from './config-error.js';

export type XlValue = string | number | XlValue[];
export type XlSettings = Map<string, XlValue>;

class Lexer {
  offset = 0;
  constructor(
    readonly text: string,
    readonly file: string,
  ) {}

  fail(message: string, at = this.offset): never {
    const { line, column } = position(this.text, at);
    throw new XenConfigError(this.file, line, column, message);
  }

  /** Skips blanks and comments; newlines too when `newlines` is set (inside lists). */
  skip(newlines: boolean): void {
    for (;;) {
      const c = this.text[this.offset];
      if (c === ' ' || c === '\t' || c === '\r' || (newlines && c === '\n')) this.offset++;
      else if (c === '\\' && this.text[this.offset + 1] === '\n') this.offset += 2;
      else if (c === '#')
        while (this.offset < this.text.length && this.text[this.offset] !== '\n') this.offset++;
      else return;
    }
  }

  peek(): string | undefined {
    return this.text[this.offset];
  }

  describe(): string {
    const c = this.peek();
    if (c === undefined) return 'the end of the file';
    if (c === '\n') return 'the end of the line';
    return `'${c}'`;
  }
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' };

/** xm files are Python: a '''...''' or """...""" string may span lines. */
function parseTripleQuoted(lx: Lexer): string {
  const quote = lx.text.slice(lx.offset, lx.offset + 3);
  const start = lx.offset;
  const end = lx.text.indexOf(quote, start + 3);
  if (end === -1) lx.fail(`unterminated string: expected a closing ${quote}`, start);
  lx.offset = end + 3;
  return lx.text.slice(start + 3, end);
}

function parseString(lx: Lexer): string {
  const quote = lx.peek() as string;
  if (lx.text.startsWith(quote.repeat(3), lx.offset)) return parseTripleQuoted(lx);
  const start = lx.offset;
  lx.offset++;
  let out = '';
  for (;;) {
    const c = lx.text[lx.offset];
    if (c === undefined || c === '\n') lx.fail(`unterminated string: expected a closing ${quote}`, start);
    lx.offset++;
    if (c === quote) return out;
    if (c === '\\') {
      const next = lx.text[lx.offset++] ?? '';
      out += ESCAPES[next] ?? `\\${next}`;
    } else {
      out += c;
    }
  }
}

function parseNumber(lx: Lexer): number {
  const match = /^[+-]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|\d+(\.\d+)?)/.exec(lx.text.slice(lx.offset));
  if (!match) lx.fail(`expected a value (a string, a number or a list) but found ${lx.describe()}`);
  lx.offset += match[0].length;
  const literal = match[0].replace(/^[+-]/, '');
  const sign = match[0].startsWith('-') ? -1 : 1;
  if (/^0[xX]/.test(literal)) return sign * Number.parseInt(literal.slice(2), 16);
  if (/^0[oO]/.test(literal)) return sign * Number.parseInt(literal.slice(2), 8);
  if (/^0\d+$/.test(literal)) return sign * Number.parseInt(literal.slice(1), 8);
  return sign * Number(literal);
}

function parseValue(lx: Lexer): XlValue {
  const c = lx.peek();
  if (c === '"' || c === "'") return parseString(lx);
  if (c === '[') return parseList(lx);
  return parseNumber(lx);
}

function parseList(lx: Lexer): XlValue[] {
  const open = lx.offset;
  lx.offset++;
  const items: XlValue[] = [];
  for (;;) {
    lx.skip(true);
    if (lx.peek() === ']') {
      lx.offset++;
      return items;
    }
    if (lx.peek() === undefined) lx.fail("unterminated list: expected ']'", open);
    items.push(parseValue(lx));
    lx.skip(true);
    if (lx.peek() === undefined) lx.fail("unterminated list: expected ']'", open);
    if (lx.peek() === ',') lx.offset++;
    else if (lx.peek() !== ']') lx.fail(`expected ',' or ']' in a list but found ${lx.describe()}`);
  }
}

export function parseXl(text: string, file: string): XlSettings {
  const lx: Lexer = new Lexer(text, file);
  const settings: XlSettings = new Map();
  for (;;) {
    lx.skip(false);
    const c = lx.peek();
    if (c === undefined) return settings;
    if (c === '\n' || c === ';') {
      lx.offset++;
      continue;
    }
    const key = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(lx.text.slice(lx.offset))?.[0];
    if (!key) lx.fail(`expected a setting name but found ${lx.describe()}`);
    lx.offset += key.length;
    lx.skip(false);
    let append = false;
    if (lx.text.startsWith('+=', lx.offset)) {
      append = true;
      lx.offset += 2;
    } else if (lx.peek() === '=') {
      lx.offset++;
    } else {
      lx.fail(`expected '=' after ${key} but found ${lx.describe()}`);
    }
    lx.skip(false);
    const value = parseValue(lx);
    const previous = settings.get(key);
    if (append && previous !== undefined) {
      if (Array.isArray(previous) && Array.isArray(value)) settings.set(key, [...previous, ...value]);
      else if (typeof previous === 'string' && typeof value === 'string') settings.set(key, previous + value);
      else lx.fail(`cannot append to ${key}: += needs two lists or two strings`);
    } else {
      settings.set(key, value);
    }
    lx.skip(false);
    const end = lx.peek();
    if (end !== undefined && end !== '\n' && end !== ';') {
      lx.fail(`expected the end of the line or ';' after the value of ${key} but found ${lx.describe()}`);
    }
  }
}
