/** The JSON `xl list -l` prints (libxl's domain config), as a typed guest description. */
import { UserError } from '../errors.js';
import { FORMATS } from './device-specs.js';
import type { XenDisk, XenGuestConfig, XenNic } from './guest-config.js';

interface LibxlDomain {
  domid?: number;
  config?: {
    c_info?: { type?: string; name?: string; uuid?: string };
    b_info?: {
      max_vcpus?: number;
      avail_vcpus?: number[];
      max_memkb?: number;
      target_memkb?: number;
      localtime?: string | boolean;
      vcpu_hard_affinity?: { bitmap?: number[] }[];
      'type.pv'?: { bootloader?: string; kernel?: string; ramdisk?: string; cmdline?: string };
      kernel?: string;
      ramdisk?: string;
      cmdline?: string;
      bootloader?: string;
    };
    disks?: {
      pdev_path?: string;
      vdev?: string;
      backend?: string;
      format?: string;
      readwrite?: number;
      is_cdrom?: number;
    }[];
    nics?: {
      mac?: string;
      bridge?: string;
      model?: string;
      script?: string;
      rate_bytes_per_interval?: number;
      rate_interval_usecs?: number;
    }[];
    vfbs?: {
      vnc?: {
        enable?: string | boolean;
        listen?: string;
        display?: number;
        findunused?: string | boolean;
        passwd?: string;
      };
      keymap?: string;
    }[];
    on_poweroff?: string;
    on_reboot?: string;
    on_crash?: string;
  };
}

const truthy = (value: string | boolean | undefined) =>
  value === true || value === 'True' || value === 'true';

export function fromLibxlJson(json: unknown, file: string): XenGuestConfig {
  const domains = (Array.isArray(json) ? json : [json]) as LibxlDomain[];
  const guests = domains.filter((d) => d.domid !== 0 && d.config?.c_info?.name !== 'Domain-0');
  if (guests.length !== 1) {
    throw new UserError(
      `${file} holds ${guests.length} guest domains; save one with 'xl list -l NAME' and convert that`,
    );
  }
  const config = guests[0]?.config ?? {};
  const info = config.c_info ?? {};
  const build = config.b_info ?? {};
  const pv = build['type.pv'] ?? build;
  if (!info.name) throw new UserError(`${file}: the domain has no c_info.name`);
  const disks: XenDisk[] = (config.disks ?? []).map((d) => ({
    source: d.pdev_path ?? '',
    block: d.backend === 'phy' || (d.pdev_path ?? '').startsWith('/dev/'),
    format: FORMATS[d.format ?? 'raw'] ?? d.format ?? 'raw',
    vdev: d.vdev ?? '',
    readOnly: d.readwrite === 0 || d.is_cdrom === 1,
    cdrom: d.is_cdrom === 1,
  }));
  const nics: XenNic[] = (config.nics ?? []).map((n) => ({
    mac: n.mac?.toLowerCase(),
    bridge: n.bridge,
    model: n.model,
    script: n.script,
    rateKiBps:
      n.rate_bytes_per_interval && n.rate_interval_usecs
        ? Math.round((n.rate_bytes_per_interval * (1_000_000 / n.rate_interval_usecs)) / 1024)
        : undefined,
  }));
  const vnc = config.vfbs?.[0]?.vnc;
  const affinity = build.vcpu_hard_affinity?.[0]?.bitmap;
  return {
    file,
    type: info.type === 'hvm' ? 'hvm' : info.type === 'pvh' ? 'pvh' : 'pv',
    name: info.name,
    uuid: info.uuid,
    memoryMiB: build.target_memkb ? Math.round(build.target_memkb / 1024) : undefined,
    maxMemoryMiB: build.max_memkb ? Math.round(build.max_memkb / 1024) : undefined,
    vcpus: build.avail_vcpus?.length ?? build.max_vcpus,
    maxVcpus: build.max_vcpus,
    cpuset: affinity?.length ? affinity.join(',') : undefined,
    onPoweroff: config.on_poweroff,
    onReboot: config.on_reboot,
    onCrash: config.on_crash,
    localtime: truthy(build.localtime),
    disks,
    nics,
    framebuffer:
      vnc && truthy(vnc.enable)
        ? {
            vnc: true,
            listen: vnc.listen,
            display: truthy(vnc.findunused) ? undefined : vnc.display,
            keymap: config.vfbs?.[0]?.keymap,
            password: vnc.passwd,
          }
        : undefined,
    boot: { bootloader: pv.bootloader, kernel: pv.kernel, ramdisk: pv.ramdisk, cmdline: pv.cmdline },
    notes: [],
  };
}
