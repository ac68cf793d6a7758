/**
 * The string specs inside Xen disk and vif settings:
 *   xm disk:  phy:/dev/vg/lv,xvda,w   file:/img,xvda2,w   tap:aio:/img,xvda,w   file:/x.iso,hdc:cdrom,r
 *   xl disk:  /img,raw,xvda,rw (positional)  or  format=raw, vdev=xvda, access=rw, target=/img (target last)
 *   vif:      mac=00:16:3e:..,bridge=xenbr0,model=..,script=vif-bridge,rate=10MB/s
 */
import type { XenCharDev, XenDisk, XenNic } from './guest-config.js';

const VDEV = /^(xvd|hd|sd|vd)[a-z]+\d*(:(cdrom|disk))?$/;
const ACCESS = /^(r|ro|w|rw|w!)$/;

/** xm uname prefixes (phy:, file:, tap:aio:, tap:qcow2:...): how the store was reached, and its format. */
export function parseUname(uname: string): { source: string; block: boolean; format: string } {
  const parts = uname.split(':');
  const known = [
    'phy',
    'file',
    'tap',
    'tap2',
    'tapdisk',
    'aio',
    'sync',
    'qcow',
    'qcow2',
    'vhd',
    'qed',
    'raw',
    'ioemu',
  ];
  let i = 0;
  const prefixes: string[] = [];
  while (i < parts.length - 1 && known.includes(parts[i] as string)) prefixes.push(parts[i++] as string);
  const source = parts.slice(i).join(':');
  const format = prefixes.includes('qcow2')
    ? 'qcow2'
    : prefixes.includes('qcow')
      ? 'qcow'
      : prefixes.includes('vhd')
        ? 'vpc'
        : prefixes.includes('qed')
          ? 'qed'
          : 'raw';
  return { source, block: prefixes.includes('phy') || source.startsWith('/dev/'), format };
}

/** Xen's format names as libvirt spells them. */
export const FORMATS: Record<string, string> = {
  raw: 'raw',
  qcow: 'qcow',
  qcow2: 'qcow2',
  vhd: 'vpc',
  qed: 'qed',
  empty: 'raw',
};

export function parseDiskSpec(spec: string): XenDisk {
  const raw = spec.trim();
  // target= may hold commas, so it ends the spec.
  const targetAt = raw.search(/(^|,)\s*target=/);
  const head = targetAt === -1 ? raw : raw.slice(0, targetAt);
  const keyedTarget = targetAt === -1 ? undefined : raw.slice(targetAt).replace(/^,?\s*target=/, '');
  // Empty positional fields count (",raw,hdc,ro" is an empty cdrom drive); a trailing comma does not.
  const parts = head
    .replace(/,\s*$/, '')
    .split(',')
    .map((p) => p.trim());
  const keyed = new Map<string, string>();
  const positional: string[] = [];
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq > 0 && /^[a-z-]+$/.test(part.slice(0, eq))) keyed.set(part.slice(0, eq), part.slice(eq + 1));
    else if (part !== '' || keyed.size === 0) positional.push(part);
  }
  if (keyedTarget !== undefined) keyed.set('target', keyedTarget);

  const xmStyle =
    keyed.size === 0 &&
    positional.length === 3 &&
    VDEV.test(positional[1] ?? '') &&
    ACCESS.test(positional[2] ?? '');
  if (xmStyle) {
    const [uname = '', dev = '', mode = 'w'] = positional;
    const { source, block, format } = parseUname(uname);
    const [vdev = '', kind] = dev.split(':');
    return {
      ...withNetworkSource({ source, block, format }),
      vdev,
      readOnly: mode.startsWith('r'),
      cdrom: kind === 'cdrom',
      shareable: mode === 'w!' || undefined,
    };
  }
  const [target, format, vdev, access] = positional;
  const source = keyed.get('target') ?? target ?? '';
  // An empty positional format ("/dev/vg/lv,,hda") is Xen's default, raw.
  const rawFormat = (keyed.get('format') || format || 'raw').toLowerCase();
  const device = keyed.get('vdev') ?? vdev ?? '';
  const mode = keyed.get('access') ?? access ?? 'rw';
  const cdrom = keyed.get('devtype') === 'cdrom' || device.endsWith(':cdrom') || positional.includes('cdrom');
  const backend = keyed.get('backendtype') ?? keyed.get('backend');
  return {
    ...withNetworkSource({
      source: parseUname(source).source,
      block: backend === 'phy' || source.startsWith('/dev/') || source.startsWith('phy:'),
      format: FORMATS[rawFormat] ?? rawFormat,
    }),
    vdev: device.replace(/:(cdrom|disk)$/, ''),
    readOnly: /^(r|ro)$/.test(mode) || cdrom,
    cdrom,
    shareable: mode === 'w!' || undefined,
  };
}

