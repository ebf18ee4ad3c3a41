#!/usr/bin/env bash
# Installs, on Debian 12 as root, everything ovlmount needs to build, run and be tested.
# Packages already installed are not fetched again; with --update, apt-get update runs first
# (CI's clean machines need it; later calls can skip it).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libmount-dev libboost-json1.81-dev libboost-program-options1.81-dev libboost-test1.81-dev libcrypto++-dev zlib1g-dev libtomlplusplus-dev libzstd-dev libarchive-dev
  docker.io busybox-static util-linux binutils bc sleuthkit podman bubblewrap debootstrap zstd mandoc man-db systemd dpkg-dev rpm lintian
  qemu-system-x86 cpio e2fsprogs kmod xz-utils squashfs-tools
  clang libclang-rt-14-dev
  python3 openssl tar
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$package")
done
if [ "${1:-}" = "--update" ] || [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
fi
if [ ${#missing[@]} -gt 0 ]; then
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
