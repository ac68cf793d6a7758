/** The families xen2kvm converts, and the lookups the rest of the code uses instead of naming them. */
import { UserError } from '../errors.js';
import type { GuestFiles } from '../tree/staged-tree.js';
import { debianProfile } from './debian.js';
import type { FamilyProfile, OsFamily, OsInfo, PackageTool } from './profile.js';
import { redhatProfile } from './redhat.js';
import { suseProfile } from './suse.js';

export type { FamilyProfile, OsFamily, OsInfo, PackageTool } from './profile.js';

/**
 * In the order their release files are tried when a guest has no os-release: a SUSE or Red Hat
 * guest may carry a debian_version of some package's making, never the other way round.
 */
const RELEASE_FILE_ORDER: readonly FamilyProfile[] = [suseProfile, redhatProfile, debianProfile];

export const FAMILIES: readonly FamilyProfile[] = [debianProfile, redhatProfile, suseProfile];

/** The profile of a family; undefined for one xen2kvm cannot convert. */
export function profileOf(family: OsFamily): FamilyProfile | undefined {
  return FAMILIES.find((p) => p.family === family);
}

/** The family whose IDs include one of these os-release IDs (ID, then ID_LIKE). */
export function familyOfIds(ids: readonly string[]): OsFamily {
  return FAMILIES.find((p) => ids.some((id) => p.ownsId(id)))?.family ?? 'unknown';
}

export function fromReleaseFiles(tree: GuestFiles) {
  for (const profile of RELEASE_FILE_ORDER) {
    const os = profile.fromReleaseFile(tree);
    if (os) return os;
  }
  return undefined;
}

/** Every name a family gives a kernel's initrd, for finding the initrd of any kernel. */
export const INITRD_NAMES = FAMILIES.flatMap((p) => p.initrdNames);

/** The package tool for a package format (a .deb or .rpm given with --kernel-package). */
export function packageToolFor(format: 'deb' | 'rpm'): PackageTool {
  return (FAMILIES.find((p) => p.packageTool.format === format) as FamilyProfile).packageTool;
}

/** The supported families, for a refusal: "Debian, Ubuntu, Red Hat (...) and SUSE (...)". */
export function supportedFamilies(): string {
  const labels = FAMILIES.map((p) => p.label);
  return `${labels.slice(0, -1).join(', ')} and ${labels.at(-1)}`;
}

/** The profile of the guest's family; one line refusing a guest of any other family. */
export function requireProfile(label: string, os: OsInfo): FamilyProfile {
  const profile = profileOf(os.family);
  if (profile) return profile;
  throw new UserError(
    `${label}: ${os.prettyName} (${os.family} family) is not supported; supported: ${supportedFamilies()} guests`,
  );
}
