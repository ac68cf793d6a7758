/**
 * Every xl.cfg(5) and xm setting xen2kvm knows, and what becomes of it: carried into the KVM guest
 * (as an equivalent, or because KVM already behaves that way), or not, with the reason an operator
 * reads in the warning. A setting that is present but turned off (0, "", [], "none") loses nothing
 * and is not reported.
 */
import type { NotCarried } from './guest-config.js';
import type { XlSettings, XlValue } from './xl-parser.js';

/** Settings the KVM guest gets, in libvirt's terms, or whose Xen meaning is KVM's default. */
const CARRIED = new Set([
  // identity, shape, lifecycle
  'name',
  'uuid',
  'description',
  'type',
  'builder',
  'memory',
  'maxmem',
  'vcpus',
  'maxvcpus',
  'vcpu_avail',
  'cpus',
  'on_poweroff',
  'on_reboot',
  'on_crash',
  'localtime',
  'rtc_timeoffset',
  // boot
  'kernel',
  'ramdisk',
  'cmdline',
  'root',
  'extra',
  'bootloader',
  'bios',
  'boot',
  // devices
  'disk',
  'cdrom',
  'vif',
  'vfb',
  'vkb',
  'serial',
  'parallel',
  'channel',
  'usb',
  'usbctrl',
  'usbdevice',
  'usbdev',
  'soundhw',
  // display
  'vnc',
  'vnclisten',
  'vncdisplay',
  'vncunused',
  'vncpasswd',
  'vncconsole',
  'keymap',
  'nographic',
  'stdvga',
  'vga',
  'videoram',
  'spice',
  'spicehost',
  'spiceport',
  'spicetls_port',
  'spicepasswd',
  'spicedisable_ticketing',
  'spiceagent_mouse',
  'spicevdagent',
  'spice_clipboard_sharing',
  'spiceusbredirection',
  // platform: libvirt's <features> and timers, or what a KVM x86_64 guest always has
  'acpi',
  'apic',
  'hpet',
  'tsc_mode',
  'pae',
  'nx',
  'hap',
]);

const DEVICE_MODEL = "Xen's device model (qemu-dm) settings; libvirt runs its own qemu";
const XEN_ONLY = 'a Xen hypervisor setting with no KVM counterpart';
const SCHEDULER = "Xen's credit scheduler; set <cputune> shares/quota by hand if needed";

