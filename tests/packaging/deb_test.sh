#!/usr/bin/env bash
# packaging/deb/build-deb.sh builds a .deb that holds what it should:
#   - one file, ovlmount_<version>_<arch>.deb, the version being the built binary's;
#   - `dpkg-deb -c`: exactly the expected files, root-owned, programs 0755 and the rest 0644;
#   - `dpkg-deb -I`: the fields, and a Depends that names the package of every library the
#     packaged binary needs (asked of dpkg -S, so the computed list is checked, not repeated);
#     the maintainer scripts and md5sums; lintian reports no error;
#   - the packaged files themselves: the binary runs and looks for its helper in /usr/libexec,
#     the unit runs /usr/sbin/ovlmount, the man page is docs/ovlmount.8 gzipped.
# The .deb's build dir is kept between runs (BUILD_DIR), so only the first run compiles.
# Usage: deb_test.sh SOURCE_DIR BUILD_DIR VERSION_BINARY
set -uo pipefail

source_dir=$1
build_dir=$2
version_bin=$3
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

for tool in dpkg-deb dpkg-shlibdeps readelf; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (dpkg-dev, binutils)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out=$(JOBS=${JOBS:-2} bash "$source_dir/packaging/deb/build-deb.sh" "$tmp/out" --build-dir "$build_dir" 2>&1) ||
  { echo "$out" >&2; echo "FAIL: build-deb.sh failed" >&2; exit 1; }
version=$("$version_bin" --version | sed -n 's/^ovlmount //p')
arch=$(dpkg --print-architecture)
deb=$tmp/out/ovlmount_${version}_${arch}.deb
[ "$(tail -n 1 <<<"$out")" = "$deb" ] || fail "build-deb.sh printed '$(tail -n 1 <<<"$out")', want $deb"
[ -f "$deb" ] || { echo "FAIL: no $deb; $tmp/out has: $(ls -A "$tmp/out")" >&2; exit 1; }
[ "$(find "$tmp/out" -maxdepth 1 -name '*.deb' | wc -l)" = 1 ] || fail "more than one .deb in OUTDIR"
[ "$(find "$tmp/out" -maxdepth 1 -name '.deb.*' | wc -l)" = 0 ] || fail "build-deb.sh left its staging dir behind"