/**
 * A Ceph RBD target (qemu's rbd:POOL/IMAGE[:mon_host=H1\;H2:...]) is a network volume, not a
 * file of that name: libvirt reaches it as <source protocol="rbd" name="POOL/IMAGE">.
 */
function withNetworkSource(
  disk: Pick<XenDisk, 'source' | 'block' | 'format'>,
): Omit<XenDisk, 'vdev' | 'readOnly' | 'cdrom'> {
  const match = /^rbd:([^:]+)(.*)$/.exec(disk.source);
  if (!match?.[1]) return disk;
  // Options are colon-separated; a colon or semicolon inside a value is escaped with a backslash.
  const monitors = (match[2] ?? '')
    .split(/(?<!\\):/)
    .find((option) => option.startsWith('mon_host='))
    ?.slice('mon_host='.length);
  const hosts = (monitors ?? '')
    .split(/\\?;/)
    .filter(Boolean)
    .map((host) => {
      const [name = host, port] = host
        .replaceAll('\\:', ':')
        .replace(/^\[|\]$/g, '')
        .split(/:(?=\d+$)/);
      return port ? { name, port } : { name };
    });
  return { source: match[1], block: false, format: 'raw', network: { protocol: 'rbd', hosts } };
}

/**
 * A vif rate ("10MB/s", "100Mb/s", "10240KB/s@20ms") as KiB/s. B is bytes, b bits; K, M and G
 * scale by 1024 the way libvirt's own Xen converter reads them.
 */
export function parseRate(rate: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMG]?)([Bb])\/s(?:@.*)?\s*$/.exec(rate);
  if (!match) return undefined;
  const [, amount, scale = '', unit] = match;
  const bytes = Number(amount) * ({ '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[scale] ?? 1);
  return Math.max(1, Math.round((unit === 'b' ? bytes / 8 : bytes) / 1024));
}

export function parseVifSpec(spec: string): XenNic {
  const nic: XenNic = {};
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 'mac') nic.mac = value.toLowerCase();
    else if (key === 'bridge') {
      // vif-openvswitch: BRIDGE[.VLAN][:TRUNK1:TRUNK2...]
      const [bridge = value, ...trunks] = value.split(':');
      nic.bridge = bridge;
      const vlans = trunks.map(Number).filter((n) => Number.isInteger(n) && n > 0);
      if (vlans.length > 0) nic.trunks = vlans;
    } else if (key === 'vifname') nic.vifname = value;
    else if (key === 'model') nic.model = value;
    else if (key === 'script') nic.script = value;
    else if (key === 'rate') nic.rateKiBps = parseRate(value);
  }
  return nic;
}

/** The comma-separated key=value pairs of a vfb spec ("vnc=1,vnclisten=0.0.0.0,vncdisplay=1"). */
export function parseKeyValues(spec: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) map.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return map;
}

/**
 * A serial or parallel port as xl.cfg(5) and xm give it (qemu's -serial syntax): pty, null, vc,
 * stdio, file:PATH, /dev/DEVICE, unix:PATH[,server], tcp:HOST:PORT[,server], telnet:..., udp:HOST:PORT.
 * undefined for none/no port, or a form with no libvirt equivalent.
 */
export function parseCharDev(spec: string): XenCharDev | undefined {
  const value = spec.trim();
  const [head = '', ...options] = value.split(',');
  const server = options.includes('server') || options.some((o) => o.startsWith('server='));
  if (head === '' || head === 'none' || head === '0') return undefined;
  if (head === 'pty' || head === 'null' || head === 'stdio' || head === 'vc') return { type: head };
  if (head.startsWith('/dev/')) return { type: 'dev', path: head };
  if (head.startsWith('file:')) return { type: 'file', path: head.slice(5) };
  if (head.startsWith('unix:')) return { type: 'unix', path: head.slice(5), server };
  const net = /^(tcp|telnet|udp):(.*):(\d+)$/.exec(head);
  if (net?.[1] && net[3]) {
    const host = net[2] || '0.0.0.0';
    if (net[1] === 'udp') return { type: 'udp', host, port: net[3] };
    return { type: net[1] as 'tcp' | 'telnet', host, port: net[3], server };
  }
  return undefined;
}

/** An xl channel spec: name=org.qemu.guest_agent.0,connection=socket,path=/run/ga.sock (or pty). */
export function parseChannelSpec(spec: string): { name: string; dev: XenCharDev } | undefined {
  const kv = parseKeyValues(spec);
  const name = kv.get('name');
  if (!name) return undefined;
  const path = kv.get('path');
  if (kv.get('connection') === 'socket' && path) return { name, dev: { type: 'unix', path, server: true } };
  return { name, dev: { type: 'pty' } };
}
