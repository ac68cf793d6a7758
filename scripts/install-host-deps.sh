#!/usr/bin/env bash
# Installs the host tools xen2kvm drives, and those its tests and demo need (Debian/Ubuntu hosts, as root).
# Usage: install-host-deps.sh [--runtime]
# Safe to run repeatedly: apt-get skips what is already installed.
set -euo pipefail

# What xen2kvm itself drives on a KVM host.
runtime=(
  fdisk          # sfdisk -J: partition tables
  util-linux     # losetup, blkid, lsblk, mount
  kpartx         # partition mapping where device-mapper works
  e2fsprogs      # mkfs, e2fsck, debugfs
  qemu-system-x86 # boot check
  qemu-utils     # qemu-img, qemu-nbd
  libvirt-clients # virt-xml-validate, virsh
  libxml2-utils  # xmllint, which virt-xml-validate needs
  lvm2           # roots on LVM (vgchange, lvs)
  bubblewrap     # the sandbox every guest command runs in
  linux-image-amd64 # the kernel the --isolation vm appliance boots (a KVM host has one already)
  busybox-static # the appliance's userland
  xz-utils       # reading initrds compressed with xz or lzma
  bzip2          # ... bzip2
  lz4            # ... lz4
  lzop           # ... lzo
  zstd           # ... zstd (Debian 12's default); import's compression
  rpm            # reading an .rpm --kernel-package
  libvirt-daemon-system # migrate/xml --define --start: libvirtd, virtlogd, the libvirt-qemu user
  libvirt-daemon-driver-qemu # ... libvirt's QEMU/KVM driver
  iproute2       # the --emit qemu script's taps
  openssh-client # import ssh://: the operator's own ssh client reaches the Xen host
)
# What the tests and the demo need besides.
testing=(
  dosfstools     # mkfs.vfat for the bad-input tests
  debootstrap    # builds the fixture guests from real Debian packages
  tmux           # the interactive tests drive the CLI in a real pseudo-terminal
  cpio           # the initrd-listing tests build small archives
  perl           # the hostile-guest tests' attacks are perl one-liners run inside the guest
  python3        # the tests' image digest reads only data extents (SEEK_DATA)
  openvswitch-switch # the libvirt tests' Open vSwitch bridges (ovsdb-server, ovs-vswitchd, ovs-vsctl)
  dnsmasq-base   # the libvirt tests' DHCP server on each bridge
  openssh-server # the fleet tests' Xen and KVM hosts (sshd started by the tests in namespaces)
  ansible-core   # the fleet playbook (ansible/)
  python3-yaml   # ... the fleet playbook's manifest split
)

# --runtime: only what xen2kvm drives (the fleet role installs that on KVM hosts).
packages=("${runtime[@]}")
[ "${1:-}" = --runtime ] || packages+=("${testing[@]}")

if [ "$(id -u)" -ne 0 ]; then
  echo "install-host-deps: run as root (apt-get needs it)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Said only when something was installed (the Ansible role reports a change from it).
echo "installed: ${missing[*]}"
