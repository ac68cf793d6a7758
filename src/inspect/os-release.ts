/** Identifies the guest's distribution from its release files. */
import { familyOfIds, fromReleaseFiles, type OsInfo } from '../families/index.js';
import type { GuestFiles } from '../tree/staged-tree.js';

export type { OsFamily, OsInfo } from '../families/index.js';

export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!match?.[1]) continue;
    fields[match[1]] = (match[2] ?? '').replace(/^(["'])(.*)\1$/, '$2');
  }
  return fields;
}

/** Reads /etc/os-release first, then each family's older release file. */
export function detectOs(tree: GuestFiles): OsInfo | undefined {
  const osRelease = tree.read('/etc/os-release') ?? tree.read('/usr/lib/os-release');
  if (osRelease) {
    const f = parseOsRelease(osRelease);
    const id = f.ID ?? 'unknown';
    const family = familyOfIds([id, ...(f.ID_LIKE ?? '').split(/\s+/)]);
    return { family, id, version: f.VERSION_ID ?? '', prettyName: f.PRETTY_NAME ?? id };
  }
  return fromReleaseFiles(tree);
}
