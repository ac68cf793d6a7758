/**
 * A Xen guest's configuration as a KVM domain: same name, uuid, memory, vCPUs, pinning, lifecycle,
 * clock, MACs, bridges (mapped), rate limits and VNC; disks renamed to virtio in their Xen order;
 * the console on ttyS0; boot from the guest's own disk, or direct kernel boot on request.
 */

import { UserError } from '../errors.js';
import { convertKernelArgs } from '../guest/kernel-args.js';
import type { BootMode } from '../pipeline/types.js';
import type { XenDisk, XenGuestConfig, XenNic } from '../xen/guest-config.js';
import { notCarriedLine } from '../xen/xl-keys.js';
import type { DiskSpec, DomainSpec, DomainType, GraphicsSpec, NicSource, PlatformSpec } from './domain.js';
import {
  type LifecycleEvent,
  pinningProblem,
  qemuKeymap,
  qemuLifecycle,
  stableUuid,
} from './qemu-accepts.js';

export interface BridgeTarget {
  name: string;
  openvswitch: boolean;
}

/** Parses --bridge XEN=KVM or XEN=ovs:KVM. */
export function parseBridgeMapping(argument: string): [string, BridgeTarget] {
  const match = /^([^=\s]+)=(ovs:)?([^=\s]+)$/.exec(argument);
  if (!match?.[1] || !match[3]) {
    throw new UserError(`--bridge ${argument}: expected XENBRIDGE=BRIDGE or XENBRIDGE=ovs:BRIDGE`, 2);
  }
  return [match[1], { name: match[3], openvswitch: Boolean(match[2]) }];
}

/** Xen bridges the guest's NICs use that no mapping covers (Open vSwitch ports aside). */
export function unmappedBridges(config: XenGuestConfig, bridges: Map<string, BridgeTarget>): string[] {
  const names = config.nics
    .filter((nic) => nic.bridge && !nic.script?.includes('openvswitch'))
    .map((nic) => nic.bridge as string)
    .filter((name) => !bridges.has(name) && !bridges.has(name.replace(/\.\d+$/, '')));
  return [...new Set(names)];
}

export interface XenMappingOptions {
  type: DomainType;
  bridges: Map<string, BridgeTarget>;
  /** Where NICs that named no bridge go. */
  defaultNic: NicSource;
  /** The converted image: it replaces the guest's first disk. */
  image?: string;
  imageFormat?: string;
  /**
   * The partition numbers the converted image holds. A guest given its partitions as separate Xen
   * disks (xen-tools: disk.img as xvda2, swap.img as xvda1) then has every one of them the image
   * holds replaced by it, not only the first in Xen order.
   */
  imagePartitions?: readonly number[];
  /**
   * A guest whose volumes were laid out anew: these disks come first (vda, vdb...), in place of the
   * Xen devices named in `absorbed`; the guest's other disks follow. Overrides `image`.
   */
  laidOut?: { disks: string[]; absorbed: string[] };
  boot: BootMode;
  /** The kernel the host boots (direct boot of a converted guest), instead of the Xen config's. */
  directKernel?: { kernel: string; initrd?: string; cmdline: string };
  name?: string;
  memoryMiB?: number;
  vcpus?: number;
  /** The CPUs of the host the XML is made on: a pinning beyond them is warned about. */
  hostCpus?: number;
}

const XEN_DEFAULT_MEMORY_MIB = 128;

/** Order of a Xen device name: disk letters first (xvda < xvdb < xvdaa), then partition number. */
function deviceOrder(vdev: string): [number, number] {
  const match = /^(?:xvd|hd|sd|vd)([a-z]+)(\d*)$/.exec(vdev);
  if (!match?.[1]) return [Number.MAX_SAFE_INTEGER, 0];
  const letters = [...match[1]].reduce((n, c) => n * 26 + (c.charCodeAt(0) - 96), 0);
  return [letters, Number(match[2] || 0)];
}

/** vda, vdb, ... vdz, vdaa: the name of the n-th virtio disk. */
export function virtioName(index: number): string {
  let name = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26))
    name = String.fromCharCode(97 + ((n - 1) % 26)) + name;
  return `vd${name}`;
}

