/**
 * What a converted guest finds under KVM, named once for every rewrite: its console on the first
 * serial port, and the virtio drivers for its disk, its NIC and their bus.
 */

export const SERIAL_TTY = 'ttyS0';
export const SERIAL_SPEED = 115200;
/** The kernel argument that puts the console there. */
export const SERIAL_CONSOLE = `console=${SERIAL_TTY},${SERIAL_SPEED}`;
/** GRUB's serial terminal on the same port. */
export const GRUB_SERIAL_COMMAND = `serial --unit=0 --speed=${SERIAL_SPEED}`;

/** The virtio drivers a guest's initrd must hold. */
export const VIRTIO_DRIVERS = ['virtio', 'virtio_ring', 'virtio_pci', 'virtio_blk', 'virtio_net'];
/** The ones SUSE's INITRD_MODULES names, in its order (mkinitrd loads the rest by dependency). */
export const VIRTIO_INITRD_MODULES = ['virtio_blk', 'virtio', 'virtio_pci'];
