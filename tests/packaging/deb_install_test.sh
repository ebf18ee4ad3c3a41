#!/usr/bin/env bash
# The .deb through a real install into a fresh Debian 12 root (issue 8):
#   - builds the .deb with packaging/deb/build-deb.sh (in BUILD_DIR, the packaging_deb test's);
#   - unpacks a fresh copy of a debootstrapped bookworm (minbase) into a scratch dir and, in a
#     private mount namespace with /proc mounted, runs `apt-get install -y /ovlmount.deb` in it
#     (apt fetches the missing Depends from the Debian mirror apt uses here);
#   - checks: dpkg -s says installed; /usr/sbin/ovlmount --version prints the built version;
#     the man page (man -w when man-db is there), the unit and the tmpfiles.d file exist;
#     /sbin/mount.ovlmount resolves to the program; postinst, without systemd as PID 1, enabled
#     nothing; from the root, `ovlmount mount` and `mount -t ovlmount` of a test image work and
#     are unmounted (its data root bound read-only into the root); `dpkg -r ovlmount` removes it
#     and every file it installed.
# The debootstrapped root is cached as a tarball (with a .sha256 beside it) in
#   $OVLMOUNT_DEBIAN12_CACHE (default /var/cache/ovlmount-test/debian12)
# keyed by suite, mirror and arch: written under a lock, atomically (mv), checked before reuse
# and built again when broken. Needs root, debootstrap, chroot, unshare, flock, network.
# Usage: deb_install_test.sh SOURCE_DIR BUILD_DIR VERSION_BINARY
set -uo pipefail

source_dir=$1
build_dir=$2
version_bin=$3
suite=bookworm
cache_dir=${OVLMOUNT_DEBIAN12_CACHE:-/var/cache/ovlmount-test/debian12}
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "deb_install_test: $*" >&2; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, unshare -m)"
for tool in debootstrap chroot unshare flock tar sha256sum dpkg-deb; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done

