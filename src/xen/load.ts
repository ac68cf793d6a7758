/** Reads a Xen guest configuration in whichever format it is: xm/xl, SXP, or xl's JSON. */
import { readFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
import { fromLibxlJson } from './from-json.js';
import { fromSxp } from './from-sxp.js';
import { fromXl } from './from-xl.js';
import type { XenGuestConfig } from './guest-config.js';
import { parseSxp } from './sxp-parser.js';
import { parseXl } from './xl-parser.js';

export type XenConfigFormat = 'xl' | 'sxp' | 'json';

export function detectFormat(text: string): XenConfigFormat {
  const start = text.replace(/^(\s|#[^\n]*\n)*/, '');
  if (start.startsWith('(')) return 'sxp';
  if (start.startsWith('[') || start.startsWith('{')) return 'json';
  return 'xl';
}

export function parseXenConfig(text: string, file: string): XenGuestConfig {
  switch (detectFormat(text)) {
    case 'sxp':
      return fromSxp(parseSxp(text, file), file);
    case 'json': {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        throw new UserError(
          `${file}: not valid JSON (${error instanceof Error ? error.message : String(error)})`,
        );
      }
      return fromLibxlJson(json, file);
    }
    case 'xl':
      return fromXl(parseXl(text, file), file);
  }
}

export async function loadXenConfig(file: string): Promise<XenGuestConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? 'unreadable');
    throw new UserError(
      `${file}: ${why}; give the guest's Xen configuration (/etc/xen/NAME, xm list -l or xl list -l output)`,
    );
  }
  return parseXenConfig(text, file);
}
