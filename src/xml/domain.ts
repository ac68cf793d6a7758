/**
 * libvirt domain XML for a KVM guest, from a plain description (DomainSpec). Built with an XML
 * builder, never by concatenation; libvirt's schema (virt-xml-validate) checks it in the tests.
 */
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import type { XenCharDev, XenHvm } from '../xen/guest-config.js';
import { stableUuid } from './qemu-accepts.js';

export type NicSource =
  | { type: 'network'; name: string }
  | { type: 'bridge'; name: string; openvswitch?: boolean; vlan?: number };

export interface DiskSpec {
  source: string;
  block: boolean;
  format: string;
  /** vda, vdb... for virtio disks; hdc, hdd for cdroms on the IDE bus. */
  target: string;
  bus: 'virtio' | 'ide';
  cdrom: boolean;
  readOnly: boolean;
  shareable?: boolean;
  /** A network volume: `source` is its name (pool/image). */
  network?: { protocol: 'rbd'; hosts: { name: string; port?: string }[] };
}

export interface NicSpec {
  mac?: string;
  source: NicSource;
  /** Outbound average in KiB/s. */
  rateKiBps?: number;
  /** The host-side interface name (Xen's vifname). */
  targetDev?: string;
  /** Open vSwitch trunk VLANs. */
  trunks?: number[];
}

export interface GraphicsSpec {
  type: 'vnc' | 'spice';
  listen?: string;
  /** Fixed VNC port, or undefined for autoport. */
  port?: number;
  keymap?: string;
  password?: string;
  /** SPICE only. */
  tlsPort?: number;
  agentMouse?: boolean;
  vdagent?: boolean;
  clipboard?: boolean;
  usbRedirection?: number;
}

/**
 * The platform of a guest that was HVM on Xen: its firmware, boot order and emulated devices, as
 * Xen gave them (a SPICE display brings a QXL card).
 */
export type PlatformSpec = Omit<XenHvm, 'nographic' | 'video'> & { video: XenHvm['video'] | 'qxl' };

export type BootSpec =
  | { type: 'disk' }
  | { type: 'direct'; kernel: string; initrd?: string; cmdline?: string };

/** kvm: hardware virtualisation; qemu: software emulation (TCG), for hosts without a usable KVM. */
export type DomainType = 'kvm' | 'qemu';

export interface DomainSpec {
  type: DomainType;
  name: string;
  uuid?: string;
  memoryMiB: number;
  /** Maximum memory; equals memoryMiB when the guest cannot balloon. */
  maxMemoryMiB: number;
  vcpus: number;
  maxVcpus: number;
  cpuset?: string;
  onPoweroff: string;
  onReboot: string;
  onCrash: string;
  localtime: boolean;
  /** Seconds added to the guest's clock (Xen's rtc_timeoffset). */
  clockAdjustment?: number;
  description?: string;
  boot: BootSpec;
  disks: DiskSpec[];
  nics: NicSpec[];
  graphics?: GraphicsSpec;
  /** Serial ports, the first one the console; undefined: one pty (the converted guest's ttyS0). */
  serials?: XenCharDev[];
  parallels?: XenCharDev[];
  channels?: { name: string; dev: XenCharDev }[];
  /** Set for a guest that was HVM on Xen; a PV guest gets libvirt's defaults. */
  platform?: PlatformSpec;
}

/** A serial, parallel or channel device's host side, as libvirt writes it. */
function charDev(parent: XMLBuilder, element: string, dev: XenCharDev): XMLBuilder {
  const libvirtType = dev.type === 'telnet' ? 'tcp' : dev.type;
  const node = parent.ele(element, { type: libvirtType });
  switch (dev.type) {
    case 'file':
    case 'dev':
      node.ele('source', { path: dev.path });
      break;
    case 'unix':
      node.ele('source', { mode: dev.server ? 'bind' : 'connect', path: dev.path });
      break;
    case 'tcp':
    case 'telnet':
      node.ele('source', { mode: dev.server ? 'bind' : 'connect', host: dev.host, service: dev.port });
      node.ele('protocol', { type: dev.type === 'telnet' ? 'telnet' : 'raw' });
      break;
    case 'udp':
      node.ele('source', { mode: 'connect', host: dev.host, service: dev.port });
      break;
  }
  return node;
}

