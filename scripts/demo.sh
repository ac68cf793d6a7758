#!/usr/bin/env bash
# The main job on a sample image the project builds itself: a Debian 12 Xen PV guest (debootstrap),
# reviewed with a dry-run, converted, and booted under KVM/qemu until a login prompt shows on ttyS0.
# Run as root from the project directory: npm run demo
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-host-deps.sh
cli=(node dist/bin/xen2kvm.js)

echo "== building (or reusing) the sample Xen guest image"
fixture=$(node dist/fixtures/images/cli.js build debian12-xen-pv)
demo_dir=${XEN2KVM_DEMO_DIR:-/var/tmp/xen2kvm-demo}
mkdir -p "$demo_dir"
image="$demo_dir/xen-guest.raw"
rm -f "$demo_dir/kvm-guest.raw"
cp --sparse=always "$fixture" "$image"
echo "   $image (a fresh copy of $fixture)"

echo "== dry-run: every change, command and the libvirt XML; the image is not touched"
"${cli[@]}" migrate --dry-run "$image"

echo "== convert into a new image (the Xen image is only read), then boot-check it"
"${cli[@]}" migrate --yes --output "$demo_dir/kvm-guest.raw" --verify "$image"

echo "== done: define it with 'virsh define $demo_dir/kvm-guest.xml', console log in $demo_dir/kvm-guest.console.log"
