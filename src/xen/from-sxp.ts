/** SXP as `xm list -l` prints it, as a typed guest description. */
import { UserError } from '../errors.js';
import { parseCharDev, parseRate, parseUname } from './device-specs.js';
import {
  defaultHvm,
  joinCmdline,
  type NotCarried,
  normalizeUuid,
  onlineVcpus,
  parseBootOrder,
  soundModels,
  type XenCharDev,
  type XenDisk,
  type XenGuestConfig,
  type XenHvm,
} from './guest-config.js';
import { type Sxp, sxpChildren, sxpValue } from './sxp-parser.js';
import { uncarriedSettings, whyNotCarried } from './xl-keys.js';

const number = (value: string | undefined) =>
  value !== undefined && /^-?\d+$/.test(value) ? Number(value) : undefined;

/** Top-level entries xend prints about the running domain, not its configuration. */
const BOOKKEEPING = new Set([
  'domid',
  'status',
  'state',
  'store_mfn',
  'console_mfn',
  'start_time',
  'cpu_time',
  'online_vcpus',
  'up_time',
  'shadow_memory',
  'features',
  'on_xend_start',
  'on_xend_stop',
  'image',
  'device',
  'notes',
  'bootloader_args',
  'vcpu_avail',
  'maxvcpus',
  'security_label',
  'pool_name',
]);

/** Image entries xend adds itself (the HVM loader, the device model, the PV kernel's own notes...). */
const IMAGE_BOOKKEEPING = new Set([
  'kernel',
  'ramdisk',
  'args',
  'root',
  'notes',
  'loader',
  'device_model',
  // xend records the X environment it ran in; only sdl = 1 used it (and is reported).
  'display',
  'xauthority',
]);

/** Devices the KVM guest gets (disks, NICs, framebuffer and keyboard, the console). */
const CARRIED_DEVICES = new Set(['vbd', 'tap', 'tap2', 'vif', 'vfb', 'vkbd', 'console']);

const DEVICE_REASONS: Record<string, string> = {
  pci: 'PCI passthrough needs the device on the KVM host (add a <hostdev> by hand)',
  vscsi: 'PV SCSI passthrough: add a <hostdev type="scsi"> by hand',
  vtpm: 'a Xen vTPM is a stub domain; give the KVM guest an emulated <tpm> (swtpm) by hand',
  vusb: 'PV USB passthrough: add a USB <hostdev> by hand',
  ioports: 'I/O port passthrough has no libvirt equivalent',
  irq: 'IRQ passthrough has no libvirt equivalent',
};

function disk(node: Sxp): XenDisk {
  const uname = sxpValue(node, 'uname') ?? '';
  const [dev = '', kind] = (sxpValue(node, 'dev') ?? '').split(':');
  const { source, block, format } = parseUname(uname);
  const cdrom = kind === 'cdrom';
  const mode = sxpValue(node, 'mode') ?? 'w';
  return {
    source,
    block,
    format,
    vdev: dev,
    readOnly: mode.startsWith('r') || cdrom,
    cdrom,
    shareable: mode === 'w!' || undefined,
  };
}

/** The (key value) pairs of a node, for the settings registry. */
function entries(node: Sxp): [string, string][] {
  if (!Array.isArray(node)) return [];
  return node
    .filter((child): child is Sxp[] => Array.isArray(child) && typeof child[0] === 'string')
    .map((child) => [child[0] as string, child.slice(1).map(String).join(' ')]);
}

function charDevs(value: string | undefined): XenCharDev[] {
  const dev = value === undefined ? undefined : parseCharDev(value);
  return dev ? [dev] : [];
}

function hvmPlatform(image: Sxp): XenHvm {
  const hvm = defaultHvm();
  hvm.bootOrder = parseBootOrder(sxpValue(image, 'boot'));
  if (sxpValue(image, 'acpi') !== undefined) hvm.acpi = sxpValue(image, 'acpi') === '1';
  if (sxpValue(image, 'apic') !== undefined) hvm.apic = sxpValue(image, 'apic') === '1';
  if (sxpValue(image, 'hpet') !== undefined) hvm.hpet = sxpValue(image, 'hpet') === '1';
  const usb = sxpValue(image, 'usbdevice');
  if (usb === 'tablet' || usb === 'mouse') hvm.usbInputs.push(usb);
  const sound = sxpValue(image, 'soundhw');
  if (sound) hvm.sound = soundModels(sound);
  hvm.nographic = sxpValue(image, 'nographic') === '1';
  return hvm;
}

/** What of the domain, its image and its devices does not cross. */
function notCarried(root: Sxp, image: Sxp | undefined, devices: Sxp[][]): NotCarried[] {
  const top = entries(root).filter(([key]) => !BOOKKEEPING.has(key));
  // xend prints the scheduler's defaults for every domain: only other values ask for something.
  const scheduler = top.filter(
    ([key, value]) => !(key === 'cpu_weight' && value === '256') && !(key === 'cpu_cap' && value === '0'),
  );
  const out = uncarriedSettings(scheduler);
  if (image) {
    const kind = Array.isArray(image) ? String(image[0]) : '';
    out.push(...uncarriedSettings(entries(image), IMAGE_BOOKKEEPING, `image ${kind} `));
  }
  const seen = new Set<string>();
  for (const device of devices) {
    const kind = String(device[0]);
    if (CARRIED_DEVICES.has(kind) || seen.has(kind)) continue;
    seen.add(kind);
    out.push({
      setting: `device ${kind}`,
      why: DEVICE_REASONS[kind] ?? whyNotCarried(kind) ?? 'a device xen2kvm does not know',
    });
  }
  return out;
}

