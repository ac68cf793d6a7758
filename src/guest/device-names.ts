/**
 * Xen block device names and their KVM (virtio-blk) counterparts: /dev/xvda2 -> /dev/vda2.
 * The disk letter is kept, so a guest's second disk xvdb stays the second disk vdb.
 */
const XEN_DEVICE = /\/dev\/xvd([a-z]+)(\d*)(?![\w])/g;

export function toKvmDevice(device: string): string {
  return device.replace(XEN_DEVICE, '/dev/vd$1$2');
}

/** Partition number of a Xen device name on the first disk (/dev/xvda2 -> 2), if it is one. */
export function firstDiskPartition(device: string): number | undefined {
  const match = /^\/dev\/(?:xvd|vd|sd|hd)a(\d+)$/.exec(device);
  return match?.[1] ? Number(match[1]) : undefined;
}
