/**
 * The JSON of libxl's domain config, as a typed guest description: `xl list -l` prints a list of
 * {domid, config} (one per domain); `xl create -d` and `xl -v create -n` print the bare config.
 * libxl prints only fields that differ from their defaults, so every field present asks for
 * something: what is not carried is named, with why.
 */
import { UserError } from '../errors.js';
import { FORMATS, parseCharDev } from './device-specs.js';
import {
  defaultHvm,
  type NotCarried,
  parseBootOrder,
  soundModels,
  type XenCharDev,
  type XenDisk,
  type XenGuestConfig,
  type XenHvm,
  type XenNic,
} from './guest-config.js';
import { whyNotCarried } from './xl-keys.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const obj = (value: Json | undefined): JsonObject => (isObject(value) ? value : {});
const list = (value: Json | undefined): Json[] => (Array.isArray(value) ? value : []);
const text = (value: Json | undefined): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
const count = (value: Json | undefined): number | undefined =>
  typeof value === 'number'
    ? value
    : typeof value === 'string' && /^-?\d+$/.test(value)
      ? Number(value)
      : undefined;
/** libxl's defbool and plain booleans: "True"/true on, "False"/"<default>"/absent off. */
const truthy = (value: Json | undefined) =>
  value === true || value === 'True' || value === 'true' || value === 1;

/** A value that asks for nothing: libxl printed it only as a container, or at its default. */
function turnedOff(value: Json | undefined): boolean {
  if (value === undefined || value === null || value === false || value === 0) return true;
  if (typeof value === 'string')
    return ['', 'false', '<default>', 'default', 'none'].includes(value.toLowerCase());
  // A list is a request as soon as it holds anything (a CPU bitmap [0] names CPU 0).
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value).every(turnedOff);
  return false;
}

/** libxl names the registry knows under xl.cfg's spelling. */
const XL_NAME: Record<string, string> = {
  nested_hvm: 'nestedhvm',
  vcpu_soft_affinity: 'cpus_soft',
  sched_params: 'sched',
  vnuma_nodes: 'vnuma',
  exec_ssidref: 'seclabel',
  exec_ssid_label: 'seclabel',
  ssid_label: 'seclabel',
  ssidref: 'seclabel',
  device_model_stubdomain: 'device_model_stubdomain_override',
  device_model_ssidref: 'device_model_stubdomain_seclabel',
  extra: 'device_model_args',
  extra_pv: 'device_model_args_pv',
  extra_hvm: 'device_model_args_hvm',
  mmio_hole_memkb: 'mmio_hole',
  gfx_passthru_kind: 'gfx_passthru',
  system_firmware: 'bios_path_override',
  rdm_mem_boundary_memkb: 'rdm_mem_boundary',
  pool_name: 'pool',
  pcidevs: 'pci',
  rdms: 'rdm',
  dtdevs: 'dtdev',
  vtpms: 'vtpm',
  p9s: 'p9',
  pvcallsifs: 'pvcalls',
  vdispls: 'vdispl',
  vsnds: 'vsnd',
  virtios: 'virtio',
  connectors: 'vdispl',
  sdl: 'sdl',
};

/** Fields of c_info/b_info/type.* and device lists that are carried, or libxl's own bookkeeping. */
const CARRIED = new Set([
  'type',
  'name',
  'uuid',
  'run_hotplug_scripts',
  'max_vcpus',
  'avail_vcpus',
  'max_memkb',
  'target_memkb',
  'video_memkb',
  'shadow_memkb',
  'localtime',
  'rtc_timeoffset',
  'timeoffset',
  'vcpu_hard_affinity',
  'type.pv',
  'type.hvm',
  'type.pvh',
  'kernel',
  'ramdisk',
  'cmdline',
  'bootloader',
  'bootloader_args',
  'slack_memkb',
  'features',
  'arch_arm',
  'arch_x86',
  'u',
  'numa_placement',
  'firmware',
  'bios',
  'boot',
  'acpi',
  'apic',
  'pae',
  'nx',
  'hap',
  'hpet',
  'tsc_mode',
  'nographic',
  'vga',
  'vnc',
  'keymap',
  'spice',
  'serial',
  'serial_list',
  'usb',
  'usbdevice',
  'usbdevice_list',
  'soundhw',
  'disks',
  'nics',
  'vfbs',
  'vkbs',
  'channels',
  'usbctrls',
  'usbdevs',
  'on_poweroff',
  'on_reboot',
  'on_crash',
  'c_info',
  'b_info',
]);

