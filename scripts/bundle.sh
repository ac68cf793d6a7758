#!/usr/bin/env bash
# Packs xen2kvm for hosts that install it without the npm registry (the Ansible role's bundle):
# the built program, its production dependencies, and the host-package script, in one tarball.
# Usage: scripts/bundle.sh OUT.tar.gz   (run after npm ci and npm run build)
set -euo pipefail
out=$(realpath -m "${1:?usage: scripts/bundle.sh OUT.tar.gz}")
root=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$root/dist/bin/xen2kvm.js" ] || { echo "bundle: no dist/: run npm run build first" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/xen2kvm/scripts"
cp -r "$root/dist" "$root/package.json" "$root/package-lock.json" "$stage/xen2kvm/"
cp "$root/scripts/install-host-deps.sh" "$stage/xen2kvm/scripts/"
cp -r "$root/node_modules" "$stage/xen2kvm/"
# Only what the program needs at run time: the build and test tools stay behind.
(cd "$stage/xen2kvm" && npm prune --omit=dev --no-audit --no-fund --offline >/dev/null)
tar -C "$stage" -czf "$out" xen2kvm
echo "$out"
