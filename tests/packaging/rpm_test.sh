#!/usr/bin/env bash
# packaging/rpm/ovlmount.spec builds an RPM that holds what it should (with Debian's rpm):
#   - its Version is project(VERSION) of CMakeLists.txt, and `rpmspec -P` parses it;
#   - `rpmbuild -bb --nodeps` builds it from ovlmount-VERSION.tar.gz, made from the source tree
#     as a release would be (git archive HEAD when the checkout is clean; else the tracked and
#     untracked-but-not-ignored files as they are, so uncommitted work is what gets built);
#   - `rpm -qlp`: exactly the files of the .deb (in Fedora's unit dir), root-owned, programs
#     0755, the rest 0644, its own dirs 0755; `--requires` names bubblewrap; the scriptlets;
#   - the packaged binary runs and looks for its helper in /usr/libexec.
# rpmbuild compiles the whole program every run, at JOBS (default 2) parallel jobs.
# Usage: rpm_test.sh SOURCE_DIR WORK_DIR   (WORK_DIR is emptied and reused: the rpm _topdir)
set -uo pipefail

source_dir=$1
work_dir=$2
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

for tool in rpm rpmbuild rpmspec git; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (apt-get install rpm git)" >&2; exit 1; }
done
spec=$source_dir/packaging/rpm/ovlmount.spec
version=$(sed -n 's/^project(ovlmount VERSION \([0-9.]*\).*/\1/p' "$source_dir/CMakeLists.txt")
[ -n "$version" ] || { echo "FAIL: no project(ovlmount VERSION ...) in CMakeLists.txt" >&2; exit 1; }

# ---- rpmspec -----------------------------------------------------------------------------
parsed=$(rpmspec -P "$spec" 2>&1) || { echo "$parsed" >&2; echo "FAIL: rpmspec -P failed" >&2; exit 1; }
! grep -qi "^warning:" <<<"$parsed" || fail "rpmspec -P warns: $(grep -i "^warning:" <<<"$parsed")"
spec_version=$(rpmspec -q --srpm --qf '%{version}' "$spec")
[ "$spec_version" = "$version" ] || fail "the spec's Version is $spec_version, CMakeLists.txt's $version"

# ---- the source tarball ------------------------------------------------------------------
rm -rf "$work_dir"
mkdir -p "$work_dir/SOURCES"
work_dir=$(cd "$work_dir" && pwd -P)
tarball=$work_dir/SOURCES/ovlmount-$version.tar.gz
git -C "$source_dir" rev-parse --git-dir >/dev/null 2>&1 ||
  { echo "FAIL: $source_dir is not a git checkout (the tarball is made from its files)" >&2; exit 1; }
if [ -z "$(git -C "$source_dir" status --porcelain)" ]; then
  git -C "$source_dir" archive --format=tar.gz --prefix="ovlmount-$version/" -o "$tarball" HEAD ||
    { echo "FAIL: git archive failed" >&2; exit 1; }
else
  (cd "$source_dir" && git ls-files -z --cached --others --exclude-standard |
     while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done |
     tar --null -T - --transform "s|^|ovlmount-$version/|" -czf "$tarball") ||
    { echo "FAIL: cannot tar the source tree" >&2; exit 1; }
fi

# ---- rpmbuild ----------------------------------------------------------------------------
if ! rpmbuild -bb --nodeps --define "_topdir $work_dir" --define "_smp_mflags -j${JOBS:-2}" "$spec" \
       >"$work_dir/rpmbuild.log" 2>&1; then
  tail -n 40 "$work_dir/rpmbuild.log" >&2
  echo "FAIL: rpmbuild -bb failed (whole log: $work_dir/rpmbuild.log)" >&2
  exit 1
fi
mapfile -t rpms < <(find "$work_dir/RPMS" -name '*.rpm')
[ "${#rpms[@]}" = 1 ] || { echo "FAIL: rpmbuild made ${#rpms[@]} packages: ${rpms[*]}" >&2; exit 1; }
package=${rpms[0]}
arch=$(rpm --eval '%{_arch}')
[ "${package##*/}" = "ovlmount-$version-1.$arch.rpm" ] || fail "the package is ${package##*/}"

