/**
 * A KVM host for the libvirt tests, made of real components and started here: a network namespace
 * holding libvirtd and virtlogd (on a socket of their own), Open vSwitch (ovsdb-server and
 * ovs-vswitchd, userspace datapath: this kernel has no openvswitch module), the bridges and a
 * dnsmasq on each network. Every daemon is stopped by its pid, and the namespace is deleted with
 * whatever still runs in it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { deleteNamespace, pidOf, removeDeadNamespaces, sh, stopPid, waitForPid } from './daemons.js';

/** Where ovs-vsctl (ours and libvirt's) finds the database: OVS's default, as libvirt calls it without options. */
const OVS_RUN_DIR = '/var/run/openvswitch';

/** A network the guest can join: a bridge (or an OVS VLAN port) with dnsmasq handing out addresses. */
export interface DhcpNetwork {
  leases: string;
}

export class LibvirtHost {
  readonly uri: string;
  private readonly pidFiles: string[] = [];
  private ovs = false;
  /** The OVS bridges made here, removed at the end. */
  private readonly ovsBridges: string[] = [];

  private constructor(
    readonly ns: string,
    readonly dir: string,
  ) {
    this.uri = `qemu:///system?socket=${join(dir, 'sock', 'libvirt-sock')}`;
  }

  /** Runs argv inside the namespace. */
  inNs(argv: string[]): string[] {
    return ['ip', 'netns', 'exec', this.ns, ...argv];
  }