function lifecycle(event: LifecycleEvent, value: string | undefined, warnings: string[]): string {
  const { action, note } = qemuLifecycle(event, value);
  if (note) warnings.push(note);
  return action;
}

function keymap(value: string | undefined, warnings: string[]): string | undefined {
  if (value === undefined) return undefined;
  const mapped = qemuKeymap(value);
  if (mapped.note) warnings.push(mapped.note);
  return mapped.keymap;
}

function nicSource(nic: XenNic, options: XenMappingOptions, warnings: string[]): NicSource {
  // vif-route and vif-nat give the guest a routed or NATed link on the Xen host, not a bridge.
  const routed = /vif-(route|nat)/.exec(nic.script ?? '')?.[1];
  if (routed) {
    const where =
      options.defaultNic.type === 'network'
        ? `libvirt network ${options.defaultNic.name}`
        : `bridge ${options.defaultNic.name}`;
    const how = routed === 'route' ? 'routed' : 'NATed';
    warnings.push(
      `NIC ${nic.mac ?? '(no MAC)'} was ${how} by the Xen host (${nic.script}): it is put on ${nic.bridge ? `bridge ${nic.bridge}` : where}; the KVM host needs the same ${how} set-up (a libvirt network with <forward mode="${routed}"/>)`,
    );
  }
  if (!nic.bridge) return options.defaultNic;
  const exact = options.bridges.get(nic.bridge);
  const vlanMatch = /^(.+)\.(\d+)$/.exec(nic.bridge);
  const ovsScript = nic.script?.includes('openvswitch') ?? false;
  if (exact) {
    const vlan = exact.openvswitch && vlanMatch ? Number(vlanMatch[2]) : undefined;
    return { type: 'bridge', name: exact.name, openvswitch: exact.openvswitch, vlan };
  }
  if (vlanMatch?.[1]) {
    const base = vlanMatch[1];
    const vlan = Number(vlanMatch[2]);
    const target = options.bridges.get(base) ?? { name: base, openvswitch: ovsScript };
    if (target.openvswitch || ovsScript)
      return { type: 'bridge', name: target.name, openvswitch: true, vlan };
    warnings.push(
      `bridge ${nic.bridge} is VLAN ${vlan} on ${base}: a Linux bridge cannot tag it; map it with --bridge ${nic.bridge}=BRIDGE or --bridge ${base}=ovs:BRIDGE`,
    );
    return { type: 'bridge', name: target.name };
  }
  if (!options.bridges.has(nic.bridge) && !ovsScript) {
    warnings.push(
      `no mapping for Xen bridge ${nic.bridge}: the KVM host needs a bridge of that name (or give --bridge ${nic.bridge}=BRIDGE)`,
    );
  }
  return { type: 'bridge', name: nic.bridge, openvswitch: ovsScript };
}

function disks(config: XenGuestConfig, options: XenMappingOptions, warnings: string[]): DiskSpec[] {
  const ordered = [...config.disks].sort((a, b) => {
    const [la, pa] = deviceOrder(a.vdev);
    const [lb, pb] = deviceOrder(b.vdev);
    return la - lb || pa - pb;
  });
  const fixed = ordered.filter((d) => !d.cdrom);
  const cdroms = ordered.filter((d) => d.cdrom);
  const ideNames = ['hdc', 'hdd', 'hda', 'hdb'];
  if (cdroms.length > ideNames.length) warnings.push(`only ${ideNames.length} cdrom drives are carried over`);
  // The converted disks take the first names; the Xen disks they replace are left out.
  const converted = options.laidOut?.disks ?? (options.image ? [options.image] : []);
  const absorbed =
    options.laidOut?.absorbed ?? (options.image ? replacedByImage(fixed, options, warnings) : []);
  const specs: DiskSpec[] = [
    ...converted.map((source, index) => ({
      source,
      block: false,
      format: index === 0 ? (options.imageFormat ?? 'raw') : 'raw',
      readOnly: false,
    })),
    ...fixed
      .filter((d: XenDisk) => !absorbed.some((vdev) => sameDisk(vdev, d.vdev)))
      .map((d) => ({
        source: d.source,
        block: d.block,
        format: d.format,
        readOnly: d.readOnly,
        shareable: d.shareable,
        network: d.network,
      })),
  ].map((d, index) => ({ ...d, target: virtioName(index), bus: 'virtio' as const, cdrom: false }));
  cdroms.slice(0, ideNames.length).forEach((d, index) => {
    specs.push({
      source: d.source,
      block: d.block,
      format: d.format,
      target: ideNames[index] as string,
      bus: 'ide',
      cdrom: true,
      readOnly: true,
    });
  });
  return specs;
}

