#!/bin/bash
# fetch-kernel.sh [CACHE_DIR]
#
# Makes a Debian 12 "linux-image-6.1.0-*-amd64" kernel (vmlinuz plus its modules tree)
# available under CACHE_DIR and prints the directory it was extracted into (one line on
# stdout; it holds boot/vmlinuz-<release> and lib/modules/<release>/).
#
# The newest such package known to apt is fetched with `apt-get download` and unpacked with
# `dpkg-deb -x`; a kernel already unpacked in the cache is reused, so re-runs are fast and work
# without the mirror. Debian's signed image package carries the modules itself; if a package
# without them is ever met, the matching "-unsigned" package (which always has them) is used.
#
# CACHE_DIR defaults to $OVLMOUNT_VM_CACHE, else /var/cache/ovlmount-test/vm.
# OVLMOUNT_VM_KERNEL_PKG=<package name> pins a package instead of the newest.
set -euo pipefail

cache=${1:-${OVLMOUNT_VM_CACHE:-/var/cache/ovlmount-test/vm}}
log() { echo "fetch-kernel: $*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in apt-get apt-cache dpkg-deb flock; do
  command -v "$tool" >/dev/null || die "$tool not found (this needs a Debian host)"
done
mkdir -p "$cache"
cache=$(cd "$cache" && pwd -P)

# One fetcher at a time per cache.
exec 9>"$cache/.lock"
flock 9

# A complete extraction: boot/vmlinuz-<rel> and lib/modules/<rel>/modules.dep, plus our stamp.
complete() {
  local d=$1
  [[ -f $d/.complete ]] && compgen -G "$d/boot/vmlinuz-*" >/dev/null &&
    compgen -G "$d/lib/modules/*/modules.dep" >/dev/null
}

newest_cached() {
  local d best=
  for d in "$cache"/linux-image-6.1.0-*-amd64_*; do
    [[ -d $d ]] && complete "$d" && best+="$d"$'\n'
  done
  [[ -n $best ]] && printf '%s' "$best" | sort -V | tail -n 1
}

find_pkg() {
  apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
    awk '{print $1}' | sort -V | tail -n 1
}

pkg=${OVLMOUNT_VM_KERNEL_PKG:-}
if [[ -z $pkg ]]; then
  pkg=$(find_pkg)
  if [[ -z $pkg ]]; then
    # Nothing in apt's lists: prefer what is cached, else refresh the lists once.
    if cached=$(newest_cached); then
      log "apt knows no linux-image-6.1.0-*-amd64; reusing $cached"
      echo "$cached"
      exit 0
    fi
    log "apt knows no linux-image-6.1.0-*-amd64; running apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    pkg=$(find_pkg)
    [[ -n $pkg ]] || die "no linux-image-6.1.0-*-amd64 package in apt's lists"
  fi
fi

version=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | awk '/^Version:/ {print $2; exit}')
if [[ -z $version ]]; then
  # apt lost track of it (lists changed): fall back to any cached copy of that package.
  for d in "$cache/${pkg}"_*; do
    if [[ -d $d ]] && complete "$d"; then echo "$d"; exit 0; fi
  done
  die "apt-cache has no version for $pkg"
fi
dest="$cache/${pkg}_${version}"
if complete "$dest"; then
  log "reusing $dest"
  echo "$dest"
  exit 0
fi

log "downloading $pkg $version"
work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
# apt-get download writes into the current directory; as root it warns that it cannot drop
# privileges to _apt for a directory _apt cannot write: harmless.
if ! (cd "$work" && apt-get download -q "$pkg=$version" >&2); then
  # Stale lists name a version the mirror no longer has: refresh once and take the newest.
  log "download failed; running apt-get update and retrying"
  apt-get update -qq >&2 || die "apt-get update failed"
  [[ -n ${OVLMOUNT_VM_KERNEL_PKG:-} ]] || pkg=$(find_pkg)
  version=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | awk '/^Version:/ {print $2; exit}')
  [[ -n $pkg && -n $version ]] || die "no linux-image-6.1.0-*-amd64 package after apt-get update"
  dest="$cache/${pkg}_${version}"
  if complete "$dest"; then
    log "reusing $dest"
    echo "$dest"
    exit 0
  fi
  (cd "$work" && apt-get download -q "$pkg=$version" >&2) || die "apt-get download $pkg=$version failed"
fi
mkdir "$work/root"
dpkg-deb -x "$work"/"${pkg}"_*.deb "$work/root"

if ! compgen -G "$work/root/lib/modules/*/modules.dep" >/dev/null &&
   ! compgen -G "$work/root/lib/modules/*/kernel" >/dev/null; then
  # A signed image without its modules: the -unsigned build of the same version has them.
  log "$pkg carries no modules; fetching ${pkg}-unsigned"
  (cd "$work" && apt-get download -q "${pkg}-unsigned=$version" >&2) ||
    die "apt-get download ${pkg}-unsigned=$version failed"
  dpkg-deb -x "$work"/"${pkg}"-unsigned_*.deb "$work/mods"
  mkdir -p "$work/root/lib/modules"
  cp -a "$work"/mods/lib/modules/. "$work/root/lib/modules/"
fi

compgen -G "$work/root/boot/vmlinuz-*" >/dev/null || die "$pkg has no boot/vmlinuz-*"
# Debian ships modules.dep built at install time (postinst runs depmod): build it here.
for moddir in "$work"/root/lib/modules/*/; do
  rel=$(basename "$moddir")
  if [[ ! -f $moddir/modules.dep ]]; then
    depmod -b "$work/root" "$rel" >&2 || die "depmod -b failed for $rel"
  fi
done
touch "$work/root/.complete"
rm -rf "$dest"
mv "$work/root" "$dest"
# Older kernels are no longer wanted (about 400 MB each).
for d in "$cache"/linux-image-6.1.0-*-amd64_*; do
  [[ -d $d && $d != "$dest" ]] && rm -rf "$d"
done
log "kernel ready in $dest"
echo "$dest"
