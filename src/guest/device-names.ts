/**
 * Xen block device names and their KVM (virtio-blk) counterparts: /dev/xvda2 -> /dev/vda2. An HVM
 * guest without PV drivers saw its disks emulated, as /dev/sda2 (libata) or /dev/hda2 (old IDE):
 * those become virtio disks too. The disk letter is kept, so a guest's second disk xvdb stays the second disk vdb. A guest whose
 * disks were laid out anew (partitionless filesystem images put on one disk, or given to KVM as
 * disks of their own) carries explicit renames that take precedence: /dev/xvda2 -> /dev/vda.
 */
const XEN_DEVICE = /\/dev\/(?:xvd|sd|hd)([a-z]+)(\d*)(?![\w])/g;

/** Explicit renames, full device paths: '/dev/xvda2' -> '/dev/vda1'. */
export type DeviceRenames = ReadonlyMap<string, string>;

export const NO_RENAMES: DeviceRenames = new Map();

export function toKvmDevice(text: string, renames: DeviceRenames = NO_RENAMES): string {
  return text.replace(
    XEN_DEVICE,
    (whole, letters: string, number: string) => renames.get(whole) ?? `/dev/vd${letters}${number}`,
  );
}

/** Partition number of a Xen device name on the first disk (/dev/xvda2 -> 2), if it is one. */
export function firstDiskPartition(device: string): number | undefined {
  const match = /^\/dev\/(?:xvd|vd|sd|hd)a(\d+)$/.exec(device);
  return match?.[1] ? Number(match[1]) : undefined;
}