  static async start(dir: string): Promise<LibvirtHost> {
    await removeDeadNamespaces(/^(x2k-lv-(\d+))\b/);
    const ns = `x2k-lv-${process.pid}`;
    const host = new LibvirtHost(ns, dir);
    mkdirSync(join(dir, 'sock'), { recursive: true, mode: 0o700 });
    await sh(['ip', 'netns', 'add', ns]);
    await sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    const conf = join(dir, 'libvirtd.conf');
    await sh(
      ['tee', conf],
      [
        `unix_sock_dir = "${join(dir, 'sock')}"`,
        'unix_sock_rw_perms = "0700"',
        'auth_unix_rw = "none"',
        'auth_unix_ro = "none"',
        '',
      ].join('\n'),
    );
    const virtlogd = join(dir, 'virtlogd.pid');
    await host.daemon('virtlogd', ['virtlogd', '-d', '-p', virtlogd], virtlogd);
    const libvirtd = join(dir, 'libvirtd.pid');
    await host.daemon('libvirtd', ['libvirtd', '-d', '-f', conf, '-p', libvirtd], libvirtd);
    // The daemon answers once its socket is up.
    for (let i = 0; ; i++) {
      const probe = await execa('virsh', ['-c', host.uri, 'uri'], { reject: false });
      if (probe.exitCode === 0) break;
      if (i > 100) throw new Error(`libvirtd did not answer at ${host.uri}: ${probe.stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // libvirtd keeps domain definitions host-wide (/etc/libvirt/qemu): a run killed before its
    // clean-up left its domains there. Only the tests' own names (x2k...) are removed.
    for (const name of (await host.virsh(['list', '--all', '--name'])).stdout.split('\n')) {
      if (!/^x2k/.test(name)) continue;
      await host.virsh(['destroy', name]);
      await host.virsh(['undefine', '--nvram', name]);
    }
    return host;
  }

  private async daemon(name: string, argv: string[], pidFile: string): Promise<void> {
    await sh(this.inNs(argv));
    await waitForPid(name, pidFile);
    this.pidFiles.push(pidFile);
  }

  /** dnsmasq handing out 10.N.0.50-99 on `iface` (which holds 10.N.0.1). */
  private async dnsmasq(iface: string, subnet: number): Promise<DhcpNetwork> {
    await sh(this.inNs(['ip', 'addr', 'add', `10.${subnet}.0.1/24`, 'dev', iface]));
    await sh(this.inNs(['ip', 'link', 'set', iface, 'up']));
    const leases = join(this.dir, `${iface}.leases`);
    const pidFile = join(this.dir, `dnsmasq-${iface}.pid`);
    await sh(
      this.inNs([
        'dnsmasq',
        '--conf-file=/dev/null',
        '--port=0',
        '--bind-interfaces',
        `--interface=${iface}`,
        '--except-interface=lo',
        `--dhcp-range=10.${subnet}.0.50,10.${subnet}.0.99`,
        `--dhcp-leasefile=${leases}`,
        `--pid-file=${pidFile}`,
      ]),
    );
    this.pidFiles.push(pidFile);
    return { leases };
  }

  /** A plain Linux bridge with a DHCP server on it. */
  async linuxBridge(name: string, subnet: number): Promise<DhcpNetwork> {
    await sh(this.inNs(['ip', 'link', 'add', name, 'type', 'bridge']));
    return this.dnsmasq(name, subnet);
  }

  /** An Open vSwitch bridge (datapath_type=netdev) whose DHCP server sits on VLAN `tag` only. */
  async ovsBridgeWithVlan(name: string, tag: number, subnet: number): Promise<DhcpNetwork> {
    if (!this.ovs) await this.startOvs();
    // A killed run may have left the bridge in a host OVS's database.
    await sh(['ovs-vsctl', '--if-exists', 'del-br', name]);
    await sh(['ovs-vsctl', 'add-br', name, '--', 'set', 'bridge', name, 'datapath_type=netdev']);
    this.ovsBridges.push(name);
    await sh(this.inNs(['ip', 'link', 'set', name, 'up']));
    const port = `vlan${tag}`;
    await sh([
      'ovs-vsctl',
      'add-port',
      name,
      port,
      `tag=${tag}`,
      '--',
      'set',
      'interface',
      port,
      'type=internal',
    ]);
    return this.dnsmasq(port, subnet);
  }

  private async startOvs(): Promise<void> {
    if (existsSync(join(OVS_RUN_DIR, 'db.sock'))) {
      // Ours runs inside the test namespace, where its bridges' interfaces appear; a host OVS would
      // make them in the host's namespace, and two cannot share the default socket libvirt uses.
      const probe = await execa('ovs-vsctl', ['--timeout=5', 'show'], { reject: false });
      if (probe.exitCode === 0)
        throw new Error(
          `an Open vSwitch already runs on this host (${OVS_RUN_DIR}/db.sock answers): stop it for these tests`,
        );
      // Nothing answers: the sockets of a killed run, which would make ours fail to bind.
      for (const entry of readdirSync(OVS_RUN_DIR)) rmSync(join(OVS_RUN_DIR, entry), { force: true });
    }
    mkdirSync(OVS_RUN_DIR, { recursive: true });
    const db = join(this.dir, 'ovs.db');
    await sh(['ovsdb-tool', 'create', db, '/usr/share/openvswitch/vswitch.ovsschema']);
    const ovsdb = join(this.dir, 'ovsdb-server.pid');
    await this.daemon(
      'ovsdb-server',
      [
        'ovsdb-server',
        db,
        `--remote=punix:${OVS_RUN_DIR}/db.sock`,
        `--log-file=${join(this.dir, 'ovsdb-server.log')}`,
        `--pidfile=${ovsdb}`,
        '--detach',
      ],
      ovsdb,
    );
    await sh(['ovs-vsctl', '--no-wait', 'init']);
    const vswitchd = join(this.dir, 'ovs-vswitchd.pid');
    await this.daemon(
      'ovs-vswitchd',
      [
        'ovs-vswitchd',
        `--log-file=${join(this.dir, 'ovs-vswitchd.log')}`,
        `--pidfile=${vswitchd}`,
        '--detach',
      ],
      vswitchd,
    );
    this.ovs = true;
  }

  virsh(args: string[]) {
    return execa('virsh', ['-q', '-c', this.uri, ...args], { reject: false });
  }

  /** The pty of the domain's serial console, as libvirt allocated it. */
  async consolePty(domain: string): Promise<string> {
    const xml = (await this.virsh(['dumpxml', domain])).stdout;
    const pty = /<console type='pty' tty='([^']+)'/.exec(xml)?.[1];
    if (!pty) throw new Error(`${domain} has no console pty:\n${xml}`);
    return pty;
  }

  /** The host-side interface libvirt made for the domain's first NIC (vnetN). */
  async firstInterface(domain: string): Promise<string> {
    const list = (await this.virsh(['domiflist', domain])).stdout.trim().split('\n')[0] ?? '';
    const iface = list.trim().split(/\s+/)[0];
    if (!iface) throw new Error(`${domain} has no interface`);
    return iface;
  }

  async stop(): Promise<void> {
    for (const name of (await this.virsh(['list', '--all', '--name'])).stdout.split('\n').filter(Boolean)) {
      await this.virsh(['destroy', name]);
      await this.virsh(['undefine', '--nvram', name]);
    }
    for (const bridge of this.ovsBridges)
      await execa('ovs-vsctl', ['--timeout=5', '--if-exists', 'del-br', bridge], { reject: false });
    for (const file of this.pidFiles.reverse()) await stopPid(pidOf(file));
    // Anything else that runs in the namespace (a dnsmasq libvirt started for a network of its own).
    await deleteNamespace(this.ns);
  }
}

/** Reads a serial console (a pty) until `pattern` shows or `seconds` pass; returns what was read. */
export async function readConsoleUntil(pty: string, pattern: RegExp, seconds: number): Promise<string> {
  // cat, not a Node read stream: a read blocked on a pty would hold a libuv thread; a process is killed.
  const reader = execa('cat', [pty], { reject: false, buffer: false });
  try {
    if (!reader.stdout) throw new Error('cat has no stdout');
    return await waitForOutput(reader.stdout, pattern, seconds);
  } finally {
    reader.kill();
    await reader;
  }
}

export function waitForOutput(
  stream: NodeJS.ReadableStream,
  pattern: RegExp,
  seconds: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      stream.removeListener('data', onData);
      reject(new Error(`no ${pattern} within ${seconds} s; the console showed:\n${seen.slice(-2000)}`));
    }, seconds * 1000);
    const onData = (chunk: Buffer | string) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        stream.removeListener('data', onData);
        resolve(seen);
      }
    };
    stream.on('data', onData);
  });
}

/** Waits for dnsmasq to record a lease for `mac`; returns the address it gave. */
export async function leaseFor(network: DhcpNetwork, mac: string, seconds: number): Promise<string> {
  for (let waited = 0; waited <= seconds; waited++) {
    const text = existsSync(network.leases) ? readFileSync(network.leases, 'utf8') : '';
    const line = text.split('\n').find((l) => l.split(' ')[1] === mac);
    if (line) return line.split(' ')[2] ?? '';
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`no DHCP lease for ${mac} in ${network.leases} within ${seconds} s`);
}
