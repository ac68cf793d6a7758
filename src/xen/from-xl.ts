/** xm/xl settings (see xl-parser) as a typed guest description. */
import { UserError } from '../errors.js';
import { parseDiskSpec, parseKeyValues, parseVifSpec } from './device-specs.js';
import { joinCmdline, normalizeUuid, type XenFramebuffer, type XenGuestConfig } from './guest-config.js';
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
    const vnc = kv.get('vnc') === '1' || kv.get('type') === 'vnc';
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

export function fromXl(settings: XlSettings, file: string): XenGuestConfig {
  const name = str(settings, 'name');
  if (!name) throw new UserError(`${file}: no name = "..." setting; every Xen guest configuration has one`);
  const builder = str(settings, 'type') ?? str(settings, 'builder');
  const type = builder === 'hvm' ? 'hvm' : builder === 'pvh' ? 'pvh' : 'pv';
  const notes: string[] = [];
  if (settings.has('pci')) notes.push('PCI passthrough devices (pci=) are not carried over');
  if (flag(settings, 'sdl')) notes.push('an SDL display (sdl=1) is not carried over');
  const uuid = str(settings, 'uuid');
  return {
    file,
    type,
    name,
    uuid: uuid ? normalizeUuid(uuid) : undefined,
    memoryMiB: num(settings, 'memory'),
    maxMemoryMiB: num(settings, 'maxmem'),
    vcpus: num(settings, 'vcpus'),
    maxVcpus: num(settings, 'maxvcpus'),
    cpuset: cpuset(settings.get('cpus')),
    onPoweroff: str(settings, 'on_poweroff'),
    onReboot: str(settings, 'on_reboot'),
    onCrash: str(settings, 'on_crash'),
    localtime: flag(settings, 'localtime'),
    disks: strings(settings.get('disk')).map(parseDiskSpec),
    nics: strings(settings.get('vif')).map(parseVifSpec),
    framebuffer: framebuffer(settings),
    boot: {
      bootloader: str(settings, 'bootloader'),
      // Old xm HVM configs name the HVM firmware as the kernel; it is no guest kernel.
      kernel: type === 'hvm' ? undefined : str(settings, 'kernel'),
      ramdisk: str(settings, 'ramdisk'),
      cmdline: joinCmdline(str(settings, 'cmdline'), str(settings, 'root'), str(settings, 'extra')),
    },
    notes,
  };
}