# ---- rpm -qlp ----------------------------------------------------------------------------
declare -A mode=(
  [/usr/sbin/ovlmount]=-rwxr-xr-x
  [/usr/sbin/mount.ovlmount]=lrwxrwxrwx
  [/usr/sbin/umount.ovlmount]=lrwxrwxrwx
  [/usr/libexec/ovlmount]=drwxr-xr-x
  [/usr/libexec/ovlmount/ovlmount-exec-as]=-rwxr-xr-x
  [/usr/share/man/man8/ovlmount.8.gz]=-rw-r--r--
  [/usr/lib/systemd/system/ovlmount-cleanup.service]=-rw-r--r--
  [/usr/lib/tmpfiles.d/ovlmount.conf]=-rw-r--r--
  [/usr/share/bash-completion/completions/ovlmount]=-rw-r--r--
  [/usr/share/doc/ovlmount]=drwxr-xr-x
  [/usr/share/doc/ovlmount/README.md]=-rw-r--r--
)
for doc in "$source_dir"/docs/*.md; do mode["/usr/share/doc/ovlmount/${doc##*/}"]=-rw-r--r--; done
# /usr/lib/.build-id holds rpm's own links to the ELF files' build IDs, not ovlmount's files.
files=$(rpm -qlp "$package" | grep -v '^/usr/lib/\.build-id' | sort) || fail "rpm -qlp failed"
want=$(printf '%s\n' "${!mode[@]}" | sort)
[ "$files" = "$want" ] || fail "rpm -qlp files: [$(tr '\n' ' ' <<<"$files")], want [$(tr '\n' ' ' <<<"$want")]"
while read -r perms owner path; do
  [[ $path == /usr/lib/.build-id* ]] && continue
  [ "$owner" = root/root ] || fail "$path is owned by $owner"
  [ "$perms" = "${mode[$path]-}" ] || fail "$path has mode $perms, want ${mode[$path]-nothing}"
done < <(rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILENAMES}\n]' "$package")
for link in mount.ovlmount umount.ovlmount; do
  target=$(rpm -qp --qf '[%{FILENAMES} %{FILELINKTOS}\n]' "$package" | awk -v f="/usr/sbin/$link" '$1 == f { print $2 }')
  [ "$target" = ovlmount ] || fail "/usr/sbin/$link links to '$target', want ovlmount"
done

# ---- rpm -qp: fields, dependencies, scriptlets -------------------------------------------
requires=$(rpm -qp --requires "$package") || fail "rpm -qp --requires failed"
grep -qx 'bubblewrap' <<<"$requires" || fail "Requires lacks bubblewrap: $(tr '\n' ' ' <<<"$requires")"
grep -q '^libmount\.so\.1' <<<"$requires" || fail "Requires lacks libmount.so.1 (not computed from the binary?)"
[ "$(rpm -qp --qf '%{version}' "$package")" = "$version" ] || fail "the package's version is not $version"
scripts=$(rpm -qp --scripts "$package")
for scriptlet in postinstall preuninstall postuninstall; do
  grep -q "^$scriptlet scriptlet" <<<"$scripts" || fail "no $scriptlet scriptlet"
done
grep -q 'systemd-tmpfiles --create ovlmount.conf' <<<"$scripts" || fail "%post does not run systemd-tmpfiles --create"
grep -q 'systemctl enable ovlmount-cleanup.service' <<<"$scripts" || fail "%post does not enable the unit"
! grep -Eq 'systemctl (stop|restart|try-restart)|disable --now' <<<"$scripts" || fail "a scriptlet stops the unit"

# ---- the files ---------------------------------------------------------------------------
mkdir -p "$work_dir/root"
(cd "$work_dir/root" && rpm2cpio "$package" | cpio -idm --quiet) || fail "cannot unpack the package"
root=$work_dir/root
"$root/usr/sbin/ovlmount" --version >/dev/null || fail "the packaged ovlmount does not run"
grep -aq '/usr/libexec/ovlmount' "$root/usr/sbin/ovlmount" || fail "the packaged ovlmount does not look in /usr/libexec/ovlmount"
# The test-only fault points (core/fault_point.hpp) are compiled out: neither their variable nor a point name.
! grep -aqE 'OVLMOUNT_FAULT_POINT|mount\.recorded|umount\.record_removed' "$root/usr/sbin/ovlmount" ||
  fail "the packaged ovlmount has the test-only fault points"
grep -qx 'ExecStart=/usr/sbin/ovlmount cleanup' "$root/usr/lib/systemd/system/ovlmount-cleanup.service" ||
  fail "the packaged unit does not run /usr/sbin/ovlmount cleanup"
zcat "$root/usr/share/man/man8/ovlmount.8.gz" | cmp -s - "$source_dir/docs/ovlmount.8" ||
  fail "the packaged man page is not docs/ovlmount.8"

if [ "$failures" -ne 0 ]; then
  echo "rpm_test: $failures failure(s)" >&2
  exit 1
fi
echo "rpm_test: ${package##*/}: ok"
