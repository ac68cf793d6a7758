/**
 * Partitionless Xen guests: xen-tools made one image file per filesystem (the root as xvda2, swap as
 * xvda1), and dom0 or pygrub booted the kernel. The guest's fstab says which volumes it needs; the
 * files come from the image named on the command line, the Xen config and --disk. KVM gets them as
 * one new whole disk (an msdos label with a partition per volume) or, for direct kernel boot, as
 * disks of their own. Either way the guest's device names change, and the renames say how.
 * Pure planning: nothing here touches a file.
 */
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { DeviceRenames } from '../guest/device-names.js';
import { parseFstab } from '../guest/mount-guest.js';

export interface Volume {
  /** The Xen device fstab names it by (/dev/xvda2), when it names one. */
  device: string | undefined;
  /** What fstab calls it (a device, UUID=... or LABEL=...). */
  fstabDevice: string;
  role: 'root' | 'swap' | 'filesystem';
  mountPoint: string;
  /** The image file holding it; undefined for a swap area made anew. */
  file: string | undefined;
  size: number;
}

/** A file given for a Xen device (from the Xen config or --disk), with what blkid saw in it. */
export interface GivenDisk {
  device: string;
  file: string;
  size: number;
  fs: { type: string | undefined; uuid: string | undefined; label: string | undefined };
  /** It holds a partition table: a whole disk of its own, kept as it is. */
  partitioned: boolean;
}

/** Size of a swap area made for a guest whose swap file was not given. */
export const NEW_SWAP_BYTES = 512 * 1024 * 1024;

const IGNORED_TYPES = ['proc', 'sysfs', 'tmpfs', 'devpts', 'devtmpfs', 'nfs', 'nfs4', 'cifs', 'none'];

/** /dev/xvda2 -> ['a', 2]; /dev/xvdb -> ['b', undefined]. */
function xenDevice(device: string): { letters: string; number: number | undefined } | undefined {
  const match = /^\/dev\/xvd([a-z]+)(\d*)$/.exec(device);
  if (!match?.[1]) return undefined;
  return { letters: match[1], number: match[2] ? Number(match[2]) : undefined };
}

