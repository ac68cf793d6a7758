/** xm/xl settings (see xl-parser) as a typed guest description. */
import { UserError } from '../errors.js';
import {
  parseChannelSpec,
  parseCharDev,
  parseDiskSpec,
  parseKeyValues,
  parseUname,
  parseVifSpec,
} from './device-specs.js';
import {
  defaultHvm,
  joinCmdline,
  normalizeUuid,
  onlineVcpus,
  parseBootOrder,
  soundModels,
  type XenCharDev,
  type XenDisk,
  type XenFramebuffer,
  type XenGuestConfig,
  type XenHvm,
  type XenSpice,
} from './guest-config.js';
import { uncarriedSettings } from './xl-keys.js';
import type { XlSettings, XlValue } from './xl-parser.js';

function str(settings: XlSettings, key: string): string | undefined {
  const value = settings.get(key);
  return value === undefined || Array.isArray(value) ? undefined : String(value);
}

function num(settings: XlSettings, key: string): number | undefined {
  const value = settings.get(key);
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) return Number(value);
  return undefined;
}

function flag(settings: XlSettings, key: string): boolean {
  const value = settings.get(key);
  return value === 1 || value === '1' || value === 'true' || value === 'yes';
}

function strings(value: XlValue | undefined): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return [String(value)];
  return value.map((item) => (Array.isArray(item) ? item.map(String).join(',') : String(item)));
}

/** cpus = "0-3", 2, or [0, 2] (a list of CPUs, or per-vCPU ranges) as one libvirt cpuset. */
function cpuset(value: XlValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.map(String).join(',');
  return String(value).replaceAll(' ', '') || undefined;
}

function framebuffer(settings: XlSettings): XenFramebuffer | undefined {
  const vfb = strings(settings.get('vfb'))[0];
  if (vfb !== undefined) {
    const kv = parseKeyValues(vfb);
    // A vfb with neither vnc= nor type= is a VNC framebuffer: xl's default (sdl=1 asks for SDL).
    const vnc =
      kv.get('vnc') === '1' ||
      kv.get('type') === 'vnc' ||
      (!kv.has('vnc') && !kv.has('type') && kv.get('sdl') !== '1');
    if (!vnc) return undefined;
    const display = kv.get('vncdisplay');
    return {
      vnc,
      listen: kv.get('vnclisten'),
      display: display !== undefined && kv.get('vncunused') !== '1' ? Number(display) : undefined,
      keymap: kv.get('keymap'),
      password: kv.get('vncpasswd'),
    };
  }
  if (!flag(settings, 'vnc')) return undefined;
  return {
    vnc: true,
    listen: str(settings, 'vnclisten'),
    display: flag(settings, 'vncunused') ? undefined : num(settings, 'vncdisplay'),
    keymap: str(settings, 'keymap'),
    password: str(settings, 'vncpasswd'),
  };
}

function spice(settings: XlSettings): XenSpice | undefined {
  if (!flag(settings, 'spice')) return undefined;
  return {
    host: str(settings, 'spicehost'),
    port: num(settings, 'spiceport'),
    tlsPort: num(settings, 'spicetls_port'),
    password: str(settings, 'spicepasswd'),
    noTicketing: flag(settings, 'spicedisable_ticketing'),
    agentMouse: settings.has('spiceagent_mouse') ? flag(settings, 'spiceagent_mouse') : undefined,
    vdagent: flag(settings, 'spicevdagent'),
    clipboard: flag(settings, 'spice_clipboard_sharing'),
    usbRedirection: num(settings, 'spiceusbredirection'),
  };
}

/** serial = "pty" or a list of ports; parallel likewise (xm). */
function charDevs(value: XlValue | undefined): XenCharDev[] {
  return strings(value)
    .map(parseCharDev)
    .filter((dev): dev is XenCharDev => dev !== undefined);
}