/** Settings that do not cross, with why. */
const NOT_CARRIED: Record<string, string> = {
  pci: 'PCI passthrough needs the device on the KVM host (add a <hostdev> by hand)',
  pci_permissive: 'PCI passthrough is not carried over',
  pci_msitranslate: 'PCI passthrough is not carried over',
  pci_seize: 'PCI passthrough is not carried over',
  pci_power_mgmt: 'PCI passthrough is not carried over',
  gfx_passthru: 'graphics passthrough needs the device on the KVM host',
  rdm: 'reserved device memory belongs to PCI passthrough, which is not carried over',
  rdm_mem_boundary: 'reserved device memory belongs to PCI passthrough, which is not carried over',
  ioports: 'I/O port passthrough has no libvirt equivalent',
  iomem: 'I/O memory passthrough has no libvirt equivalent',
  irqs: 'IRQ passthrough has no libvirt equivalent',
  dtdev: 'device-tree passthrough is for Arm guests',
  device_tree: 'device-tree passthrough is for Arm guests',
  vtpm: 'a Xen vTPM is a stub domain; give the KVM guest an emulated <tpm> (swtpm) by hand',
  p9: '9pfs shares: add a <filesystem> by hand, with the same host path',
  pvcalls: 'PV calls are a Xen paravirtual interface',
  vdispl: 'Xen paravirtual displays have no KVM equivalent',
  vsnd: 'Xen paravirtual sound has no KVM equivalent; soundhw is carried',
  vscsi: 'PV SCSI passthrough: add a <hostdev type="scsi"> by hand',
  virtio: 'Xen virtio-mmio devices are set up by hand under KVM',
  sdl: 'an SDL window on the Xen host; the KVM guest has VNC or SPICE',
  opengl: 'an SDL window on the Xen host; the KVM guest has VNC or SPICE',
  display: 'the X display of an SDL window on the Xen host',
  xauthority: 'the X display of an SDL window on the Xen host',
  viridian: 'Hyper-V enlightenments for Windows guests: set <hyperv> in <features> by hand',
  vpt_align: XEN_ONLY,
  timer_mode: "Xen's timer modes; KVM's timers are libvirt's defaults",
  acpi_s3: "Xen's ACPI sleep states; libvirt's <pm> defaults apply",
  acpi_s4: "Xen's ACPI sleep states; libvirt's <pm> defaults apply",
  acpi_laptop_slate: XEN_ONLY,
  acpi_firmware: 'extra ACPI tables from a Xen host file',
  smbios_firmware: 'SMBIOS tables from a Xen host file',
  smbios: 'SMBIOS strings: set <sysinfo> by hand',
  ms_vm_genid: 'a VM generation ID: add <genid/> by hand',
  altp2m: XEN_ONLY,
  altp2mhvm: XEN_ONLY,
  nestedhvm: 'nested virtualisation: give the guest a host-passthrough CPU by hand',
  cpuid: 'a Xen CPUID policy: set a libvirt <cpu> model by hand',
  cpuid_check: XEN_ONLY,
  mca_caps: XEN_ONLY,
  msr_relaxed: XEN_ONLY,
  trap_unknown_msrs: XEN_ONLY,
  oos: XEN_ONLY,
  shadow_memory: 'Xen shadow paging memory; KVM uses hardware paging',
  mmio_hole: XEN_ONLY,
  e820_host: XEN_ONLY,
  max_grant_frames: XEN_ONLY,
  max_maptrack_frames: XEN_ONLY,
  max_grant_version: XEN_ONLY,
  max_event_channels: XEN_ONLY,
  event_channels: XEN_ONLY,
  xen_platform_pci: "Xen's platform device for PV-on-HVM drivers; virtio replaces it",
  vendor_device: "Xen's platform device for PV-on-HVM drivers; virtio replaces it",
  passthrough: 'IOMMU set-up for PCI passthrough, which is not carried over',
  direct_io_safe: XEN_ONLY,
  driver_domain: 'a Xen driver domain',
  init_seclabel: 'an XSM/Flask label; libvirt has its own <seclabel>',
  seclabel: 'an XSM/Flask label; libvirt has its own <seclabel>',
  device_model_stubdomain_seclabel: 'an XSM/Flask label; libvirt has its own <seclabel>',
  access_control: 'an XSM/Flask label; libvirt has its own <seclabel>',
  security: 'an XSM/Flask label; libvirt has its own <seclabel>',
  pool: 'a Xen CPU pool',
  cpus_soft: 'a soft affinity: libvirt pins hard (cpus is carried)',
  cpu_weight: SCHEDULER,
  cap: SCHEDULER,
  cpu_cap: SCHEDULER,
  sched: SCHEDULER,
  vnuma: 'a virtual NUMA layout: set <numa> cells by hand',
  claim_mode: XEN_ONLY,
  nomigrate: 'libvirt has no per-domain migration ban',
  on_watchdog: 'no watchdog device is carried over; add a <watchdog> with that action by hand',
  on_soft_reset: XEN_ONLY,
  on_xend_start: 'a xend-only setting',
  on_xend_stop: 'a xend-only setting',
  device_model_version: DEVICE_MODEL,
  device_model_override: DEVICE_MODEL,
  device_model_stubdomain_override: DEVICE_MODEL,
  device_model_user: DEVICE_MODEL,
  device_model: DEVICE_MODEL,
  device_model_args: `${DEVICE_MODEL}: pass extra qemu arguments with <qemu:commandline> by hand`,
  device_model_args_pv: `${DEVICE_MODEL}: pass extra qemu arguments with <qemu:commandline> by hand`,
  device_model_args_hvm: `${DEVICE_MODEL}: pass extra qemu arguments with <qemu:commandline> by hand`,
  bios_path_override: 'a firmware file on the Xen host',
  firmware: 'a PVH firmware on the Xen host; the KVM guest boots SeaBIOS or OVMF',
  pvshim: 'the PV shim runs PV guests inside PVH on Xen only',
  pvshim_path: 'the PV shim runs PV guests inside PVH on Xen only',
  pvshim_cmdline: 'the PV shim runs PV guests inside PVH on Xen only',
  pvshim_extra: 'the PV shim runs PV guests inside PVH on Xen only',
  bootloader_args: "the arguments of pygrub/pvgrub on the Xen host; the guest's own GRUB boots it",
  hdtype: 'the disk bus is virtio under KVM',
  vkb_device: 'a PV keyboard: the KVM guest gets a USB tablet with its display',
  usbversion: 'the USB controller is libvirt’s default',
  gic_version: 'for Arm guests',
  vuart: 'for Arm guests',
  monitor: "the device model's monitor belongs to libvirt under KVM",
  fda: 'floppy drives are not carried over',
  fdb: 'floppy drives are not carried over',
  isa: 'an ISA-only machine is not carried over (the machine type is i440fx)',
  guest_os_type: 'a xend hint with no KVM meaning',
  vhpt: 'for IA-64 guests',
  dhcp: "xm's in-kernel IP set-up (ip=) is the guest's own business under KVM",
  ip: "xm's in-kernel IP set-up (ip=) is the guest's own business under KVM",
  netmask: "xm's in-kernel IP set-up (ip=) is the guest's own business under KVM",
  gateway: "xm's in-kernel IP set-up (ip=) is the guest's own business under KVM",
  hostname: "xm's in-kernel IP set-up (ip=) is the guest's own business under KVM",
  interface: "xm's in-kernel IP set-up (ip=) is the guest's own business under KVM",
  nfs_server: "xm's NFS root: the guest's kernel command line carries it",
  nfs_root: "xm's NFS root: the guest's kernel command line carries it",
  blkif: 'a driver-domain role',
  netif: 'a driver-domain role',
  tpmif: 'a driver-domain role',
  extid: XEN_ONLY,
  expose_host_uuid: XEN_ONLY,
  suppress_spurious_page_faults: XEN_ONLY,
  s3_integrity: XEN_ONLY,
  vscsi_ctrl: 'PV SCSI passthrough: add a <hostdev type="scsi"> by hand',
  vncviewer: "xm started a viewer on the Xen host; connect one to the guest's VNC port",
  audio: 'sound set-up of the Xen host; soundhw is carried',
  apic_msr: XEN_ONLY,
};