/** Normalises xvda1, /dev/xvda1 and sda1 (Xen also accepted those names) to /dev/xvda1. */
export function xenDevicePath(name: string): string {
  const bare = name.replace(/^\/dev\//, '').replace(/^(sd|hd)/, 'xvd');
  return `/dev/${bare}`;
}

function givenFor(entryDevice: string, given: GivenDisk[]): GivenDisk | undefined {
  const [key, value] = entryDevice.split('=', 2);
  if (key === 'UUID') return given.find((g) => g.fs.uuid === value);
  if (key === 'LABEL') return given.find((g) => g.fs.label === value);
  return given.find((g) => g.device === entryDevice);
}

/**
 * The volumes the guest's fstab asks for. `rootImage` holds the root filesystem; `given` are the
 * other files the operator named. A filesystem the guest mounts that no file provides is refused;
 * a swap area with no file is made anew (or, with `makeSwap` false, left out with a warning).
 */
export function planVolumes(
  rootImage: { file: string; size: number },
  fstab: string,
  given: GivenDisk[],
  makeSwap = true,
): { volumes: Volume[]; warnings: string[] } {
  const entries = parseFstab(fstab).filter((e) => !IGNORED_TYPES.includes(e.type) && e.device !== 'none');
  const rootEntry = entries.find((e) => e.mountPoint === '/');
  if (!rootEntry) throw new UserError(`${rootImage.file}: the guest's /etc/fstab has no entry for /`);
  const rootGiven = given.find((g) => resolve(g.file) === resolve(rootImage.file));
  const rootDevice = xenDevice(rootEntry.device) ? rootEntry.device : rootGiven?.device;
  const volumes: Volume[] = [
    {
      device: rootDevice,
      fstabDevice: rootEntry.device,
      role: 'root',
      mountPoint: '/',
      file: rootImage.file,
      size: rootImage.size,
    },
  ];
  const warnings: string[] = [];
  for (const entry of entries) {
    if (entry === rootEntry) continue;
    const swap = entry.type === 'swap';
    const found = givenFor(entry.device, given);
    // A partition of another whole disk (xvdb1 on a partitioned xvdb) stays on that disk.
    const onWholeDisk = given.find(
      (g) => g.partitioned && entry.device.startsWith(g.device) && g.device !== entry.device,
    );
    if (onWholeDisk) continue;
    if (found?.partitioned) continue;
    const name = swap ? 'swap' : entry.mountPoint;
    if (!found && !swap) {
      const flag = xenDevice(entry.device)
        ? `--disk ${entry.device.replace('/dev/', '')}=FILE`
        : '--disk XENDEVICE=FILE';
      throw new UserError(
        `the guest mounts ${entry.mountPoint} from ${entry.device}, a Xen disk of its own that was not given: add ${flag} or --xen-config CONFIG`,
        2,
      );
    }
    if (!found && !makeSwap) {
      warnings.push(
        `fstab's swap on ${entry.device} has no file: give it with --disk, or the guest starts without swap`,
      );
      continue;
    }
    volumes.push({
      device: xenDevice(entry.device) ? entry.device : found?.device,
      fstabDevice: entry.device,
      role: swap ? 'swap' : 'filesystem',
      mountPoint: name,
      file: found?.file,
      size: found?.size ?? NEW_SWAP_BYTES,
    });
  }
  return { volumes: sortByXenOrder(volumes), warnings };
}

/** Xen order: by disk letters then partition number; volumes known only by UUID or LABEL last. */
function sortByXenOrder(volumes: Volume[]): Volume[] {
  const key = (v: Volume): [number, string, number] => {
    const d = v.device ? xenDevice(v.device) : undefined;
    return d ? [0, d.letters.padStart(4, ' '), d.number ?? 0] : [1, '', 0];
  };
  return [...volumes].sort((a, b) => {
    const [ga, la, na] = key(a);
    const [gb, lb, nb] = key(b);
    return ga - gb || la.localeCompare(lb) || na - nb;
  });
}

const MIB = 1024 * 1024;
const roundUpMiB = (bytes: number) => Math.ceil(bytes / MIB) * MIB;

export interface NewPartition {
  number: number;
  start: number;
  size: number;
  /** msdos type: 83 Linux, 82 swap. */
  type: '83' | '82';
  bootable: boolean;
  volume: Volume;
}

export interface WholeDiskLayout {
  size: number;
  partitions: NewPartition[];
  renames: DeviceRenames;
  rootPartition: number;
}

/**
 * One whole disk: a partition per volume in Xen order, 1 MiB aligned. Xen's partition numbers are
 * kept when they are exactly 1..n on one disk (xvda1 swap, xvda2 root -> vda1, vda2), so the
 * guest's own names mostly just lose their x; otherwise the partitions are numbered in order.
 */
export function wholeDiskLayout(volumes: Volume[]): WholeDiskLayout {
  if (volumes.length > 4) {
    throw new UserError(
      `the guest has ${volumes.length} volumes; a new msdos disk holds 4 primary partitions: merge some first`,
      2,
    );
  }
  const numbers = volumes.map((v) => (v.device ? xenDevice(v.device) : undefined));
  const sameDisk = numbers.every((n) => n && n.letters === numbers[0]?.letters && n.number !== undefined);
  const keep =
    sameDisk &&
    numbers
      .map((n) => n?.number ?? 0)
      .sort((a, b) => a - b)
      .every((n, i) => n === i + 1);
  const partitions: NewPartition[] = volumes
    .map((volume, index) => ({
      number: keep ? (numbers[index]?.number as number) : index + 1,
      start: 0,
      size: roundUpMiB(volume.size),
      type: volume.role === 'swap' ? ('82' as const) : ('83' as const),
      bootable: volume.role === 'root',
      volume,
    }))
    .sort((a, b) => a.number - b.number);
  // Offsets follow partition numbers, so the table reads in disk order.
  let offset = MIB;
  for (const p of partitions) {
    p.start = offset;
    offset += p.size;
  }
  const renames = new Map<string, string>();
  for (const p of partitions) {
    if (p.volume.device) renames.set(p.volume.device, `/dev/vda${p.number}`);
  }
  const root = partitions.find((p) => p.volume.role === 'root') as NewPartition;
  return { size: offset + MIB, partitions, renames, rootPartition: root.number };
}

export interface DirectLayout {
  /** The files KVM gets, in order: vda (the root filesystem), vdb... */
  disks: string[];
  renames: DeviceRenames;
}

/** Direct kernel boot: each volume with a file is a disk of its own, the root first (vda). */
export function directLayout(volumes: Volume[]): DirectLayout {
  const ordered = [
    ...volumes.filter((v) => v.role === 'root'),
    ...volumes.filter((v) => v.role !== 'root' && v.file),
  ];
  const renames = new Map<string, string>();
  ordered.forEach((volume, index) => {
    if (volume.device) renames.set(volume.device, `/dev/vd${String.fromCharCode(97 + index)}`);
  });
  return { disks: ordered.map((v) => v.file as string), renames };
}
