/**
 * The Xen host (dom0) as `import` sees it: commands run there through the operator's ssh client,
 * each through the one command runner. What runs there only reads, except what the operator asked
 * for: `xl shutdown -w` (--shutdown), and an LVM snapshot made and removed (--snapshot).
 */

import { UserError } from '../errors.js';
import { CommandError, type CommandRunner, lastLines } from '../exec.js';
import { formatSshSource, type SshSource, sshArgs } from './ssh-source.js';

/** The tools import may use on the Xen host, as found there. */
export interface XenHostTools {
  /** The toolstack that knows the running domains: xl (Xen 4.1+), else xm (Xen 3, 4.0), else none. */
  toolstack: 'xl' | 'xm' | undefined;
  python3: boolean;
  zstd: boolean;
  lvs: boolean;
}

/** A guest's configuration as read on the Xen host. */
export interface RemoteConfig {
  text: string;
  /** Where it came from: `xl list -l NAME`, or the file's path. */
  origin: string;
  /** `xl list` knows the domain: it runs (or is paused). */
  running: boolean;
}

/** An LVM snapshot made for the copy, removed after it. */
export interface Snapshot {
  device: string;
  /** VG/LV as lvremove takes it. */
  volume: string;
}

const PROBE =
  'for t in xl xm python3 zstd lvs; do if command -v "$t" >/dev/null 2>&1; then echo "$t yes"; else echo "$t no"; fi; done';

const CONFIG_FILES =
  'for f in "/etc/xen/$1" "/etc/xen/$1.cfg"; do if [ -f "$f" ]; then echo "$f"; exec cat -- "$f"; fi; done; exit 3';

export class XenHost {
  readonly where: string;

  constructor(
    readonly source: SshSource,
    private readonly runner: CommandRunner,
  ) {
    this.where = source.host;
  }

  private run(argv: string[], kind: 'read' | 'host', okExitCodes: number[] = []) {
    return this.runner.run({
      file: 'ssh',
      args: sshArgs(this.source, argv),
      kind,
      timeout: 'remote',
      okExitCodes,
    });
  }

  /** Which tools the Xen host has; the first contact, so an unreachable host is said here in one line. */
  async tools(): Promise<XenHostTools> {
    let stdout: string;
    try {
      ({ stdout } = await this.run(['sh', '-c', PROBE], 'read'));
    } catch (error) {
      if (error instanceof CommandError && error.notFound)
        throw new UserError('ssh is not installed here: install the OpenSSH client (openssh-client)');
      const why = error instanceof CommandError ? lastLines(error.result?.stderr ?? '', 1) : String(error);
      throw new UserError(
        `cannot run commands on ${this.where} over ssh (${why || 'no answer'}); check that \`ssh ${this.where} true\` works without a password prompt`,
      );
    }
    const has = (tool: string) => new RegExp(`^${tool} yes$`, 'm').test(stdout);
    const toolstack = has('xl') ? 'xl' : has('xm') ? 'xm' : undefined;
    return { toolstack, python3: has('python3'), zstd: has('zstd'), lvs: has('lvs') };
  }

  /** The guest's configuration: `xl list -l` where the domain runs, else its file in /etc/xen. */
  async config(tools: XenHostTools): Promise<RemoteConfig> {
    const { name } = this.source;
    if (name.startsWith('/')) {
      const file = await this.run(['cat', '--', name], 'read', [1]);
      if (file.exitCode !== 0)
        throw new UserError(
          `${formatSshSource(this.source)}: ${lastLines(file.stderr, 1) || 'cannot be read'}`,
        );
      return { text: file.stdout, origin: name, running: false };
    }
    if (tools.toolstack) {
      // A running domain's configuration as the toolstack holds it: xl's JSON, or xm's SXP.
      const listed = await this.run([tools.toolstack, 'list', '-l', name], 'read', [1]);
      if (listed.exitCode === 0 && listed.stdout.trim())
        return { text: listed.stdout, origin: `${tools.toolstack} list -l ${name}`, running: true };
    }
    const file = await this.run(['sh', '-c', CONFIG_FILES, 'xen2kvm', name], 'read', [3]);
    if (file.exitCode === 3)
      throw new UserError(
        `${name} is not a domain on ${this.where} (${tools.toolstack ? `${tools.toolstack} list knows no such domain` : 'neither xl nor xm there'}) and neither /etc/xen/${name} nor /etc/xen/${name}.cfg exists; give its configuration's path: ssh://${this.where}//PATH`,
      );
    const [origin = '', ...rest] = file.stdout.split('\n');
    return { text: rest.join('\n'), origin, running: false };
  }

  /** Whether xl lists the domain (for a configuration read from a file). */
  async running(tools: XenHostTools, domain: string): Promise<boolean> {
    if (!tools.toolstack) return false;
    const listed = await this.run([tools.toolstack, 'list', domain], 'read', [1]);
    return listed.exitCode === 0;
  }

  /** Shuts the domain down and waits until it is gone (--shutdown). */
  async shutdown(tools: XenHostTools, domain: string): Promise<void> {
    await this.run([tools.toolstack ?? 'xl', 'shutdown', '-w', domain], 'host');
  }

  /** An LVM snapshot of `device` (--snapshot): the copy reads it while the guest keeps running. */
  async snapshot(device: string, domain: string, size: string): Promise<Snapshot> {
    const found = await this.run(['lvs', '--noheadings', '-o', 'vg_name,lv_name', device], 'read', [5]);
    const [vg, lv] = found.stdout.trim().split(/\s+/);
    if (found.exitCode !== 0 || !vg || !lv)
      throw new UserError(
        `${domain}'s disk ${device} on ${this.where} is not an LVM volume, so it cannot be snapshotted; shut the guest down instead (--shutdown)`,
      );
    const snap = `${lv}-xen2kvm-snap`;
    await this.run(['lvcreate', '--snapshot', '--name', snap, '--size', size, `${vg}/${lv}`], 'host');
    return { device: `/dev/${vg}/${snap}`, volume: `${vg}/${snap}` };
  }

  async removeSnapshot(snapshot: Snapshot): Promise<void> {
    await this.run(['lvremove', '--force', snapshot.volume], 'host');
  }
}