tmp=$(mktemp -d /var/tmp/ovlmount-deb-install.XXXXXX)
build=          # a debootstrap in progress, in the cache dir
cache_tmp=      # a tarball being written into the cache
cleanup() {
  # Every mount is made in a private namespace that ends with its command; this is for safety.
  local d
  for d in "$tmp" "$build"; do
    [ -n "$d" ] || continue
    findmnt -rn -o TARGET | grep -F "$d/" | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf --one-file-system "$d"
  done
  [ -z "$cache_tmp" ] || rm -f "$cache_tmp" "$cache_tmp.sha256"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- the .deb ----------------------------------------------------------------------------
out=$(JOBS=${JOBS:-2} bash "$source_dir/packaging/deb/build-deb.sh" "$tmp/out" --build-dir "$build_dir" 2>&1) ||
  { echo "$out" >&2; die "build-deb.sh failed"; }
deb=$(tail -n 1 <<<"$out")
[ -f "$deb" ] || die "build-deb.sh printed no .deb: $deb"
version=$("$version_bin" --version | sed -n 's/^ovlmount //p')

# ---- the Debian 12 rootfs (cached) -------------------------------------------------------
# The Debian archive apt uses here (deb822 .sources or one-line .list), else deb.debian.org.
debian_mirror() {
  local m
  m=$({
    grep -hs -E '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources | sed -E 's/^[[:space:]]*URIs:[[:space:]]*//' | tr ' ' '\n'
    grep -hs -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
      sed -E 's/\[[^]]*\]//' | awk '{ print $2 }'
  } | grep -E '^(https?|file):.*/debian/?$' | head -n 1 || true)
  echo "${OVLMOUNT_TEST_DEBIAN_MIRROR:-${m:-http://deb.debian.org/debian}}"
}
mirror=$(debian_mirror)
arch=$(dpkg --print-architecture)
key=$(printf 'suite %s\nmirror %s\narch %s\n' "$suite" "$mirror" "$arch" | sha256sum | cut -c1-16)
name=rootfs-$suite-$key.tar
tarball=$cache_dir/$name

entry_ok() {
  [ -f "$tarball" ] && [ -f "$tarball.sha256" ] &&
    (cd "$cache_dir" && sha256sum --status -c "$name.sha256" 2>/dev/null) &&
    tar -tf "$tarball" >/dev/null 2>&1
}

mkdir -p "$cache_dir" || die "cannot create $cache_dir"
exec 9>>"$cache_dir/.lock"
flock -w 1800 9 || die "another run holds $cache_dir/.lock"
if entry_ok; then
  log "reusing $tarball ($mirror)"
else
  [ ! -e "$tarball" ] || log "$tarball is incomplete or damaged; building it again"
  for stale in "$cache_dir"/.build.* "$cache_dir"/.rootfs-*; do  # what a killed run left
    [ -e "$stale" ] && rm -rf --one-file-system "$stale"
  done
  rm -f "$tarball" "$tarball.sha256"
  build=$(mktemp -d "$cache_dir/.build.XXXXXX")
  log "debootstrap --variant=minbase $suite from $mirror"
  debootstrap --variant=minbase "$suite" "$build/rootfs" "$mirror" >"$build/debootstrap.log" 2>&1 ||
    { tail -n 30 "$build/debootstrap.log" >&2; die "debootstrap $suite from $mirror failed"; }
  cache_tmp=$(mktemp "$cache_dir/.$name.XXXXXX")
  tar --numeric-owner -C "$build/rootfs" --exclude='./proc/*' --exclude='./sys/*' -cf "$cache_tmp" . ||
    die "cannot pack the rootfs"
  tar -tf "$cache_tmp" >/dev/null || die "the new tarball cannot be read back"
  chmod 0644 "$cache_tmp"
  printf '%s  %s\n' "$(sha256sum <"$cache_tmp" | cut -d' ' -f1)" "$name" >"$cache_tmp.sha256"
  mv -f "$cache_tmp" "$tarball"
  mv -f "$cache_tmp.sha256" "$tarball.sha256"
  cache_tmp=
  rm -rf --one-file-system "$build"
  build=
  find "$cache_dir" -maxdepth 1 -name 'rootfs-*.tar*' ! -name "$name" ! -name "$name.sha256" -delete
  log "cached $tarball"
fi

# ---- install -----------------------------------------------------------------------------
root=$tmp/root
mkdir "$root"
tar --numeric-owner -C "$root" -xf "$tarball" || die "cannot unpack $tarball"
exec 9>&-
cp "$deb" "$root/ovlmount.deb"
chmod 0644 "$root/ovlmount.deb"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# What postinst looks at: no systemd runs in this root, so it must start and enable nothing.
[ ! -e "$root/run/systemd/system" ] || die "the fresh root has /run/systemd/system"

# in_root CMD...: CMD in the root, in a mount namespace of its own with /proc mounted.
in_root() {
  unshare -m --propagation private sh -c 'r=$1; shift; mount -t proc proc "$r/proc" &&
    exec chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"' \
    sh "$root" "$@"
}

in_root apt-get -q -o Dpkg::Use-Pty=0 update >"$tmp/apt.log" 2>&1 ||
  { tail -n 20 "$tmp/apt.log" >&2; die "apt-get update in the root failed"; }
in_root apt-get -q -y -o Dpkg::Use-Pty=0 install /ovlmount.deb >>"$tmp/apt.log" 2>&1 ||
  { tail -n 30 "$tmp/apt.log" >&2; die "apt-get install /ovlmount.deb failed (postinst included)"; }

status=$(in_root dpkg-query -W -f='${Status} ${Version}' ovlmount 2>&1)
[ "$status" = "install ok installed $version" ] || fail "dpkg status: '$status', want 'install ok installed $version'"
in_root dpkg -s ovlmount >/dev/null 2>&1 || fail "dpkg -s ovlmount failed"
got=$(in_root /usr/sbin/ovlmount --version 2>&1)
[ "$got" = "ovlmount $version" ] || fail "ovlmount --version in the root: '$got', want 'ovlmount $version'"

if [ -x "$root/usr/bin/man" ]; then
  page=$(in_root man -w ovlmount 2>&1)
  [ "$page" = /usr/share/man/man8/ovlmount.8.gz ] || fail "man -w ovlmount: '$page'"
else
  [ -f "$root/usr/share/man/man8/ovlmount.8.gz" ] || fail "no /usr/share/man/man8/ovlmount.8.gz"
fi
files=$(in_root dpkg -L ovlmount)
unit=$(grep '/ovlmount-cleanup\.service$' <<<"$files")
tmpfiles=$(grep '/tmpfiles\.d/ovlmount\.conf$' <<<"$files")
[ -n "$unit" ] && [ -f "$root$unit" ] || fail "the unit ovlmount-cleanup.service is not installed ($unit)"
[ -n "$tmpfiles" ] && [ -f "$root$tmpfiles" ] || fail "tmpfiles.d/ovlmount.conf is not installed ($tmpfiles)"
helper=$(in_root readlink -f /sbin/mount.ovlmount)
[ "$helper" = /usr/sbin/ovlmount ] || fail "/sbin/mount.ovlmount resolves to '$helper', want /usr/sbin/ovlmount"
in_root test -x /sbin/mount.ovlmount || fail "/sbin/mount.ovlmount is not executable"
# No systemd as PID 1 in a chroot: postinst must have enabled and started nothing.
enabled=$(find "$root/etc/systemd" -name 'ovlmount*' 2>/dev/null)
[ -z "$enabled" ] || fail "postinst enabled the unit without systemd: $enabled"
grep -q 'returned error exit status' "$tmp/apt.log" && fail "a maintainer script failed: $(grep 'returned error' "$tmp/apt.log")"

# ---- mounts from the installed root ------------------------------------------------------------
# The test images' data root ($OVLMOUNT_TEST_DATA_ROOT, of the docker_images fixture) bound
# read-only at /srv/docker of the root: `ovlmount mount` and `mount -t ovlmount` (mount(8) of the
# root finds /sbin/mount.ovlmount), each unmounted again, in a namespace that ends with them.
if [ -z "${OVLMOUNT_TEST_DATA_ROOT:-}" ]; then
  fail "OVLMOUNT_TEST_DATA_ROOT is not set: no test image to mount from the installed root"
else
  mounted=$(unshare -m --propagation private sh -c 'r=$1; data=$2
    mount -t proc proc "$r/proc" && mkdir -p "$r/srv/docker" "$r/mnt/a" "$r/mnt/b" &&
    mount --bind "$data" "$r/srv/docker" && mount -o remount,bind,ro "$r/srv/docker" &&
    exec chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C sh -ec "
      ovlmount --data-root /srv/docker --state-dir /run/ovlt mount ovltest-base:1 /mnt/a >/dev/null
      cat /mnt/a/etc/ovltest-release
      ovlmount --state-dir /run/ovlt umount /mnt/a >/dev/null
      mount -t ovlmount -o ro,data-root=/srv/docker,state-dir=/run/ovlt ovltest-base:1 /mnt/b
      cat /mnt/b/etc/ovltest-release
      umount /mnt/b
      ovlmount --state-dir /run/ovlt list"' sh "$root" "$OVLMOUNT_TEST_DATA_ROOT" 2>&1)
  [ "$mounted" = $'ovltest base\novltest base' ] ||
    fail "mounting ovltest-base:1 from the installed root (ovlmount mount, then mount -t ovlmount) gave: $mounted"
fi

# ---- remove ------------------------------------------------------------------------------
in_root dpkg -r ovlmount >"$tmp/remove.log" 2>&1 || { cat "$tmp/remove.log" >&2; fail "dpkg -r ovlmount failed"; }
left=$(in_root dpkg-query -W -f='${db:Status-Status}' ovlmount 2>/dev/null)
[ -z "$left" ] || [ "$left" = not-installed ] || [ "$left" = config-files ] || fail "after dpkg -r the status is '$left'"
while read -r f; do
  [ -n "$f" ] && [ "$f" != /. ] || continue
  [ -d "$root$f" ] && continue  # dirs shared with other packages (/usr/sbin, /lib -> usr/lib) stay
  { [ -e "$root$f" ] || [ -L "$root$f" ]; } && fail "$f is still there after dpkg -r"
done <<<"$files"
for d in /usr/share/doc/ovlmount /usr/libexec/ovlmount; do  # its own dirs go
  [ -e "$root$d" ] && fail "$d is still there after dpkg -r"
done

if [ "$failures" -ne 0 ]; then
  echo "deb_install_test: $failures failure(s)" >&2
  exit 1
fi
echo "deb_install_test: $(basename "$deb") installed into a fresh $suite root and removed: ok"
