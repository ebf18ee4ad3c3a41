#!/usr/bin/env bash
# Builds the Debian package: packaging/deb/build-deb.sh OUTDIR [--build-dir DIR]
#
# Configures a release build with the prefix /usr (the binary has its libexec dir compiled in,
# so a build for /usr/local cannot be packaged), stages `cmake --install` with DESTDIR, puts
# the files where Debian 12 keeps them (units in systemd's own unit dir as pkg-config names it,
# the man page gzipped), computes Depends with dpkg-shlibdeps from the binaries rather than
# guessing them, adds the maintainer scripts beside this file, and writes
# OUTDIR/ovlmount_<version>_<arch>.deb with `dpkg-deb --root-owner-group` (no root needed).
#
# The build dir defaults to OUTDIR/build; an existing one must have been configured with
# CMAKE_INSTALL_PREFIX=/usr. JOBS (default: every CPU) is the build's parallelism.
# DEB_MAINTAINER overrides the Maintainer field (default: the last commit's author).
# Needs: cmake, ninja, dpkg-dev (dpkg-shlibdeps), pkg-config, gzip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
source_dir=$(cd "$here/../.." && pwd -P)

die() { echo "build-deb.sh: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: build-deb.sh OUTDIR [--build-dir DIR]"
outdir=$1
shift
build_dir=
while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) [ $# -ge 2 ] || die "--build-dir needs a DIR"; build_dir=$2; shift 2 ;;
    *) die "unknown argument: $1" ;;
  esac
done
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd -P)
build_dir=${build_dir:-$outdir/build}

# ---- build -------------------------------------------------------------------------------
if [ -f "$build_dir/CMakeCache.txt" ]; then
  prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
  [ "$prefix" = /usr ] || die "$build_dir is configured for the prefix $prefix, not /usr"
fi
unit_dir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || true)
unit_dir=${unit_dir:-/lib/systemd/system}
tmpfiles_dir=$(pkg-config --variable=tmpfilesdir systemd 2>/dev/null || true)
tmpfiles_dir=${tmpfiles_dir:-/usr/lib/tmpfiles.d}
cmake -S "$source_dir" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOVLMOUNT_BUILD_TESTS=OFF -DOVLMOUNT_FAULT_POINTS=OFF \
  -DCMAKE_INSTALL_PREFIX=/usr -DOVLMOUNT_SYSTEMD_UNIT_DIR="$unit_dir" -DOVLMOUNT_TMPFILES_DIR="$tmpfiles_dir" \
  -DOVLMOUNT_BASH_COMPLETION_DIR=share/bash-completion/completions >/dev/null
cmake --build "$build_dir" --target ovlmount ovlmount-exec-as --parallel "${JOBS:-$(nproc)}"

# ---- stage -------------------------------------------------------------------------------
# debian/ovlmount is where dpkg-shlibdeps expects a package's files.
work=$(mktemp -d "$outdir/.deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/debian/ovlmount
DESTDIR=$root cmake --install "$build_dir" --strip >/dev/null
gzip -9n "$root/usr/share/man/man8/ovlmount.8"
install -m 0644 "$here/copyright" "$root/usr/share/doc/ovlmount/copyright"
install -D -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/ovlmount"

version=$("$build_dir/ovlmount" --version | sed -n 's/^ovlmount //p')
[ -n "$version" ] || die "cannot read the version of $build_dir/ovlmount"
arch=$(dpkg --print-architecture)

# ---- control -----------------------------------------------------------------------------
printf 'Source: ovlmount\n\nPackage: ovlmount\nArchitecture: any\n' >"$work/debian/control"
mkdir -p "$root/DEBIAN"  # how dpkg-shlibdeps finds the package's root
elves=()
for file in "$root/usr/sbin/"* "$root/usr/libexec/ovlmount/"*; do
  # Only dynamically linked programs have libraries to depend on (ovlmount-exec-as is static;
  # mount.ovlmount and umount.ovlmount are links to ovlmount).
  [ -L "$file" ] && continue
  if readelf -d "$file" 2>/dev/null | grep -q '(NEEDED)'; then elves+=("-e${file#"$work"/}"); fi
done
shlibs=$(cd "$work" && dpkg-shlibdeps -O "${elves[@]}" | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || die "dpkg-shlibdeps computed no dependencies"

maintainer=${DEB_MAINTAINER:-$(git -C "$source_dir" log -1 --format='%an <%ae>' 2>/dev/null || true)}
maintainer=${maintainer:-ovlmount maintainers <maintainers@localhost>}

# A native package's changelog: one entry for this version, by the maintainer, dated by the
# last commit (so a rebuild gives the same .deb).
{
  printf 'ovlmount (%s) unstable; urgency=medium\n\n' "$version"
  printf '  * Built from the ovlmount source tree (see README.md for what it does).\n\n'
  printf ' -- %s  %s\n' "$maintainer" "$(date -u -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$source_dir" log -1 --format=%ct 2>/dev/null || echo 0)}")"
} | gzip -9n >"$root/usr/share/doc/ovlmount/changelog.gz"

cat >"$root/DEBIAN/control" <<EOF
Package: ovlmount
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $shlibs
Recommends: bubblewrap
Suggests: sleuthkit
Section: admin
Priority: optional
Description: mount container images and containers from on-disk stores as overlayfs
 ovlmount mounts an image or a container from Docker's data root,
 containers-storage (podman, CRI-O, buildah) or containerd as a real
 overlayfs, read-only by default, without a daemon and without writing to,
 locking or changing a timestamp in the store.
 .
 It answers forensic questions offline (what a container changed, which
 layer a file came from, whether layers still match their digests), runs a
 command in an image's tree with bubblewrap (chroot done right, not a
 container runtime), and exports an image's tree as docker export does.
 Built for forensic work on copies of seized hosts.
EOF
for script in postinst prerm postrm; do
  install -m 0755 "$here/$script" "$root/DEBIAN/$script"
done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
  >"$root/DEBIAN/md5sums"

# ---- package -----------------------------------------------------------------------------
deb=$outdir/ovlmount_${version}_${arch}.deb
# The files' times in the archive: at most the last commit's, so a rebuild gives the same .deb.
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && commit_time=$(git -C "$source_dir" log -1 --format=%ct 2>/dev/null); then
  export SOURCE_DATE_EPOCH=$commit_time
fi
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