# ---- dpkg-deb -c -------------------------------------------------------------------------
unit_dir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
tmpfiles_dir=$(pkg-config --variable=tmpfilesdir systemd 2>/dev/null || echo /usr/lib/tmpfiles.d)
declare -A mode=(
  [/usr/sbin/ovlmount]=rwxr-xr-x
  [/usr/sbin/mount.ovlmount]=rwxrwxrwx
  [/usr/sbin/umount.ovlmount]=rwxrwxrwx
  [/usr/libexec/ovlmount/ovlmount-exec-as]=rwxr-xr-x
  [/usr/share/man/man8/ovlmount.8.gz]=rw-r--r--
  ["$unit_dir/ovlmount-cleanup.service"]=rw-r--r--
  ["$tmpfiles_dir/ovlmount.conf"]=rw-r--r--
  [/usr/share/bash-completion/completions/ovlmount]=rw-r--r--
  [/usr/share/doc/ovlmount/README.md]=rw-r--r--
  [/usr/share/doc/ovlmount/copyright]=rw-r--r--
  [/usr/share/doc/ovlmount/changelog.gz]=rw-r--r--
  [/usr/share/lintian/overrides/ovlmount]=rw-r--r--
)
for doc in "$source_dir"/docs/*.md; do mode["/usr/share/doc/ovlmount/${doc##*/}"]=rw-r--r--; done
listing=$(dpkg-deb -c "$deb") || fail "dpkg-deb -c failed"
files=$(awk '$1 !~ /^d/ { print $6 }' <<<"$listing" | sed 's|^\.||' | sort)
want=$(printf '%s\n' "${!mode[@]}" | sort)
[ "$files" = "$want" ] || fail "dpkg-deb -c files: [$(tr '\n' ' ' <<<"$files")], want [$(tr '\n' ' ' <<<"$want")]"
while read -r perms owner _ _ _ path _; do
  path=${path#.}
  [ "$owner" = root/root ] || fail "$path is owned by $owner"
  if [[ $perms == d* ]]; then
    [ "$perms" = drwxr-xr-x ] || fail "dir $path has mode $perms"
  elif [ -n "${mode[$path]-}" ]; then
    [ "${perms:1}" = "${mode[$path]}" ] || fail "$path has mode $perms, want -${mode[$path]}"
  fi
done <<<"$listing"

# ---- dpkg-deb -I -------------------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = ovlmount ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version), want $version"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture: $(field Architecture), want $arch"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
[ "$(field Section)" = admin ] || fail "Section: $(field Section)"
[[ $(field Installed-Size) =~ ^[0-9]+$ ]] || fail "Installed-Size: $(field Installed-Size)"
[[ " $(field Recommends) " == *" bubblewrap "* ]] || fail "Recommends: $(field Recommends), want bubblewrap"
depends=$(field Depends)
dpkg-deb -x "$deb" "$tmp/root"
needed=$(readelf -d "$tmp/root/usr/sbin/ovlmount" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$needed" ] || fail "the packaged ovlmount needs no library?"
for soname in $needed; do
  library=$(ldconfig -p | awk -v so="$soname" '$1 == so { print $NF; exit }')
  [ -n "$library" ] || { fail "cannot find $soname"; continue; }
  package=$(dpkg -S "$(readlink -f "$library")" 2>/dev/null | head -n 1 | cut -d: -f1)
  [ -n "$package" ] || package=$(dpkg -S "$library" 2>/dev/null | head -n 1 | cut -d: -f1)
  [ -n "$package" ] || { fail "no package owns $library ($soname)"; continue; }
  [[ ", $depends" == *", $package "* || ", $depends," == *", $package,"* ]] ||
    fail "Depends ($depends) lacks $package, which has $soname"
done
info=$(dpkg-deb -I "$deb") || fail "dpkg-deb -I failed"
for script in postinst prerm postrm; do
  grep -Eq "^ +[0-9]+ bytes, +[0-9]+ lines +\* +$script " <<<"$info" || fail "no executable $script in the control archive"
done
dpkg-deb -e "$deb" "$tmp/control"
for script in postinst prerm postrm; do
  sh -n "$tmp/control/$script" || fail "$script is not valid sh"
done
grep -q 'systemd-tmpfiles --create' "$tmp/control/postinst" || fail "postinst does not run systemd-tmpfiles --create"
grep -q 'systemctl enable ovlmount-cleanup.service' "$tmp/control/postinst" || fail "postinst does not enable the unit"
grep -q '/run/systemd/system' "$tmp/control/postinst" || fail "postinst does not check that systemd runs"
(cd "$tmp/root" && md5sum --quiet -c "$tmp/control/md5sums") || fail "md5sums do not match the files"
regular_files=$(cd "$tmp/root" && find . -type f | wc -l)
[ "$(wc -l <"$tmp/control/md5sums")" = "$regular_files" ] || fail "md5sums does not list every regular file"

# ---- lintian: no errors (its warnings are about calling systemctl in maintainer scripts and the
# helpers sharing ovlmount's man page) ---------------------------------------------------------
if command -v lintian >/dev/null; then
  said=$(lintian --fail-on error "$deb" 2>&1) || fail "lintian finds errors: $(grep '^E:' <<<"$said")"
else
  fail "lintian is not installed"
fi

# ---- the files ---------------------------------------------------------------------------
"$tmp/root/usr/sbin/ovlmount" --version >/dev/null || fail "the packaged ovlmount does not run"
grep -aq '/usr/libexec/ovlmount' "$tmp/root/usr/sbin/ovlmount" || fail "the packaged ovlmount does not look in /usr/libexec/ovlmount"
# The test-only fault points (core/fault_point.hpp) are compiled out: neither their variable nor a point name.
! grep -aqE 'OVLMOUNT_FAULT_POINT|mount\.recorded|umount\.record_removed' "$tmp/root/usr/sbin/ovlmount" ||
  fail "the packaged ovlmount has the test-only fault points"
grep -qx 'ExecStart=/usr/sbin/ovlmount cleanup' "$tmp/root$unit_dir/ovlmount-cleanup.service" ||
  fail "the packaged unit does not run /usr/sbin/ovlmount cleanup"
zcat "$tmp/root/usr/share/man/man8/ovlmount.8.gz" | cmp -s - "$source_dir/docs/ovlmount.8" ||
  fail "the packaged man page is not docs/ovlmount.8"

if [ "$failures" -ne 0 ]; then
  echo "deb_test: $failures failure(s)" >&2
  exit 1
fi
echo "deb_test: $(basename "$deb"), Depends: $depends: ok"