export function buildDomainXml(spec: DomainSpec): string {
  const doc = create({ version: '1.0' });
  const domain = doc.ele('domain', { type: spec.type });
  domain.ele('name').txt(spec.name);
  if (spec.uuid) domain.ele('uuid').txt(spec.uuid);
  if (spec.description) domain.ele('description').txt(spec.description);
  domain.ele('memory', { unit: 'KiB' }).txt(String(spec.maxMemoryMiB * 1024));
  domain.ele('currentMemory', { unit: 'KiB' }).txt(String(spec.memoryMiB * 1024));
  const vcpuAttrs: Record<string, string> = { placement: 'static' };
  if (spec.cpuset) vcpuAttrs.cpuset = spec.cpuset;
  if (spec.vcpus !== spec.maxVcpus) vcpuAttrs.current = String(spec.vcpus);
  domain.ele('vcpu', vcpuAttrs).txt(String(spec.maxVcpus));
  const platform = spec.platform;
  // firmware='efi' lets libvirt pick OVMF (and its NVRAM) on the KVM host.
  const os = domain.ele('os', platform?.firmware === 'efi' ? { firmware: 'efi' } : {});
  // i440fx: the chipset Xen's device model emulates, so an HVM guest sees the machine it knew.
  os.ele('type', { arch: 'x86_64', machine: 'pc' }).txt('hvm');
  if (spec.boot.type === 'direct') {
    os.ele('kernel').txt(spec.boot.kernel);
    if (spec.boot.initrd) os.ele('initrd').txt(spec.boot.initrd);
    if (spec.boot.cmdline) os.ele('cmdline').txt(spec.boot.cmdline);
  } else {
    for (const dev of platform?.bootOrder ?? ['hd']) os.ele('boot', { dev });
  }
  const features = domain.ele('features');
  if (platform?.acpi ?? true) features.ele('acpi');
  if (platform?.apic ?? true) features.ele('apic');
  const basis = spec.localtime ? 'localtime' : 'utc';
  const clock = spec.clockAdjustment
    ? domain.ele('clock', { offset: 'variable', adjustment: String(spec.clockAdjustment), basis })
    : domain.ele('clock', { offset: basis });
  if (platform?.hpet !== undefined)
    clock.ele('timer', { name: 'hpet', present: platform.hpet ? 'yes' : 'no' });
  if (platform?.tscMode) clock.ele('timer', { name: 'tsc', mode: platform.tscMode });
  domain.ele('on_poweroff').txt(spec.onPoweroff);
  domain.ele('on_reboot').txt(spec.onReboot);
  domain.ele('on_crash').txt(spec.onCrash);
  const devices = domain.ele('devices');
  for (const d of spec.disks) {
    const disk = devices.ele('disk', {
      type: d.network ? 'network' : d.block ? 'block' : 'file',
      device: d.cdrom ? 'cdrom' : 'disk',
    });
    // A shared disk must not be cached by one guest behind the others' backs.
    disk.ele('driver', { name: 'qemu', type: d.format, ...(d.shareable ? { cache: 'none' } : {}) });
    if (d.network) {
      const source = disk.ele('source', { protocol: d.network.protocol, name: d.source });
      for (const host of d.network.hosts)
        source.ele('host', host.port ? { name: host.name, port: host.port } : { name: host.name });
    } else if (d.source) disk.ele('source', d.block ? { dev: d.source } : { file: d.source });
    disk.ele('target', { dev: d.target, bus: d.bus });
    if (d.readOnly) disk.ele('readonly');
    if (d.shareable) disk.ele('shareable');
  }
  for (const n of spec.nics) {
    const nic = devices.ele('interface', { type: n.source.type });
    if (n.mac) nic.ele('mac', { address: n.mac });
    nic.ele('source', n.source.type === 'network' ? { network: n.source.name } : { bridge: n.source.name });
    if (n.source.type === 'bridge' && n.trunks?.length) {
      const vlan = nic.ele('vlan', { trunk: 'yes' });
      if (n.source.vlan !== undefined) vlan.ele('tag', { id: String(n.source.vlan), nativeMode: 'untagged' });
      for (const id of n.trunks) vlan.ele('tag', { id: String(id) });
    } else if (n.source.type === 'bridge' && n.source.vlan !== undefined)
      nic.ele('vlan').ele('tag', { id: String(n.source.vlan) });
    if (n.source.type === 'bridge' && n.source.openvswitch) nic.ele('virtualport', { type: 'openvswitch' });
    if (n.targetDev) nic.ele('target', { dev: n.targetDev });
    if (n.rateKiBps) nic.ele('bandwidth').ele('outbound', { average: String(n.rateKiBps) });
    // No <driver name='vhost'/>: libvirt then uses the in-kernel vhost backend wherever
    // /dev/vhost-net exists, and still starts the guest where it does not (it refuses to when asked).
    nic.ele('model', { type: 'virtio' });
  }
  // The first serial port is the console (the converted guest's ttyS0).
  const serials = spec.serials?.length ? spec.serials : [{ type: 'pty' } as XenCharDev];
  serials.forEach((dev, port) => {
    charDev(devices, 'serial', dev).ele('target', { port: String(port) });
  });
  charDev(devices, 'console', serials[0] as XenCharDev).ele('target', { type: 'serial', port: '0' });
  (spec.parallels ?? []).forEach((dev, port) => {
    charDev(devices, 'parallel', dev).ele('target', { port: String(port) });
  });
  for (const channel of spec.channels ?? [])
    charDev(devices, 'channel', channel.dev).ele('target', { type: 'virtio', name: channel.name });
  if (spec.graphics) graphicsDevices(devices, spec.graphics, platform);
  for (const input of platform?.usbInputs ?? [])
    if (!(spec.graphics && input === 'tablet')) devices.ele('input', { type: input, bus: 'usb' });
  for (const usb of platform?.usbHostDevices ?? [])
    devices
      .ele('hostdev', { mode: 'subsystem', type: 'usb' })
      .ele('source')
      .ele('address', { bus: String(usb.bus), device: String(usb.device) });
  for (const model of platform?.sound ?? []) devices.ele('sound', { model });
  return `${doc.end({ prettyPrint: true, headless: true })}\n`;
}