function hvmPlatform(settings: XlSettings): XenHvm {
  const hvm = defaultHvm();
  const bios = str(settings, 'bios');
  if (bios === 'ovmf') hvm.firmware = 'efi';
  hvm.bootOrder = parseBootOrder(str(settings, 'boot'));
  if (settings.has('acpi')) hvm.acpi = flag(settings, 'acpi');
  if (settings.has('apic')) hvm.apic = flag(settings, 'apic');
  if (settings.has('hpet')) hvm.hpet = flag(settings, 'hpet');
  const tsc = str(settings, 'tsc_mode');
  if (tsc === 'native' || tsc === '2') hvm.tscMode = 'native';
  else if (tsc === 'always_emulate' || tsc === '1') hvm.tscMode = 'emulate';
  for (const device of strings(settings.get('usbdevice'))) {
    if (device === 'tablet' || device === 'mouse') hvm.usbInputs.push(device);
    const host = /^host:(\d+)\.(\d+)$/.exec(device);
    if (host) hvm.usbHostDevices.push({ bus: Number(host[1]), device: Number(host[2]) });
  }
  for (const spec of strings(settings.get('usbdev'))) {
    const kv = parseKeyValues(spec);
    const bus = Number(kv.get('hostbus'));
    const device = Number(kv.get('hostaddr'));
    if (Number.isInteger(bus) && Number.isInteger(device)) hvm.usbHostDevices.push({ bus, device });
  }
  const sound = str(settings, 'soundhw');
  if (sound) hvm.sound = soundModels(sound === 'all' ? 'hda' : sound);
  if (str(settings, 'vga') === 'cirrus') hvm.video = 'cirrus';
  const videoram = num(settings, 'videoram');
  if (videoram) hvm.videoMiB = videoram;
  hvm.nographic = flag(settings, 'nographic');
  return hvm;
}

export function fromXl(settings: XlSettings, file: string): XenGuestConfig {
  const name = str(settings, 'name');
  if (!name) throw new UserError(`${file}: no name = "..." setting; every Xen guest configuration has one`);
  const builder = str(settings, 'type') ?? str(settings, 'builder');
  const type = builder === 'hvm' ? 'hvm' : builder === 'pvh' ? 'pvh' : 'pv';
  const notes: string[] = [];
  const uuid = str(settings, 'uuid');
  const kernel = str(settings, 'kernel');
  const offset = num(settings, 'rtc_timeoffset') ?? signedNumber(settings, 'rtc_timeoffset');
  return {
    file,
    type,
    name,
    uuid: uuid ? normalizeUuid(uuid) : undefined,
    memoryMiB: num(settings, 'memory'),
    maxMemoryMiB: num(settings, 'maxmem'),
    vcpus: onlineVcpus(num(settings, 'vcpu_avail')) ?? num(settings, 'vcpus'),
    maxVcpus: num(settings, 'maxvcpus') ?? (settings.has('vcpu_avail') ? num(settings, 'vcpus') : undefined),
    cpuset: cpuset(settings.get('cpus')),
    onPoweroff: str(settings, 'on_poweroff'),
    onReboot: str(settings, 'on_reboot'),
    onCrash: str(settings, 'on_crash'),
    localtime: flag(settings, 'localtime'),
    rtcOffsetSeconds: offset || undefined,
    description: str(settings, 'description'),
    disks: withXmCdrom(
      strings(settings.get('disk')).map(parseDiskSpec),
      type === 'hvm' ? str(settings, 'cdrom') : undefined,
    ),
    nics: strings(settings.get('vif')).map(parseVifSpec),
    framebuffer: framebuffer(settings),
    spice: spice(settings),
    serials: charDevs(settings.get('serial')),
    parallels: charDevs(settings.get('parallel')),
    channels: strings(settings.get('channel'))
      .map(parseChannelSpec)
      .filter((c) => c !== undefined),
    hvm: type === 'hvm' ? hvmPlatform(settings) : undefined,
    boot: {
      bootloader: str(settings, 'bootloader'),
      // Old xm HVM configs name the HVM firmware (hvmloader) as the kernel; it is no guest kernel.
      kernel: kernel && !/hvmloader$/.test(kernel) ? kernel : undefined,
      ramdisk: str(settings, 'ramdisk'),
      cmdline: joinCmdline(str(settings, 'cmdline'), str(settings, 'root'), str(settings, 'extra')),
    },
    notes,
    notCarried: uncarriedSettings(settings),
  };
}

/** xm HVM's cdrom = "/path.iso" is the emulated drive hdc, read-only, unless a disk is hdc already. */
function withXmCdrom(disks: XenDisk[], cdrom: string | undefined): XenDisk[] {
  if (!cdrom || disks.some((d) => d.vdev === 'hdc')) return disks;
  const { source, block, format } = parseUname(cdrom);
  return [...disks, { source, block, format, vdev: 'hdc', readOnly: true, cdrom: true }];
}

/** A number that may be negative and written as a string ("-3600"). */
function signedNumber(settings: XlSettings, key: string): number | undefined {
  const value = str(settings, key);
  return value !== undefined && /^-?\d+$/.test(value.trim()) ? Number(value) : undefined;
}