/** What of one libxl object (c_info, b_info, type.hvm...) does not cross. */
function uncarried(node: JsonObject, where: string): NotCarried[] {
  return Object.entries(node)
    .filter(([key, value]) => !CARRIED.has(key) && !key.startsWith('num_') && !turnedOff(value))
    .map(([key]) => ({
      setting: `${where}${key}`,
      why:
        whyNotCarried(XL_NAME[key] ?? key) ??
        'a libxl setting xen2kvm does not know; the KVM guest does not get it',
    }));
}

function charDev(node: JsonObject): XenCharDev | undefined {
  const path = text(node.path);
  if (String(node.connection).toLowerCase() === 'socket' && path) return { type: 'unix', path, server: true };
  return { type: 'pty' };
}

/** An HVM guest's platform from type.hvm (libxl up to 4.9) or b_info itself (later releases). */
function hvmPlatform(build: JsonObject, hvmNode: JsonObject, usbdevs: Json[]): XenHvm {
  const field = (key: string) => hvmNode[key] ?? build[key];
  const hvm = defaultHvm();
  if (text(field('bios')) === 'ovmf' || text(field('firmware')) === 'ovmf') hvm.firmware = 'efi';
  hvm.bootOrder = parseBootOrder(text(field('boot')));
  if (field('acpi') !== undefined) hvm.acpi = truthy(field('acpi'));
  if (field('apic') !== undefined) hvm.apic = truthy(field('apic'));
  if (field('hpet') !== undefined) hvm.hpet = truthy(field('hpet'));
  const tsc = text(build.tsc_mode);
  if (tsc === 'native') hvm.tscMode = 'native';
  else if (tsc === 'always_emulate') hvm.tscMode = 'emulate';
  for (const device of [...list(field('usbdevice_list')), field('usbdevice') ?? null]) {
    if (device === 'tablet' || device === 'mouse') hvm.usbInputs.push(device);
  }
  for (const usbdev of usbdevs) {
    const host = obj(obj(usbdev).u ?? usbdev);
    const bus = count(host.hostbus);
    const device = count(host.hostaddr);
    if (bus !== undefined && device !== undefined) hvm.usbHostDevices.push({ bus, device });
  }
  const sound = text(field('soundhw'));
  if (sound) hvm.sound = soundModels(sound);
  if (text(obj(field('vga')).kind) === 'cirrus') hvm.video = 'cirrus';
  hvm.nographic = truthy(field('nographic'));
  return hvm;
}

/** The one guest's config: a bare libxl config, or the single non-dom0 entry of `xl list -l`. */
function guestConfig(json: Json, file: string): JsonObject {
  if (isObject(json) && (isObject(json.c_info) || isObject(json.b_info))) return json;
  const domains = (Array.isArray(json) ? json : [json]).map(obj);
  const guests = domains.filter((d) => d.domid !== 0 && obj(obj(d.config).c_info).name !== 'Domain-0');
  if (guests.length !== 1 || !isObject(guests[0]?.config)) {
    throw new UserError(
      `${file} holds ${guests.filter((g) => isObject(g.config)).length} guest domains; give one: the output of 'xl list -l NAME' or of 'xl create -d'`,
    );
  }
  return obj(guests[0]?.config);
}

