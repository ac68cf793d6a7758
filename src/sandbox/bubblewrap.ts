/**
 * How a guest's own program runs during an apply: inside a bubblewrap sandbox (Debian's bubblewrap,
 * Flatpak's sandbox), never in a plain chroot, because a chroot is no boundary for root. The guest
 * gets its own mount, pid, ipc, uts, net and cgroup namespaces; a fresh /proc of its pid namespace;
 * a /dev holding null, zero, full, random, urandom, tty (and the image's own loop devices when
 * GRUB is installed); no /sys; no network but its own loopback; a capability bounding set cut to
 * what package and initrd tools need; no_new_privs (bubblewrap always sets it). Its filesystems are
 * bind-mounted nosuid,nodev (bubblewrap adds both), so a device node it creates opens nothing.
 * `--die-with-parent` and the pid namespace take every process down with the command.
 */

/** Capabilities a guest command keeps, and why. Everything else is dropped from the bounding set. */
export const KEPT_CAPABILITIES: ReadonlyArray<readonly [string, string]> = [
  ['CAP_CHOWN', 'dpkg, rpm and cpio give the files they install their owners'],
  ['CAP_DAC_OVERRIDE', 'root writes files whose modes leave the owner out (/etc/shadow, 0400 keys)'],
  ['CAP_DAC_READ_SEARCH', 'initrd tools read every module, firmware and configuration file'],
  ['CAP_FOWNER', 'chmod and timestamps on files owned by other users, as packages unpack them'],
  ['CAP_FSETID', 'installed files keep their set-user-ID bits (inert: the guest is mounted nosuid)'],
];

/** The environment a guest command starts with: nothing of the host's leaks in. */
export const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const GUEST_ENV: Record<string, string> = { PATH: GUEST_PATH, LC_ALL: 'C', HOME: '/root' };

export interface SandboxOptions {
  /** Host directory holding the guest's root (its other filesystems mounted below it). */
  root: string;
  argv: readonly string[];
  env?: Record<string, string>;
  /** Host block devices the command needs (grub-install writes the image's boot area). */
  devices?: readonly SandboxDevice[];
}

/** A host block device, and the path it has inside the sandbox (its own, unless told otherwise). */
export interface SandboxDevice {
  host: string;
  at: string;
}

/** The bwrap arguments that run `argv` confined to the guest. */
export function bubblewrapArgs(options: SandboxOptions): string[] {
  const env = { ...GUEST_ENV, ...options.env };
  return [
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-net',
    '--unshare-cgroup',
    '--die-with-parent',
    // A new session: the guest cannot push keystrokes into the operator's terminal (TIOCSTI).
    '--new-session',
    '--hostname',
    'xen2kvm-guest',
    '--bind',
    options.root,
    '/',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    ...(options.devices ?? []).flatMap((device) => ['--dev-bind', device.host, device.at]),
    '--cap-drop',
    'ALL',
    ...KEPT_CAPABILITIES.flatMap(([cap]) => ['--cap-add', cap]),
    '--clearenv',
    ...Object.entries(env).flatMap(([key, value]) => ['--setenv', key, value]),
    '--chdir',
    '/',
    '--',
    ...options.argv,
  ];
}

/** One line for the plan: how its guest commands will run. */
export function describeSandbox(
  limits: { memoryBytes: number; maxProcesses: number },
  cgroups?: string,
): string {
  const caps = KEPT_CAPABILITIES.map(([cap]) => cap.replace(/^CAP_/, '').toLowerCase()).join(', ');
  const capped = cgroups
    ? `at most ${Math.round(limits.memoryBytes / 1024 ** 2)} MiB and ${limits.maxProcesses} processes (${cgroups})`
    : 'no memory or process cap (this host has no usable cgroups)';
  return `guest commands run in a bubblewrap sandbox: own mount, pid, ipc, uts, net and cgroup namespaces; fresh /proc; minimal /dev; no /sys; no network; guest mounted nosuid,nodev; capabilities ${caps} only; no_new_privs; ${capped}; killed with every process they started on timeout or if xen2kvm dies`;
}
