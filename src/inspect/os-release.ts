/** Identifies the guest's distribution from its release files. */
import type { StagedTree } from '../tree/staged-tree.js';

export type OsFamily = 'debian' | 'redhat' | 'suse' | 'unknown';

export interface OsInfo {
  family: OsFamily;
  /** os-release ID (debian, ubuntu, rhel, centos, sles, opensuse...) or the release file's guess. */
  id: string;
  version: string;
  prettyName: string;
}

export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!match?.[1]) continue;
    fields[match[1]] = (match[2] ?? '').replace(/^(["'])(.*)\1$/, '$2');
  }
  return fields;
}

function familyOf(ids: string[]): OsFamily {
  if (ids.some((id) => ['debian', 'ubuntu'].includes(id))) return 'debian';
  if (ids.some((id) => ['rhel', 'centos', 'fedora', 'rocky', 'almalinux', 'ol'].includes(id)))
    return 'redhat';
  if (ids.some((id) => id === 'suse' || id.startsWith('sles') || id.startsWith('opensuse'))) return 'suse';
  return 'unknown';
}

/** Reads /etc/os-release first, then the older release files. */
export function detectOs(tree: StagedTree): OsInfo | undefined {
  const osRelease = tree.read('/etc/os-release') ?? tree.read('/usr/lib/os-release');
  if (osRelease) {
    const f = parseOsRelease(osRelease);
    const id = f.ID ?? 'unknown';
    const family = familyOf([id, ...(f.ID_LIKE ?? '').split(/\s+/)]);
    return { family, id, version: f.VERSION_ID ?? '', prettyName: f.PRETTY_NAME ?? id };
  }
  const suse = tree.read('/etc/SuSE-release');
  if (suse) {
    const version = /VERSION\s*=\s*(\S+)/.exec(suse)?.[1] ?? '';
    const id = /enterprise/i.test(suse) ? 'sles' : 'opensuse';
    return { family: 'suse', id, version, prettyName: suse.split('\n')[0]?.trim() ?? id };
  }
  const redhat = tree.read('/etc/redhat-release');
  if (redhat) {
    const version = /release (\d+(?:\.\d+)?)/.exec(redhat)?.[1] ?? '';
    const id = /centos/i.test(redhat) ? 'centos' : /fedora/i.test(redhat) ? 'fedora' : 'rhel';
    return { family: 'redhat', id, version, prettyName: redhat.trim() };
  }
  const debian = tree.read('/etc/debian_version');
  if (debian) {
    const version = debian.trim();
    return { family: 'debian', id: 'debian', version, prettyName: `Debian GNU/Linux ${version}` };
  }
  return undefined;
}
