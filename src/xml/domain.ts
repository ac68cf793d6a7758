/**
 * libvirt domain XML for a KVM guest, from a plain description (DomainSpec). Built with an XML
 * builder, never by concatenation; libvirt's schema (virt-xml-validate) checks it in the tests.
 */
import { create } from 'xmlbuilder2';
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
}

export interface NicSpec {
  mac?: string;
  source: NicSource;
  /** Outbound average in KiB/s. */
  rateKiBps?: number;
}

export interface GraphicsSpec {
  listen?: string;
  /** Fixed VNC port, or undefined for autoport. */
  port?: number;
  keymap?: string;
  password?: string;
}

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
  boot: BootSpec;
  disks: DiskSpec[];
  nics: NicSpec[];
  graphics?: GraphicsSpec;
}

export function buildDomainXml(spec: DomainSpec): string {
  const doc = create({ version: '1.0' });
  const domain = doc.ele('domain', { type: spec.type });
  domain.ele('name').txt(spec.name);
  if (spec.uuid) domain.ele('uuid').txt(spec.uuid);
  domain.ele('memory', { unit: 'KiB' }).txt(String(spec.maxMemoryMiB * 1024));
  domain.ele('currentMemory', { unit: 'KiB' }).txt(String(spec.memoryMiB * 1024));
  const vcpuAttrs: Record<string, string> = { placement: 'static' };
  if (spec.cpuset) vcpuAttrs.cpuset = spec.cpuset;
  if (spec.vcpus !== spec.maxVcpus) vcpuAttrs.current = String(spec.vcpus);
  domain.ele('vcpu', vcpuAttrs).txt(String(spec.maxVcpus));
  const os = domain.ele('os');
  os.ele('type', { arch: 'x86_64', machine: 'pc' }).txt('hvm');
  if (spec.boot.type === 'direct') {
    os.ele('kernel').txt(spec.boot.kernel);
    if (spec.boot.initrd) os.ele('initrd').txt(spec.boot.initrd);
    if (spec.boot.cmdline) os.ele('cmdline').txt(spec.boot.cmdline);
  } else {
    os.ele('boot', { dev: 'hd' });
  }
  const features = domain.ele('features');
  features.ele('acpi');
  features.ele('apic');
  domain.ele('clock', { offset: spec.localtime ? 'localtime' : 'utc' });
  domain.ele('on_poweroff').txt(spec.onPoweroff);
  domain.ele('on_reboot').txt(spec.onReboot);
  domain.ele('on_crash').txt(spec.onCrash);
  const devices = domain.ele('devices');
  for (const d of spec.disks) {
    const disk = devices.ele('disk', {
      type: d.block ? 'block' : 'file',
      device: d.cdrom ? 'cdrom' : 'disk',
    });
    disk.ele('driver', { name: 'qemu', type: d.format });
    if (d.source) disk.ele('source', d.block ? { dev: d.source } : { file: d.source });
    disk.ele('target', { dev: d.target, bus: d.bus });
    if (d.readOnly) disk.ele('readonly');
  }
  for (const n of spec.nics) {
    const nic = devices.ele('interface', { type: n.source.type });
    if (n.mac) nic.ele('mac', { address: n.mac });
    nic.ele('source', n.source.type === 'network' ? { network: n.source.name } : { bridge: n.source.name });
    if (n.source.type === 'bridge' && n.source.vlan !== undefined)
      nic.ele('vlan').ele('tag', { id: String(n.source.vlan) });
    if (n.source.type === 'bridge' && n.source.openvswitch) nic.ele('virtualport', { type: 'openvswitch' });
    if (n.rateKiBps) nic.ele('bandwidth').ele('outbound', { average: String(n.rateKiBps) });
    // No <driver name='vhost'/>: libvirt then uses the in-kernel vhost backend wherever
    // /dev/vhost-net exists, and still starts the guest where it does not (it refuses to when asked).
    nic.ele('model', { type: 'virtio' });
  }
  devices.ele('serial', { type: 'pty' }).ele('target', { port: '0' });
  devices.ele('console', { type: 'pty' }).ele('target', { type: 'serial', port: '0' });
  if (spec.graphics) {
    const g = spec.graphics;
    const attrs: Record<string, string> =
      g.port === undefined
        ? { type: 'vnc', port: '-1', autoport: 'yes' }
        : { type: 'vnc', port: String(g.port), autoport: 'no' };
    if (g.keymap) attrs.keymap = g.keymap;
    if (g.password) attrs.passwd = g.password;
    const graphics = devices.ele('graphics', attrs);
    if (g.listen) graphics.ele('listen', { type: 'address', address: g.listen });
    // A framebuffer and keyboard on Xen become a VGA card and a USB tablet: the VNC pointer stays in step.
    devices.ele('input', { type: 'tablet', bus: 'usb' });
    devices.ele('video').ele('model', { type: 'vga' });
  }
  return `${doc.end({ prettyPrint: true, headless: true })}\n`;
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