/** Whether two Xen device names are one device, whatever bus they name it on (xvda, hda, sda). */
function sameDisk(a: string, b: string): boolean {
  const xen = (vdev: string) => vdev.replace(/^(sd|hd)/, 'xvd');
  return xen(a) === xen(b);
}

/** The disk letter and partition number of a Xen device name: xvda2 -> ['a', 2], hdb -> ['b', 0]. */
function diskAndPartition(vdev: string): [string, number] | undefined {
  const match = /^(?:xvd|hd|sd|vd)([a-z]+)(\d*)$/.exec(vdev);
  return match?.[1] ? [match[1], Number(match[2] || 0)] : undefined;
}

/**
 * The Xen disks the converted image stands for: the first disk in Xen order, or when the guest had
 * its partitions as separate disks, each partition of that disk the image holds. A partition of
 * that disk the image does not hold stays a disk of its own, with a warning.
 */
function replacedByImage(fixed: XenDisk[], options: XenMappingOptions, warnings: string[]): string[] {
  const first = fixed[0];
  if (!first) return [];
  const held = options.imagePartitions;
  const letter = diskAndPartition(first.vdev)?.[0];
  if (!held || !letter) return [first.vdev];
  const sameDisk = fixed.filter((d) => diskAndPartition(d.vdev)?.[0] === letter);
  if (sameDisk.some((d) => diskAndPartition(d.vdev)?.[1] === 0)) return [first.vdev];
  const replaced = sameDisk.filter((d) => held.includes(diskAndPartition(d.vdev)?.[1] ?? 0));
  for (const d of sameDisk.filter((d) => !replaced.includes(d))) {
    warnings.push(
      `Xen disk ${d.vdev} (${d.source}) is a partition the converted image does not hold: it stays a disk of its own, and the guest's references to it need mapping by hand`,
    );
  }
  return (replaced.length > 0 ? replaced : [first]).map((d) => d.vdev);
}

