/**
 * What xen2kvm knows about one distribution family, in one place: how to recognise it, where its
 * kernels keep their initrds, which initrd tool rebuilds them (and what that tool says that is no
 * failure), and which package tool installs a kernel. Adding a family is adding one such module to
 * src/families/index.ts; the steps ask the guest's profile instead of naming families.
 */
import type { InitrdTool } from '../guest/initrd-tools.js';
import type { GuestFiles } from '../tree/staged-tree.js';

export type OsFamily = 'debian' | 'redhat' | 'suse' | 'unknown';

export interface OsInfo {
  family: OsFamily;
  /** os-release ID (debian, ubuntu, rhel, centos, sles, opensuse...) or the release file's guess. */
  id: string;
  version: string;
  prettyName: string;
}

/** The guest's own package manager, as the kernel-package step drives it. */
export interface PackageTool {
  format: 'deb' | 'rpm';
  /** Guest paths where the tool may live (one is enough). */
  binaries: readonly string[];
  /** The command that installs (or upgrades to) the packages at these guest paths. */
  install(packages: readonly string[]): string[];
  /** Guest paths an install changes besides the packages' own files (its database, boot links). */
  state: readonly string[];
}

export interface FamilyProfile {
  family: Exclude<OsFamily, 'unknown'>;
  /** Its distributions, for messages ("Debian, Ubuntu"). */
  label: string;
  /** Whether an os-release ID (or one of ID_LIKE) belongs to the family. */
  ownsId(id: string): boolean;
  /** The family's older release file, read when a guest has no os-release. */
  fromReleaseFile(tree: GuestFiles): OsInfo | undefined;
  /** Where the family's tools put a kernel's initrd, most usual first. */
  initrdNames: readonly ((version: string) => string)[];
  /** The guest's initrd tool, in the order that suits the family; undefined: none it has. */
  initrdTool(tree: GuestFiles): InitrdTool | undefined;
  /** The initrd tools it can drive, for the refusal when a guest has none. */
  initrdToolNames: string;
  /** The package that brings a kernel that runs on KVM, as a refusal names it. */
  kernelPackageHint: string;
  packageTool: PackageTool;
}

/** Whether any of the paths exists in the guest. */
export function hasAny(tree: GuestFiles, paths: readonly string[]): boolean {
  return paths.some((path) => tree.exists(path));
}

export const DRACUT_PATHS = ['/usr/bin/dracut', '/usr/sbin/dracut', '/sbin/dracut'];
export const MKINITRD_PATHS = ['/sbin/mkinitrd', '/usr/sbin/mkinitrd', '/usr/bin/mkinitrd'];

/** rpm, as Red Hat and SUSE guests both have it. */
export const RPM: PackageTool = {
  format: 'rpm',
  binaries: ['/usr/bin/rpm', '/bin/rpm'],
  install: (packages) => ['rpm', '-Uhv', ...packages],
  state: ['/var/lib/rpm'],
};