export function fromSxp(root: Sxp, file: string): XenGuestConfig {
  if (!Array.isArray(root) || root[0] !== 'domain') {
    throw new UserError(`${file}: not a domain s-expression (expected "(domain ...)", as xm list -l prints)`);
  }
  const name = sxpValue(root, 'name');
  if (!name) throw new UserError(`${file}: the domain has no (name ...)`);
  const devices = sxpChildren(root, 'device')
    .map((d) => d[1])
    .filter((d): d is Sxp[] => Array.isArray(d));
  const image = sxpChildren(root, 'image')[0]?.[1];
  const linux = Array.isArray(image) && image[0] === 'linux' ? image : undefined;
  const hvm = Array.isArray(image) && image[0] === 'hvm' ? image : undefined;
  const vfb = devices.find((d) => d[0] === 'vfb');
  const uuid = sxpValue(root, 'uuid');
  const display = vfb ? sxpValue(vfb, 'vncdisplay') : undefined;
  const disks = devices.filter((d) => d[0] === 'vbd' || d[0] === 'tap' || d[0] === 'tap2').map(disk);
  // An HVM image's (cdrom PATH) is the emulated drive hdc, read-only.
  const cdrom = hvm ? sxpValue(hvm, 'cdrom') : undefined;
  if (cdrom && !disks.some((d) => d.vdev === 'hdc')) {
    const { source, block, format } = parseUname(cdrom);
    disks.push({ source, block, format, vdev: 'hdc', readOnly: true, cdrom: true });
  }
  // An HVM guest's VNC is set on its image; a PV guest's on its vfb device.
  const vncNode =
    hvm && sxpValue(hvm, 'vnc') === '1' ? hvm : vfb && sxpValue(vfb, 'type') === 'vnc' ? vfb : undefined;
  const vncDisplay = vncNode === hvm ? sxpValue(hvm ?? [], 'vncdisplay') : display;
  const vcpus = number(sxpValue(root, 'vcpus'));
  const availMask = number(sxpValue(root, 'vcpu_avail'));
  const online = onlineVcpus(availMask);
  const imageNode = Array.isArray(image) ? image : undefined;
  return {
    file,
    type: hvm ? 'hvm' : 'pv',
    name,
    uuid: uuid ? normalizeUuid(uuid) : undefined,
    memoryMiB: number(sxpValue(root, 'memory')),
    maxMemoryMiB: number(sxpValue(root, 'maxmem')),
    vcpus: online !== undefined && vcpus !== undefined && online < vcpus ? online : vcpus,
    maxVcpus: vcpus,
    cpuset: sxpValue(root, 'cpus')?.replace(/[[\]\s]/g, '') || undefined,
    onPoweroff: sxpValue(root, 'on_poweroff'),
    onReboot: sxpValue(root, 'on_reboot'),
    onCrash: sxpValue(root, 'on_crash'),
    localtime:
      sxpValue(root, 'localtime') === '1' || (imageNode ? sxpValue(imageNode, 'localtime') === '1' : false),
    rtcOffsetSeconds: number(imageNode ? sxpValue(imageNode, 'rtc_timeoffset') : undefined) || undefined,
    description: sxpValue(root, 'description') || undefined,
    disks,
    nics: devices
      .filter((d) => d[0] === 'vif')
      .map((d) => ({
        mac: sxpValue(d, 'mac')?.toLowerCase(),
        bridge: sxpValue(d, 'bridge'),
        model: sxpValue(d, 'model'),
        script: sxpValue(d, 'script'),
        vifname: sxpValue(d, 'vifname'),
        rateKiBps: sxpValue(d, 'rate') ? parseRate(sxpValue(d, 'rate') as string) : undefined,
      })),
    framebuffer: vncNode
      ? {
          vnc: true,
          listen: sxpValue(vncNode, 'vnclisten'),
          display: sxpValue(vncNode, 'vncunused') === '1' ? undefined : number(vncDisplay),
          keymap: sxpValue(vncNode, 'keymap'),
          password: sxpValue(vncNode, 'vncpasswd'),
        }
      : undefined,
    serials: hvm ? charDevs(sxpValue(hvm, 'serial')) : [],
    parallels: hvm ? charDevs(sxpValue(hvm, 'parallel')) : [],
    channels: [],
    hvm: hvm ? hvmPlatform(hvm) : undefined,
    boot: {
      bootloader: sxpValue(root, 'bootloader') || undefined,
      kernel: linux ? sxpValue(linux, 'kernel') : undefined,
      ramdisk: linux ? sxpValue(linux, 'ramdisk') : undefined,
      cmdline: linux ? joinCmdline(undefined, sxpValue(linux, 'root'), sxpValue(linux, 'args')) : undefined,
    },
    notes: [],
    notCarried: notCarried(root, imageNode, devices),
  };
}