export function domainFromXen(
  config: XenGuestConfig,
  options: XenMappingOptions,
): { spec: DomainSpec; warnings: string[] } {
  const warnings = [...config.notes];
  const memoryMiB = options.memoryMiB ?? config.memoryMiB ?? XEN_DEFAULT_MEMORY_MIB;
  const vcpus = options.vcpus ?? config.vcpus ?? 1;
  let boot: DomainSpec['boot'] = { type: 'disk' };
  if (options.directKernel) {
    boot = { type: 'direct', ...options.directKernel };
  } else if (options.boot === 'direct') {
    if (!config.boot.kernel) {
      throw new UserError(
        `${config.file}: the guest booted through ${config.boot.bootloader ?? 'its own bootloader'}, so there is no kernel to boot directly; use --boot guest`,
        2,
      );
    }
    const cmdline = convertKernelArgs(config.boot.cmdline ?? '', { extra: [], complete: true });
    boot = { type: 'direct', kernel: config.boot.kernel, initrd: config.boot.ramdisk, cmdline };
  } else if (config.boot.kernel && !config.boot.bootloader) {
    warnings.push(
      `the guest booted a kernel kept on the Xen host (${config.boot.kernel}): under KVM it boots from its own disk, which needs a bootloader in the image (migrate installs one), or use --boot direct`,
    );
  }
  for (const entry of config.notCarried) warnings.push(notCarriedLine(entry));
  for (const disk of config.disks.filter((d) => d.network))
    warnings.push(
      `disk ${disk.vdev} is Ceph RBD volume ${disk.source}: the KVM host needs its Ceph keyring (add an <auth> secret to the disk)`,
    );
  const name = options.name ?? config.name;
  const pinning =
    config.cpuset && options.hostCpus ? pinningProblem(config.cpuset, options.hostCpus) : undefined;
  if (pinning) warnings.push(pinning);
  const spec: DomainSpec = {
    type: options.type,
    name,
    // Xen's own, else one derived from the name: defining the guest again replaces it.
    uuid: config.uuid ?? stableUuid(name),
    memoryMiB,
    maxMemoryMiB: Math.max(options.memoryMiB ?? config.maxMemoryMiB ?? memoryMiB, memoryMiB),
    vcpus,
    maxVcpus: Math.max(options.vcpus ?? config.maxVcpus ?? vcpus, vcpus),
    cpuset: config.cpuset,
    onPoweroff: lifecycle('on_poweroff', config.onPoweroff, warnings),
    onReboot: lifecycle('on_reboot', config.onReboot, warnings),
    onCrash: lifecycle('on_crash', config.onCrash, warnings),
    localtime: config.localtime,
    clockAdjustment: config.rtcOffsetSeconds,
    description: config.description,
    boot,
    disks: disks(config, options, warnings),
    nics: config.nics.map((nic) => {
      const source = nicSource(nic, options, warnings);
      if (nic.trunks && !(source.type === 'bridge' && source.openvswitch))
        warnings.push(
          `trunk VLANs ${nic.trunks.join(', ')} of bridge ${nic.bridge} need Open vSwitch: map it with --bridge ${nic.bridge}=ovs:BRIDGE`,
        );
      return {
        mac: nic.mac,
        source,
        rateKiBps: nic.rateKiBps,
        targetDev: nic.vifname,
        trunks: source.type === 'bridge' && source.openvswitch ? nic.trunks : undefined,
      };
    }),
    graphics: config.hvm?.nographic ? undefined : graphics(config, warnings),
    serials: config.serials,
    parallels: config.parallels,
    channels: config.channels,
    platform: config.hvm ? platform(config, warnings) : undefined,
  };
  return { spec, warnings };
}

/** VNC or SPICE as the guest had it on Xen (SPICE wins when a guest asked for both). */
function graphics(config: XenGuestConfig, warnings: string[]): GraphicsSpec | undefined {
  const spice = config.spice;
  if (spice) {
    if (spice.noTicketing === false && !spice.password)
      warnings.push('SPICE asks for a password (spicedisable_ticketing = 0) but none is set: none is asked');
    if (spice.tlsPort !== undefined)
      warnings.push(
        `SPICE TLS port ${spice.tlsPort}: libvirt starts the guest only where qemu.conf has spice_tls = 1 and its certificates`,
      );
    return {
      type: 'spice',
      listen: spice.host,
      port: spice.port,
      tlsPort: spice.tlsPort,
      password: spice.noTicketing ? undefined : spice.password,
      agentMouse: spice.agentMouse,
      vdagent: spice.vdagent,
      clipboard: spice.clipboard,
      usbRedirection: spice.usbRedirection,
      keymap: keymap(config.framebuffer?.keymap, warnings),
    };
  }
  const fb = config.framebuffer;
  if (!fb?.vnc) return undefined;
  return {
    type: 'vnc',
    listen: fb.listen,
    port: fb.display === undefined ? undefined : 5900 + fb.display,
    keymap: keymap(fb.keymap, warnings),
    password: fb.password,
  };
}

/** An HVM guest keeps its firmware, boot order, timers and emulated devices. */
function platform(config: XenGuestConfig, warnings: string[]): PlatformSpec | undefined {
  const hvm = config.hvm;
  if (!hvm) return undefined;
  if (hvm.firmware === 'efi')
    warnings.push("bios = ovmf: the KVM host needs OVMF (Debian's ovmf package) for libvirt to define it");
  for (const usb of hvm.usbHostDevices)
    warnings.push(
      `USB host device ${usb.bus}.${usb.device}: the guest starts only where that bus and address hold a device on the KVM host`,
    );
  const { nographic: _shownAsNoGraphics, ...kept } = hvm;
  // A cdrom first in the boot order needs a cdrom drive to boot from.
  return {
    ...kept,
    bootOrder: hvm.bootOrder.filter((dev) => dev !== 'cdrom' || config.disks.some((d) => d.cdrom)),
  };
}
