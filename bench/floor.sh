#!/usr/bin/env bash
# The floor: the same conversion of the Debian fixture done by hand, with the same commands the tool
# runs (map, mount, edit, keep the old initrd, update-initramfs, grub-install, unmount) and nothing
# else. What this costs is what the guest's own tools cost; the tool's time above it is the tool's
# overhead. With FLOOR_SANDBOX set (bwrap's arguments one per line, @ROOT@ for the guest's root, as
# bench/run.ts makes them from the tool's own), the guest commands run in that sandbox instead of a
# chroot with the host's /dev, /proc and /sys: the difference is what the sandbox costs.
set -euo pipefail
img=${1:?usage: floor.sh IMAGE}

# The root partition (type 83) from the partition table.
read -r start size < <(sfdisk -d "$img" | sed -n 's/.*start= *\([0-9]*\), size= *\([0-9]*\), type=83.*/\1 \2/p' | head -1)
disk=$(losetup -f --show "$img")
part=$(losetup -f --show -o $((start * 512)) --sizelimit $((size * 512)) "$img")
mnt=$(mktemp -d /var/tmp/floor-XXXXXX)
mount "$part" "$mnt"
in_guest() {
  if [ -n "${FLOOR_SANDBOX:-}" ]; then
    mapfile -t args <<<"${FLOOR_SANDBOX//@ROOT@/$mnt}"
    bwrap "${args[@]}" -- "$@"
  else
    chroot "$mnt" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
  fi
}
if [ -z "${FLOOR_SANDBOX:-}" ]; then for d in dev proc sys; do mount --bind "/$d" "$mnt/$d"; done; fi

sed -i 's#/dev/xvd\([a-z]\)#/dev/vd\1#g' "$mnt/etc/fstab" "$mnt/boot/grub/device.map"
sed -i 's#console=hvc0#console=ttyS0,115200#; s#root=/dev/xvda2#root=/dev/vda2#' "$mnt/etc/default/grub" "$mnt/boot/grub/grub.cfg"
wants="$mnt/etc/systemd/system/getty.target.wants"
rm -f "$wants/serial-getty@hvc0.service"
ln -sf /lib/systemd/system/serial-getty@.service "$wants/serial-getty@ttyS0.service"
printf 'virtio\nvirtio_ring\nvirtio_pci\nvirtio_blk\nvirtio_net\n' >>"$mnt/etc/initramfs-tools/modules"
kver=$(basename "$(ls -d "$mnt"/lib/modules/* | head -1)")
cp -p "$mnt/boot/initrd.img-$kver" "$mnt/boot/initrd.img-$kver.xen2kvm-orig"
in_guest update-initramfs -u -k "$kver" >/dev/null
FLOOR_SANDBOX=${FLOOR_SANDBOX:+$FLOOR_SANDBOX$'\n'--dev-bind$'\n'$disk$'\n'$disk$'\n'--dev-bind$'\n'$part$'\n'$part} \
  in_guest grub-install --target=i386-pc --modules="part_msdos ext2" "$disk" 2>/dev/null

if [ -z "${FLOOR_SANDBOX:-}" ]; then for d in sys proc dev; do umount "$mnt/$d"; done; fi
umount "$mnt"
rmdir "$mnt"
losetup -d "$part" "$disk"
