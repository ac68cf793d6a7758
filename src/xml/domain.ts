/**
 * libvirt domain XML for a converted guest: KVM, a virtio disk and NIC, and the console on a
 * serial pty (what `virsh console` attaches to). Built with an XML builder, never by concatenation.
 */
import { create } from 'xmlbuilder2';

export type NetworkAttachment = { type: 'network'; name: string } | { type: 'bridge'; name: string };

export interface DomainSpec {
  name: string;
  memoryMiB: number;
  vcpus: number;
  diskPath: string;
  diskFormat: 'raw' | 'qcow2';
  network: NetworkAttachment;
  mac?: string;
}

export function buildDomainXml(spec: DomainSpec): string {
  const doc = create({ version: '1.0' });
  const domain = doc.ele('domain', { type: 'kvm' });
  domain.ele('name').txt(spec.name);
  domain.ele('memory', { unit: 'KiB' }).txt(String(spec.memoryMiB * 1024));
  domain.ele('currentMemory', { unit: 'KiB' }).txt(String(spec.memoryMiB * 1024));
  domain.ele('vcpu', { placement: 'static' }).txt(String(spec.vcpus));
  const os = domain.ele('os');
  os.ele('type', { arch: 'x86_64', machine: 'pc' }).txt('hvm');
  os.ele('boot', { dev: 'hd' });
  const features = domain.ele('features');
  features.ele('acpi');
  features.ele('apic');
  domain.ele('on_poweroff').txt('destroy');
  domain.ele('on_reboot').txt('restart');
  domain.ele('on_crash').txt('destroy');
  const devices = domain.ele('devices');
  const disk = devices.ele('disk', { type: 'file', device: 'disk' });
  disk.ele('driver', { name: 'qemu', type: spec.diskFormat });
  disk.ele('source', { file: spec.diskPath });
  disk.ele('target', { dev: 'vda', bus: 'virtio' });
  const nic = devices.ele('interface', { type: spec.network.type });
  if (spec.mac) nic.ele('mac', { address: spec.mac });
  nic.ele(
    'source',
    spec.network.type === 'network' ? { network: spec.network.name } : { bridge: spec.network.name },
  );
  nic.ele('model', { type: 'virtio' });
  devices.ele('serial', { type: 'pty' }).ele('target', { port: '0' });
  devices.ele('console', { type: 'pty' }).ele('target', { type: 'serial', port: '0' });
  return `${doc.end({ prettyPrint: true, headless: true })}\n`;
}

/** A libvirt-safe domain name from an image path: the file name without its extension. */
export function domainNameFor(imagePath: string): string {
  const base = imagePath.split('/').pop() ?? 'guest';
  const stem = base.replace(/\.(raw|img|disk|qcow2)$/i, '') || 'guest';
  return stem.replace(/[^A-Za-z0-9_.+-]/g, '-');
}