/** Why a setting does not cross, when xen2kvm knows it. */
export function whyNotCarried(setting: string): string | undefined {
  return NOT_CARRIED[setting];
}

/** A value that asks for nothing: 0, "", "0", "none", "no", [], or a list of such. */
function turnedOff(value: XlValue): boolean {
  if (Array.isArray(value)) return value.every(turnedOff);
  if (typeof value === 'number') return value === 0;
  return ['', '0', 'none', 'no', 'false', 'default'].includes(value.trim().toLowerCase());
}

/**
 * The settings the KVM guest does not get, each once, in their order: those of an xl/xm file, or
 * of an SXP image (xm's own names); `alsoCarried` names more that the caller carries or that are
 * bookkeeping of its format.
 */
export function uncarriedSettings(
  settings: XlSettings | Iterable<[string, XlValue]>,
  alsoCarried: ReadonlySet<string> = new Set(),
  prefix = '',
): NotCarried[] {
  const out: NotCarried[] = [];
  for (const [setting, value] of settings) {
    if (CARRIED.has(setting) || alsoCarried.has(setting) || turnedOff(value)) continue;
    const why = NOT_CARRIED[setting];
    out.push({
      setting: `${prefix}${setting}`,
      why: why ?? 'not an xl.cfg(5) or xm setting xen2kvm knows; the KVM guest does not get it',
    });
  }
  return out;
}

/** How a not-carried setting reads as a warning line. */
export function notCarriedLine(entry: NotCarried): string {
  return `${entry.setting} is not carried over: ${entry.why}`;
}
