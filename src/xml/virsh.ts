/** Defining a domain in libvirt, and saying plainly when no libvirt daemon can be reached. */
import { UserError } from '../errors.js';
import { CommandError, type CommandRunner } from '../exec.js';

/** The connection virsh would use: LIBVIRT_DEFAULT_URI, else the system QEMU/KVM daemon. */
export function libvirtUri(): string {
  return process.env.LIBVIRT_DEFAULT_URI ?? 'qemu:///system';
}

/** `later`: how the operator defines it once libvirt is there ("virsh define FILE"). */
export async function defineDomain(
  runner: CommandRunner,
  xmlPath: string,
  name: string,
  later = `virsh define ${xmlPath}`,
): Promise<void> {
  const LIBVIRT_URI = libvirtUri();
  try {
    await runner.run({ file: 'virsh', args: ['-c', LIBVIRT_URI, 'uri'], kind: 'host', timeout: 'query' });
  } catch (error) {
    if (error instanceof CommandError && error.notFound) {
      throw new UserError(
        `virsh is not installed on this host (Debian: apt-get install libvirt-clients); define ${name} later with: ${later}`,
      );
    }
    const why =
      error instanceof CommandError && error.result
        ? error.result.stderr.trim().split('\n')[0]
        : String(error);
    throw new UserError(
      `no libvirt daemon reachable at ${LIBVIRT_URI} (${why}); define ${name} where libvirtd runs: ${later}`,
    );
  }
  await runner.run({
    file: 'virsh',
    args: ['-c', LIBVIRT_URI, 'define', xmlPath],
    kind: 'host',
    timeout: 'query',
  });
}
