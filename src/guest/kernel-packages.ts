/**
 * Kernel packages the operator supplies (--kernel-package, .deb or .rpm) for a guest whose only
 * kernels are Xen kernels: what each holds is read on the host before anything is planned, so the
 * plan can name the kernel versions it will install and boot.
 */
import { basename } from 'node:path';
import { UserError } from '../errors.js';
import { CommandError, type CommandRunner } from '../exec.js';

export interface KernelPackage {
  /** Host path. */
  file: string;
  format: 'deb' | 'rpm';
  name: string;
  /** Kernel versions it installs (from its /boot/vmlinuz-VERSION files); empty for a -base or modules package. */
  versions: string[];
  /** Every path it installs (/boot/vmlinuz-..., /lib/modules/...), for the journal. */
  paths: string[];
}

/** The paths of a package listing: `dpkg-deb -c` lines (last field, ./-prefixed) or `rpm -qlp` lines. */
export function pathsInListing(listing: string): string[] {
  return listing
    .split('\n')
    .map((line) => line.trim().split(/\s+/).pop() ?? '')
    .map((path) => path.replace(/^\.\//, '/').replace(/\/$/, ''))
    .filter((path) => path.startsWith('/') && path !== '/');
}

/** Versions of /boot/vmlinu[xz]-VERSION among a package's file list (one path per line, ./ or / prefixed). */
export function kernelVersionsInListing(listing: string): string[] {
  const versions = new Set<string>();
  for (const match of listing.matchAll(/(?:^|\s)\.?\/boot\/vmlinu[xz]-(\S+)$/gm)) {
    if (match[1]) versions.add(match[1]);
  }
  return [...versions];
}

async function query(runner: CommandRunner, file: string, args: string[], what: string): Promise<string> {
  try {
    return (
      await runner.run({ file: args[0] as string, args: args.slice(1), kind: 'read', timeout: 'query' })
    ).stdout;
  } catch (error) {
    if (error instanceof CommandError && (error.notFound || !error.result)) {
      throw new UserError(
        `--kernel-package ${file}: reading a ${what} needs ${args[0]} on this host; install it`,
        2,
      );
    }
    const detail = error instanceof CommandError ? error.result?.stderr.trim().split('\n').pop() : undefined;
    throw new UserError(`--kernel-package ${file}: not a readable ${what} (${detail ?? String(error)})`, 2);
  }
}

export async function readKernelPackage(runner: CommandRunner, file: string): Promise<KernelPackage> {
  const format = file.endsWith('.deb') ? 'deb' : file.endsWith('.rpm') ? 'rpm' : undefined;
  if (!format) throw new UserError(`--kernel-package ${file}: expected a .deb or .rpm file`, 2);
  if (format === 'deb') {
    const name = (await query(runner, file, ['dpkg-deb', '-f', file, 'Package'], 'Debian package')).trim();
    const listing = await query(runner, file, ['dpkg-deb', '-c', file], 'Debian package');
    return { file, format, name, versions: kernelVersionsInListing(listing), paths: pathsInListing(listing) };
  }
  const name = (await query(runner, file, ['rpm', '-qp', '--qf', '%{NAME}', file], 'RPM package')).trim();
  const listing = await query(runner, file, ['rpm', '-qlp', file], 'RPM package');
  return {
    file,
    format,
    name: name || basename(file),
    versions: kernelVersionsInListing(listing),
    paths: pathsInListing(listing),
  };
}