export function fromLibxlJson(json: unknown, file: string): XenGuestConfig {
  const config = guestConfig(json as Json, file);
  const info = obj(config.c_info);
  const build = obj(config.b_info);
  const pv = obj(build['type.pv'] ?? build);
  const hvmNode = obj(build['type.hvm']);
  const name = text(info.name);
  if (!name)
    throw new UserError(`${file}: the domain has no name (c_info.name); is this a libxl domain config?`);
  const type = info.type === 'hvm' ? 'hvm' : info.type === 'pvh' ? 'pvh' : 'pv';
  const disks: XenDisk[] = list(config.disks).map((entry) => {
    const d = obj(entry);
    const path = text(d.pdev_path) ?? '';
    return {
      source: path,
      block: d.backend === 'phy' || path.startsWith('/dev/'),
      format: FORMATS[text(d.format) ?? 'raw'] ?? text(d.format) ?? 'raw',
      vdev: text(d.vdev) ?? '',
      readOnly: d.readwrite === 0 || d.is_cdrom === 1,
      cdrom: d.is_cdrom === 1,
    };
  });
  const nics: XenNic[] = list(config.nics).map((entry) => {
    const n = obj(entry);
    const bytes = count(n.rate_bytes_per_interval);
    const usecs = count(n.rate_interval_usecs);
    return {
      mac: text(n.mac)?.toLowerCase(),
      bridge: text(n.bridge),
      model: text(n.model),
      script: text(n.script),
      vifname: text(n.ifname),
      rateKiBps: bytes && usecs ? Math.round((bytes * (1_000_000 / usecs)) / 1024) : undefined,
    };
  });
  const vfb = obj(list(config.vfbs)[0]);
  const vnc = obj(vfb.vnc ?? hvmNode.vnc ?? build.vnc);
  const spice = obj(hvmNode.spice ?? build.spice);
  const affinity = list(obj(list(build.vcpu_hard_affinity)[0]).bitmap);
  const avail = list(build.avail_vcpus);
  const hvmSerials = [
    hvmNode.serial ?? build.serial ?? null,
    ...list(hvmNode.serial_list ?? build.serial_list),
  ]
    .map((spec) => (typeof spec === 'string' ? parseCharDev(spec) : undefined))
    .filter((dev): dev is XenCharDev => dev !== undefined);
  const offset = count(build.rtc_timeoffset ?? hvmNode.timeoffset);
  const notCarried = [
    ...uncarried(info, 'c_info.'),
    ...uncarried(build, 'b_info.'),
    ...uncarried(pv === build ? {} : pv, 'b_info.type.pv.'),
    ...uncarried(hvmNode, 'b_info.type.hvm.'),
    ...uncarried(config, ''),
  ];
  return {
    file,
    type,
    name,
    uuid: text(info.uuid),
    memoryMiB: count(build.target_memkb)
      ? Math.round((count(build.target_memkb) as number) / 1024)
      : undefined,
    maxMemoryMiB: count(build.max_memkb) ? Math.round((count(build.max_memkb) as number) / 1024) : undefined,
    vcpus: avail.length > 0 ? avail.length : count(build.max_vcpus),
    maxVcpus: count(build.max_vcpus),
    cpuset: affinity.length > 0 ? affinity.join(',') : undefined,
    onPoweroff: text(config.on_poweroff),
    onReboot: text(config.on_reboot),
    onCrash: text(config.on_crash),
    localtime: truthy(build.localtime),
    rtcOffsetSeconds: offset || undefined,
    disks,
    nics,
    framebuffer: truthy(vnc.enable)
      ? {
          vnc: true,
          listen: text(vnc.listen),
          display: truthy(vnc.findunused) ? undefined : count(vnc.display),
          keymap: text(vfb.keymap ?? hvmNode.keymap ?? build.keymap),
          password: text(vnc.passwd),
        }
      : undefined,
    spice: truthy(spice.enable)
      ? {
          host: text(spice.host),
          port: count(spice.port),
          tlsPort: count(spice.tls_port),
          password: text(spice.passwd),
          noTicketing: truthy(spice.disable_ticketing),
          vdagent: truthy(spice.vdagent),
          clipboard: truthy(spice.clipboard_sharing),
        }
      : undefined,
    serials: hvmSerials,
    parallels: [],
    channels: list(config.channels).flatMap((entry) => {
      const c = obj(entry);
      const dev = charDev(c);
      return text(c.name) && dev ? [{ name: text(c.name) as string, dev }] : [];
    }),
    hvm: type === 'hvm' ? hvmPlatform(build, hvmNode, list(config.usbdevs)) : undefined,
    boot: {
      bootloader: text(pv.bootloader),
      kernel: text(pv.kernel),
      ramdisk: text(pv.ramdisk),
      cmdline: text(pv.cmdline),
    },
    notes: [],
    notCarried,
  };
}
