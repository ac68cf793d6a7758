/**
 * Hosts for the fleet tests, made of real parts and started here: each host is a network
 * namespace (its address lives only there) with its own sshd, started in a mount namespace of its
 * own so the host can have its own /etc/xen, /usr/local/sbin or libvirt state. The hosts meet on a
 * bridge inside a switch namespace; a control namespace is where the operator's commands (ssh,
 * xen2kvm import, ansible-playbook) run. Every daemon is stopped by its pid, and the namespaces are
 * deleted with whatever still runs in them.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deleteNamespace, pidOf, removeDeadNamespaces, sh, stopPid, waitForPid } from './daemons.js';

const SUBNET = '10.99.0';

export interface FleetHost {
  name: string;
  ns: string;
  address: string;
  /** This host's own directory (its mounts' sources, pid files). */
  dir: string;
}

export class FleetNet {
  readonly sshConfig: string;
  readonly hosts: FleetHost[] = [];
  private readonly pidFiles: string[] = [];
  private readonly namespaces: string[] = [];
  private readonly switchNs: string;
  readonly control: FleetHost;

  private constructor(readonly dir: string) {
    this.switchNs = `x2k-fl-${process.pid}-sw`;
    this.sshConfig = join(dir, 'ssh_config');
    this.control = {
      name: 'control',
      ns: `x2k-fl-${process.pid}-control`,
      address: `${SUBNET}.2`,
      dir: join(dir, 'control'),
    };
  }

  static async start(dir: string): Promise<FleetNet> {
    await removeDeadNamespaces(/^(x2k-fl-(\d+)-\S+)/);
    const net = new FleetNet(dir);
    mkdirSync(net.control.dir, { recursive: true });
    await sh(['ip', 'netns', 'add', net.switchNs]);
    net.namespaces.push(net.switchNs);
    await sh(['ip', '-n', net.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh(['ip', '-n', net.switchNs, 'link', 'set', 'br0', 'up']);
    await net.plug(net.control, 2);
    await sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id_ed25519')]);
    await sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_ed25519')]);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id_ed25519.pub')));
    // sshd's privilege separation directory (Debian's packaging makes it at service start).
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    return net;
  }

  /** A namespace on the switch at SUBNET.octet. */
  private async plug(host: FleetHost, octet: number): Promise<void> {
    await sh(['ip', 'netns', 'add', host.ns]);
    this.namespaces.push(host.ns);
    const outside = `x2kv${process.pid % 100000}h${octet}`;
    await sh(['ip', 'link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns]);
    await sh(['ip', 'link', 'set', outside, 'netns', this.switchNs]);
    await sh(['ip', '-n', this.switchNs, 'link', 'set', outside, 'master', 'br0', 'up']);
    await sh(['ip', '-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
    await sh(['ip', '-n', host.ns, 'link', 'set', 'eth0', 'up']);
    await sh(['ip', '-n', host.ns, 'link', 'set', 'lo', 'up']);
  }

  /**
   * A host with an sshd at SUBNET.octet. `setup` is shell run as root in the host's own mount
   * namespace before sshd starts (bind mounts, daemons): whatever runs over ssh sees those mounts.
   */
  async host(name: string, octet: number, setup: string[] = []): Promise<FleetHost> {
    const host: FleetHost = {
      name,
      ns: `x2k-fl-${process.pid}-${name}`,
      address: `${SUBNET}.${octet}`,
      dir: join(this.dir, name),
    };
    mkdirSync(host.dir, { recursive: true });
    await this.plug(host, octet);
    const pidFile = join(host.dir, 'sshd.pid');
    const conf = join(host.dir, 'sshd_config');
    writeFileSync(
      conf,
      [
        `ListenAddress ${host.address}`,
        `HostKey ${join(this.dir, 'host_ed25519')}`,
        `PidFile ${pidFile}`,
        `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'Subsystem sftp internal-sftp',
        '',
      ].join('\n'),
    );
    const script = [
      'set -e',
      ...setup,
      `exec /usr/sbin/sshd -f ${conf} -E ${join(host.dir, 'sshd.log')}`,
    ].join('\n');
    await sh([
      'ip',
      'netns',
      'exec',
      host.ns,
      'unshare',
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
    ]);
    await waitForPid(`sshd of ${name}`, pidFile);
    this.pidFiles.push(pidFile);
    this.hosts.push(host);
    this.writeSshConfig();
    return host;
  }

  /** The operator's ssh client configuration: each host by its name, the test key, its own known_hosts. */
  private writeSshConfig(): void {
    const lines = this.hosts.flatMap((h) => [`Host ${h.name}`, `  HostName ${h.address}`]);
    writeFileSync(
      this.sshConfig,
      [
        ...lines,
        'Host *',
        '  User root',
        `  IdentityFile ${join(this.dir, 'id_ed25519')}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${join(this.dir, 'known_hosts')}`,
        '  StrictHostKeyChecking accept-new',
        '  ConnectTimeout 10',
        '',
      ].join('\n'),
    );
  }

  /** argv run in the control namespace (where the operator sits). */
  inControl(argv: string[]): string[] {
    return ['ip', 'netns', 'exec', this.control.ns, ...argv];
  }

  /** A daemon a host's setup started, stopped by its pid at the end. */
  stopAtEnd(pidFile: string): void {
    this.pidFiles.push(pidFile);
  }

  async stop(): Promise<void> {
    for (const file of this.pidFiles.reverse()) await stopPid(pidOf(file));
    for (const ns of this.namespaces) await deleteNamespace(ns);
  }
}

/** The stub xl a Xen host's /usr/local/sbin holds: `list [-l] NAME` and `shutdown -w NAME` over STATE/NAME.json. */
export function stubXl(state: string): string {
  return `#!/bin/sh
# xl as far as import asks it: a domain runs while STATE/NAME.json exists (xl list -l's output).
state=${state}
case "$1" in
  list)
    shift
    long=no; [ "$1" = -l ] && { long=yes; shift; }
    [ -f "$state/$1.json" ] || { echo "error: invalid domain identifier: $1" >&2; exit 1; }
    if [ $long = yes ]; then cat "$state/$1.json"; else printf 'Name ID Mem VCPUs State Time(s)\\n%s 1 512 1 -b---- 1.0\\n' "$1"; fi ;;
  shutdown)
    shift; [ "$1" = -w ] && shift
    [ -f "$state/$1.json" ] || { echo "error: invalid domain identifier: $1" >&2; exit 1; }
    echo "shutdown -w $1" >> "$state/calls"
    rm -f "$state/$1.json" ;;
  *) echo "stub xl: $*: not handled" >&2; exit 2 ;;
esac
`;
}