/** The display: VNC or SPICE, a video card, and a USB tablet so the pointer stays in step. */
function graphicsDevices(devices: XMLBuilder, g: GraphicsSpec, platform: PlatformSpec | undefined): void {
  const attrs: Record<string, string> = { type: g.type };
  if (g.port === undefined && g.tlsPort === undefined) Object.assign(attrs, { port: '-1', autoport: 'yes' });
  else {
    if (g.port !== undefined) attrs.port = String(g.port);
    if (g.tlsPort !== undefined) attrs.tlsPort = String(g.tlsPort);
    attrs.autoport = 'no';
  }
  if (g.keymap) attrs.keymap = g.keymap;
  if (g.password) attrs.passwd = g.password;
  const graphics = devices.ele('graphics', attrs);
  if (g.listen) graphics.ele('listen', { type: 'address', address: g.listen });
  if (g.type === 'spice') {
    if (g.agentMouse !== undefined) graphics.ele('mouse', { mode: g.agentMouse ? 'client' : 'server' });
    if (g.clipboard !== undefined) graphics.ele('clipboard', { copypaste: g.clipboard ? 'yes' : 'no' });
    if (g.vdagent)
      devices
        .ele('channel', { type: 'spicevmc' })
        .ele('target', { type: 'virtio', name: 'com.redhat.spice.0' });
    for (let i = 0; i < (g.usbRedirection ?? 0); i++)
      devices.ele('redirdev', { bus: 'usb', type: 'spicevmc' });
  }
  devices.ele('input', { type: 'tablet', bus: 'usb' });
  const video = g.type === 'spice' ? 'qxl' : (platform?.video ?? 'vga');
  const model: Record<string, string> = { type: video };
  if (platform?.videoMiB && video !== 'qxl') model.vram = String(platform.videoMiB * 1024);
  devices.ele('video').ele('model', model);
}

/** A libvirt-safe domain name from an image path: the file name without its extension. */
export function domainNameFor(imagePath: string): string {
  const base = imagePath.split('/').pop() ?? 'guest';
  const stem = base.replace(/\.(raw|img|disk|qcow2)$/i, '') || 'guest';
  return stem.replace(/[^A-Za-z0-9_.+-]/g, '-');
}

/** The domain of a converted image when nothing but flags describe it. */
export function simpleDomain(options: {
  type: DomainType;
  name: string;
  diskPath: string;
  memoryMiB: number;
  vcpus: number;
  network: NicSource;
  format?: string;
  /** Further raw disks after the first (vdb, vdc...). */
  moreDisks?: string[];
  directKernel?: { kernel: string; initrd?: string; cmdline: string };
}): DomainSpec {
  const disk = (source: string, format: string, index: number): DiskSpec => ({
    source,
    block: false,
    format,
    target: `vd${String.fromCharCode(97 + index)}`,
    bus: 'virtio',
    cdrom: false,
    readOnly: false,
  });
  return {
    type: options.type,
    name: options.name,
    uuid: stableUuid(options.name),
    memoryMiB: options.memoryMiB,
    maxMemoryMiB: options.memoryMiB,
    vcpus: options.vcpus,
    maxVcpus: options.vcpus,
    onPoweroff: 'destroy',
    onReboot: 'restart',
    onCrash: 'destroy',
    localtime: false,
    boot: options.directKernel ? { type: 'direct', ...options.directKernel } : { type: 'disk' },
    disks: [
      disk(options.diskPath, options.format ?? 'raw', 0),
      ...(options.moreDisks ?? []).map((source, index) => disk(source, 'raw', index + 1)),
    ],
    nics: [{ source: options.network }],
  };
}
