/**
 * The qemu command line equivalent to a domain, for hosts without libvirt: a shell script that
 * runs as printed. Each bridged NIC gets a tap of a predictable name (ifname=), made before qemu
 * starts, put on its Linux bridge or Open vSwitch bridge (with the VLAN tag), and removed when
 * qemu exits: the same for both kinds of bridge, and nothing is left on the host.
 */
import { shellQuote } from '../exec.js';
import type { XenCharDev } from '../xen/guest-config.js';
import type { DomainSpec } from './domain.js';

/** A tap the script makes for one NIC. */
export interface QemuTap {
  name: string;
  bridge: string;
  openvswitch: boolean;
  vlan?: number;
  trunks?: number[];
}

/** Interface names are at most 15 bytes: the domain name, cut, then -INDEX. */
export function tapName(domain: string, index: number): string {
  const suffix = `-${index}`;
  const clean = domain.replace(/[^A-Za-z0-9_-]/g, '-');
  return `${clean.slice(0, 15 - suffix.length)}${suffix}`;
}

export function qemuCommand(spec: DomainSpec): { argv: string[]; taps: QemuTap[]; notes: string[] } {
  const notes: string[] = [];
  const taps: QemuTap[] = [];
  // TCG cannot pass the host's CPU through: it emulates the most it can (max).
  const accel =
    spec.type === 'kvm'
      ? ['-machine', 'pc,accel=kvm', '-cpu', 'host']
      : ['-machine', 'pc,accel=tcg', '-cpu', 'max'];
  const argv = ['qemu-system-x86_64', '-name', spec.name, ...accel];
  if (spec.uuid) argv.push('-uuid', spec.uuid);
  argv.push(
    '-m',
    spec.maxMemoryMiB > spec.memoryMiB
      ? `${spec.memoryMiB}M,maxmem=${spec.maxMemoryMiB}M,slots=1`
      : `${spec.memoryMiB}M`,
  );
  argv.push(
    '-smp',
    spec.maxVcpus > spec.vcpus ? `${spec.vcpus},maxcpus=${spec.maxVcpus}` : String(spec.vcpus),
  );
  if (spec.localtime) argv.push('-rtc', 'base=localtime');
  const platform = spec.platform;
  if (platform?.firmware === 'efi') {
    // libvirt picks OVMF and an NVRAM copy itself; plain qemu needs the firmware named.
    argv.push('-bios', '/usr/share/ovmf/OVMF.fd');
    notes.push(
      "UEFI: -bios /usr/share/ovmf/OVMF.fd (Debian's ovmf package) keeps no NVRAM variables between runs",
    );
  }
  if (spec.boot.type === 'disk' && platform && platform.bootOrder.length > 1)
    argv.push(
      '-boot',
      `order=${platform.bootOrder.map((dev) => ({ hd: 'c', cdrom: 'd', network: 'n' })[dev]).join('')}`,
    );
  if (spec.boot.type === 'direct') {
    argv.push('-kernel', spec.boot.kernel);
    if (spec.boot.initrd) argv.push('-initrd', spec.boot.initrd);
    if (spec.boot.cmdline) argv.push('-append', spec.boot.cmdline);
  }
  for (const disk of spec.disks) {
    // qemu names an RBD volume rbd:POOL/IMAGE[:mon_host=H1\;H2], escaping the colons of ports.
    const file = disk.network
      ? `rbd:${disk.source}${disk.network.hosts.length ? `:mon_host=${disk.network.hosts.map((h) => (h.port ? `${h.name}\\:${h.port}` : h.name)).join('\\;')}` : ''}`
      : disk.source;
    const opts = [`file=${file}`, `format=${disk.format}`, disk.cdrom ? 'media=cdrom' : 'if=virtio'];
    if (disk.shareable) opts.push('cache=none', 'file.locking=off');
    if (disk.cdrom) opts.push('if=ide');
    if (disk.readOnly && !disk.cdrom) opts.push('readonly=on');
    argv.push('-drive', opts.join(','));
  }
  spec.nics.forEach((nic, index) => {
    const id = `net${index}`;
    if (nic.source.type === 'bridge') {
      const tap: QemuTap = {
        // Xen's vifname where it fits an interface name, so host firewall rules keep matching.
        name: nic.targetDev && nic.targetDev.length <= 15 ? nic.targetDev : tapName(spec.name, index),
        bridge: nic.source.name,
        openvswitch: Boolean(nic.source.openvswitch),
        vlan: nic.source.vlan,
        trunks: nic.trunks,
      };
      taps.push(tap);
      // vhost where the host has it is qemu's to decide: vhost=on aborts where /dev/vhost-net is missing.
      argv.push('-netdev', `tap,id=${id},ifname=${tap.name},script=no,downscript=no`);
    } else {
      argv.push('-netdev', `user,id=${id}`);
      notes.push(
        `${id}: libvirt network ${nic.source.name} has no qemu equivalent; user-mode networking is used`,
      );
    }
    argv.push('-device', `virtio-net-pci,netdev=${id}${nic.mac ? `,mac=${nic.mac}` : ''}`);
    if (nic.rateKiBps)
      notes.push(
        `${id}: the Xen rate limit (${nic.rateKiBps} KiB/s) needs tc on the host; qemu does not limit it`,
      );
  });
  // The first serial port is the console on this terminal; further ports lead where they led on Xen.
  argv.push('-serial', 'mon:stdio');
  for (const dev of spec.serials?.slice(1) ?? []) argv.push('-serial', qemuCharDev(dev));
  for (const dev of spec.parallels ?? []) argv.push('-parallel', qemuCharDev(dev));
  const left = [
    spec.channels?.length ? 'virtio channels' : '',
    platform?.sound.length ? 'sound' : '',
    platform?.usbHostDevices.length ? 'USB host devices' : '',
  ].filter(Boolean);
  if (left.length > 0) notes.push(`${left.join(', ')}: in the libvirt XML only, not in this script`);
  if (spec.graphics?.type === 'spice') {
    const g = spec.graphics;
    const opts = [`port=${g.port ?? 5930}`, `addr=${g.listen ?? '127.0.0.1'}`];
    opts.push(g.password ? `password-secret=spicepw` : 'disable-ticketing=on');
    if (g.password) argv.push('-object', `secret,id=spicepw,data=${g.password}`);
    argv.push('-spice', opts.join(','), '-device', 'qxl-vga', '-usb', '-device', 'usb-tablet');
  } else if (spec.graphics) {
    const display = spec.graphics.port === undefined ? 0 : spec.graphics.port - 5900;
    argv.push('-vnc', `${spec.graphics.listen ?? '127.0.0.1'}:${display}`, '-usb', '-device', 'usb-tablet');
    if (spec.graphics.keymap) argv.push('-k', spec.graphics.keymap);
  } else {
    argv.push('-display', 'none');
  }
  return { argv, taps, notes };
}

