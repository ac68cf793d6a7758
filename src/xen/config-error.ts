/** A Xen configuration that cannot be read: says where (file:line:column) and what was expected. */
import { UserError } from '../errors.js';

export class XenConfigError extends UserError {
  constructor(file: string, line: number, column: number, message: string) {
    super(`${file}:${line}:${column}: ${message}`, 1);
  }
}

/** Line and column (1-based) of an offset in a text. */
export function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return { line, column };
}
