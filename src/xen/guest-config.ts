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
}

export interface XenNic {
  mac?: string;
  bridge?: string;
  model?: string;
  script?: string;
  /** Outbound rate limit in KiB/s (libvirt's bandwidth unit). */
  rateKiBps?: number;
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
  disks: XenDisk[];
  nics: XenNic[];
  framebuffer?: XenFramebuffer;
  boot: XenBoot;
  /** Settings seen but not carried over, for the operator. */
  notes: string[];
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