/** A serial or parallel port's host side in qemu's -serial syntax. */
function qemuCharDev(dev: XenCharDev): string {
  switch (dev.type) {
    case 'file':
      return `file:${dev.path}`;
    case 'dev':
      return dev.path;
    case 'unix':
      return `unix:${dev.path}${dev.server ? ',server=on,wait=off' : ''}`;
    case 'tcp':
    case 'telnet':
      return `${dev.type}:${dev.host}:${dev.port}${dev.server ? ',server=on,wait=off' : ''}`;
    case 'udp':
      return `udp:${dev.host}:${dev.port}`;
    default:
      return dev.type;
  }
}

/** The shell lines that make a tap and put it on its bridge. */
function tapSetup(tap: QemuTap): string[][] {
  const attach = tap.openvswitch
    ? [
        [
          'ovs-vsctl',
          'add-port',
          tap.bridge,
          tap.name,
          ...(tap.vlan === undefined ? [] : [`tag=${tap.vlan}`]),
          ...(tap.trunks?.length ? [`trunks=${tap.trunks.join(',')}`] : []),
        ],
        ['ip', 'link', 'set', tap.name, 'up'],
      ]
    : [['ip', 'link', 'set', tap.name, 'master', tap.bridge, 'up']];
  return [['ip', 'tuntap', 'add', 'dev', tap.name, 'mode', 'tap'], ...attach];
}

function tapTeardown(tap: QemuTap): string[] {
  const line = (argv: string[]) => `${argv.map(shellQuote).join(' ')} 2>/dev/null || true`;
  return [
    ...(tap.openvswitch ? [line(['ovs-vsctl', '--if-exists', 'del-port', tap.bridge, tap.name])] : []),
    line(['ip', 'link', 'del', tap.name]),
  ];
}

/** The script `xml --emit qemu` prints: run it as printed (as root when it makes taps). */
export function qemuScript(spec: DomainSpec): { text: string; notes: string[] } {
  const { argv, taps, notes } = qemuCommand(spec);
  const lines = [
    '#!/bin/sh',
    `# ${spec.name} under qemu (${spec.type === 'kvm' ? 'KVM' : 'TCG, software emulation'}), made by xen2kvm.`,
  ];
  lines.push('# The serial console is this terminal; Ctrl-A x quits qemu.');
  if (taps.length > 0) {
    lines.push(
      '# Run as root: it makes a tap for each NIC, puts it on its bridge, and removes it when qemu exits.',
    );
    for (const tap of taps.filter((t) => !t.openvswitch))
      lines.push(
        `# (A user other than root can use qemu's bridge helper instead: -netdev bridge,br=${tap.bridge}, with "allow ${tap.bridge}" in /etc/qemu/bridge.conf.)`,
      );
    lines.push('set -e', 'remove_taps() {', ...taps.flatMap(tapTeardown).map((l) => `  ${l}`), '}');
    lines.push('trap remove_taps EXIT', "trap 'exit 130' INT TERM");
    for (const tap of taps) lines.push(...tapSetup(tap).map((a) => a.map(shellQuote).join(' ')));
  }
  lines.push(formatQemuCommand(argv));
  return { text: `${lines.join('\n')}\n`, notes };
}

/** One option and its value per line, as operators write them in scripts. */
export function formatQemuCommand(argv: readonly string[]): string {
  const lines: string[] = [shellQuote(argv[0] ?? '')];
  for (let i = 1; i < argv.length; i++) {
    const word = argv[i] as string;
    const value = argv[i + 1];
    if (word.startsWith('-') && value !== undefined && !value.startsWith('-')) {
      lines.push(`${shellQuote(word)} ${shellQuote(value)}`);
      i++;
    } else {
      lines.push(shellQuote(word));
    }
  }
  return lines.join(' \\\n  ');
}
