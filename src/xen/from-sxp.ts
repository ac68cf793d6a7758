/** SXP as `xm list -l` prints it, as a typed guest description. */
import { UserError } from '../errors.js';
import { parseRate, parseUname } from './device-specs.js';
import { joinCmdline, normalizeUuid, type XenDisk, type XenGuestConfig } from './guest-config.js';
import { type Sxp, sxpChildren, sxpValue } from './sxp-parser.js';

const number = (value: string | undefined) =>
  value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;

function disk(node: Sxp): XenDisk {
  const uname = sxpValue(node, 'uname') ?? '';
  const [dev = '', kind] = (sxpValue(node, 'dev') ?? '').split(':');
  const { source, block, format } = parseUname(uname);
  const cdrom = kind === 'cdrom';
  return {
    source,
    block,
    format,
    vdev: dev,
    readOnly: (sxpValue(node, 'mode') ?? 'w').startsWith('r') || cdrom,
    cdrom,
  };
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
  const hvm = Array.isArray(image) && image[0] === 'hvm';
  const vfb = devices.find((d) => d[0] === 'vfb');
  const uuid = sxpValue(root, 'uuid');
  const display = vfb ? sxpValue(vfb, 'vncdisplay') : undefined;
  return {
    file,
    type: hvm ? 'hvm' : 'pv',
    name,
    uuid: uuid ? normalizeUuid(uuid) : undefined,
    memoryMiB: number(sxpValue(root, 'memory')),
    maxMemoryMiB: number(sxpValue(root, 'maxmem')),
    vcpus: number(sxpValue(root, 'vcpus')),
    maxVcpus: undefined,
    cpuset: sxpValue(root, 'cpus')?.replace(/[[\]\s]/g, '') || undefined,
    onPoweroff: sxpValue(root, 'on_poweroff'),
    onReboot: sxpValue(root, 'on_reboot'),
    onCrash: sxpValue(root, 'on_crash'),
    localtime:
      sxpValue(root, 'localtime') === '1' || (Array.isArray(image) && sxpValue(image, 'localtime') === '1'),
    disks: devices.filter((d) => d[0] === 'vbd' || d[0] === 'tap' || d[0] === 'tap2').map(disk),
    nics: devices
      .filter((d) => d[0] === 'vif')
      .map((d) => ({
        mac: sxpValue(d, 'mac')?.toLowerCase(),
        bridge: sxpValue(d, 'bridge'),
        model: sxpValue(d, 'model'),
        script: sxpValue(d, 'script'),
        rateKiBps: sxpValue(d, 'rate') ? parseRate(sxpValue(d, 'rate') as string) : undefined,
      })),
    framebuffer:
      vfb && sxpValue(vfb, 'type') === 'vnc'
        ? {
            vnc: true,
            listen: sxpValue(vfb, 'vnclisten'),
            display: sxpValue(vfb, 'vncunused') === '1' ? undefined : number(display),
            keymap: sxpValue(vfb, 'keymap'),
            password: sxpValue(vfb, 'vncpasswd'),
          }
        : undefined,
    boot: {
      bootloader: sxpValue(root, 'bootloader'),
      kernel: linux ? sxpValue(linux, 'kernel') : undefined,
      ramdisk: linux ? sxpValue(linux, 'ramdisk') : undefined,
      cmdline: linux ? joinCmdline(undefined, sxpValue(linux, 'root'), sxpValue(linux, 'args')) : undefined,
    },
    notes: devices.some((d) => d[0] === 'pci') ? ['PCI passthrough devices are not carried over'] : [],
  };
}
