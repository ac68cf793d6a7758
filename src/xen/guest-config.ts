/** One typed description of a Xen guest, whatever format its configuration came in. */
export interface XenDisk {
  /** Path of the backing file or device; empty for an empty cdrom drive. */
  source: string;
  /** A block device (phy:, backendtype=phy, /dev/...) rather than a file. */
  block: boolean;
  /** Image format as libvirt names it: raw, qcow2, qcow, vpc, qed. */
  format: string;
  /** The guest's device name on Xen: xvda, xvda2, hdc, sdb... */
  vdev: string;
  readOnly: boolean;
  cdrom: boolean;
  /** Writable by several guests at once (xl's `w!`, shared cluster disks). */
  shareable?: boolean;
  /** A network volume (rbd:pool/image) instead of a local path: `source` holds pool/image. */
  network?: { protocol: 'rbd'; hosts: { name: string; port?: string }[] };
}

export interface XenNic {
  mac?: string;
  bridge?: string;
  model?: string;
  script?: string;
  /** Outbound rate limit in KiB/s (libvirt's bandwidth unit). */
  rateKiBps?: number;
  /** The host-side interface name the guest's NIC had on Xen. */
  vifname?: string;
  /** Open vSwitch trunk VLANs: vif-openvswitch reads bridge=ovsbr0:42:43 as trunks 42 and 43. */
  trunks?: number[];
}

/** Where a serial or parallel port (or a channel) leads on the host. */
export type XenCharDev =
  | { type: 'pty' | 'null' | 'stdio' | 'vc' }
  | { type: 'file' | 'dev'; path: string }
  | { type: 'unix'; path: string; server: boolean }
  | { type: 'tcp' | 'telnet'; host: string; port: string; server: boolean }
  | { type: 'udp'; host: string; port: string };

export interface XenSpice {
  host?: string;
  port?: number;
  tlsPort?: number;
  password?: string;
  /** spicedisable_ticketing = 1: no password asked. */
  noTicketing?: boolean;
  agentMouse?: boolean;
  vdagent?: boolean;
  clipboard?: boolean;
  usbRedirection?: number;
}

/** A setting present in the configuration that the KVM guest does not get, and why. */
export interface NotCarried {
  setting: string;
  why: string;
}

export interface XenFramebuffer {
  vnc: boolean;
  listen?: string;
  /** VNC display number (port 5900 + display), when fixed. */
  display?: number;
  keymap?: string;
  password?: string;
}

export interface XenBoot {
  bootloader?: string;
  kernel?: string;
  ramdisk?: string;
  /** The kernel command line: cmdline, or root= plus extra, as Xen would have built it. */
  cmdline?: string;
}

export interface XenHvm {
  /** bios = "ovmf": UEFI; else SeaBIOS. */
  firmware: 'bios' | 'efi';
  /** Boot devices in order (xl boot = "dc": cdrom, then disk). */
  bootOrder: ('hd' | 'cdrom' | 'network')[];
  acpi: boolean;
  apic: boolean;
  /** hpet = 0 turns the HPET off (it is on by default in HVM guests). */
  hpet?: boolean;
  /** tsc_mode native/always_emulate as a libvirt tsc timer mode. */
  tscMode?: 'native' | 'emulate';
  /** usbdevice = "tablet" / "mouse". */
  usbInputs: ('tablet' | 'mouse')[];
  /** usbdev / usb host devices by bus.address. */
  usbHostDevices: { bus: number; device: number }[];
  /** soundhw as qemu models (hda -> ich6 in libvirt). */
  sound: string[];
  /**
   * The video card. Xen's default is Cirrus; the KVM guest gets the standard VGA unless the
   * configuration asked for Cirrus by name (vga = "cirrus"): every Linux drives it, at any mode.
   */
  video: 'vga' | 'cirrus';
  /** videoram in MiB. */
  videoMiB?: number;
  /** nographic = 1: no display at all. */
  nographic: boolean;
}

export interface XenGuestConfig {
  file: string;
  type: 'pv' | 'hvm' | 'pvh';
  name: string;
  uuid?: string;
  memoryMiB?: number;
  maxMemoryMiB?: number;
  vcpus?: number;
  maxVcpus?: number;
  /** Physical CPUs the guest may run on, libvirt cpuset syntax ("0-3,6"). */
  cpuset?: string;
  onPoweroff?: string;
  onReboot?: string;
  onCrash?: string;
  localtime: boolean;
  /** rtc_timeoffset: seconds added to the guest's clock. */
  rtcOffsetSeconds?: number;
  description?: string;
  disks: XenDisk[];
  nics: XenNic[];
  framebuffer?: XenFramebuffer;
  spice?: XenSpice;
  serials: XenCharDev[];
  parallels: XenCharDev[];
  /** Named virtio channels (xl channel = [...]) and where they lead. */
  channels: { name: string; dev: XenCharDev }[];
  /** HVM guests only: firmware, boot order, platform devices. */
  hvm?: XenHvm;
  boot: XenBoot;
  /** Settings seen but not carried over, for the operator. */
  notes: string[];
  /** Every setting present that the KVM guest does not get, each with why. */
  notCarried: NotCarried[];
}

/** An HVM guest's platform as Xen gives it when the configuration says nothing. */
export function defaultHvm(): XenHvm {
  return {
    firmware: 'bios',
    bootOrder: ['hd'],
    acpi: true,
    apic: true,
    usbInputs: [],
    usbHostDevices: [],
    sound: [],
    video: 'vga',
    nographic: false,
  };
}

/** xl's boot = "dc" letters: c disk, d cdrom, n network; a (floppy) has no KVM drive here. */
export function parseBootOrder(letters: string | undefined): XenHvm['bootOrder'] {
  const order: XenHvm['bootOrder'] = [];
  for (const letter of letters ?? 'cd') {
    const dev = letter === 'c' ? 'hd' : letter === 'd' ? 'cdrom' : letter === 'n' ? 'network' : undefined;
    if (dev && !order.includes(dev)) order.push(dev);
  }
  // The converted guest boots from its disk in the end, whatever came first.
  if (!order.includes('hd')) order.push('hd');
  return order;
}

/** Formats a 32-hex-digit uuid (as SXP prints it) with dashes. */
export function normalizeUuid(uuid: string): string {
  const hex = uuid.replaceAll('-', '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return uuid;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The command line Xen builds from root= and extra= when cmdline= is absent. */
export function joinCmdline(
  cmdline: string | undefined,
  root: string | undefined,
  extra: string | undefined,
): string | undefined {
  if (cmdline !== undefined) return cmdline.trim();
  const parts = [root ? `root=${root.trim()}` : '', extra?.trim() ?? ''].filter(Boolean);
  return parts.length > 0 ? parts.join(' ') : undefined;
}

/** soundhw models as libvirt names them (Xen's hda is libvirt's ich6); others are dropped. */
const SOUND_MODELS: Record<string, string> = { hda: 'ich6', ac97: 'ac97', es1370: 'es1370', sb16: 'sb16' };

export function soundModels(soundhw: string): string[] {
  return soundhw.split(',').flatMap((model) => SOUND_MODELS[model.trim()] ?? []);
}

/** The vCPUs online at boot in a bitmask (xm's vcpu_avail): libvirt's current count. */
export function onlineVcpus(mask: number | undefined): number | undefined {
  if (mask === undefined || mask <= 0) return undefined;
  return mask.toString(2).replaceAll('0', '').length;
}
