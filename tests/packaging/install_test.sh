#!/usr/bin/env bash
# `cmake --install` of the build dir puts every file where the GNU and systemd layouts say, and
# nothing else, both with `--prefix DIR` and with DESTDIR staging for the prefix /usr:
#   sbin/ovlmount, libexec/ovlmount/ovlmount-exec-as, share/man/man8/ovlmount.8, the unit in
#   lib/systemd/system, tmpfiles.d/ovlmount.conf in lib/tmpfiles.d, the bash completion as
#   share/bash-completion/completions/ovlmount, README.md and docs/*.md in share/doc/ovlmount
# (the dirs as the build was configured: <build>/packaging/install-dirs.sh). The installed
# unit names the installed binary; every other file is a copy of its source.
# Usage: install_test.sh CMAKE BUILD_DIR SOURCE_DIR
set -uo pipefail

cmake=$1
build=$2
source_dir=$3
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# shellcheck source=/dev/null
source "$build/packaging/install-dirs.sh" || { echo "FAIL: no $build/packaging/install-dirs.sh" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Where DIR (relative to the prefix, or absolute) is for PREFIX.
place() { case $2 in /*) echo "$2" ;; *) echo "$1/$2" ;; esac; }

# check ROOT PREFIX: ROOT is what DESTDIR was ("" for none).
check() {
  local root=$1 prefix=$2
  local sbin man8 unit_dir
  sbin=$(place "$prefix" "$SBINDIR")
  man8=$(place "$prefix" "$MAN8DIR")
  unit_dir=$(place "$prefix" "$UNITDIR")
  local -A expected=(
    ["$sbin/ovlmount"]=program
    ["$sbin/mount.ovlmount"]=link
    ["$sbin/umount.ovlmount"]=link
    ["$(place "$prefix" "$LIBEXECDIR")/ovlmount-exec-as"]=program
    ["$man8/ovlmount.8"]="$source_dir/docs/ovlmount.8"
    ["$unit_dir/ovlmount-cleanup.service"]=unit
    ["$(place "$prefix" "$TMPFILESDIR")/ovlmount.conf"]="$source_dir/systemd/tmpfiles.d/ovlmount.conf"
    ["$(place "$prefix" "$COMPLETIONDIR")/ovlmount"]="$source_dir/packaging/completion/ovlmount.bash"
  )
  local doc
  for doc in $DOCS; do
    if [ "$doc" = README.md ]; then
      expected["$(place "$prefix" "$DOCDIR")/$doc"]="$source_dir/README.md"
    else
      expected["$(place "$prefix" "$DOCDIR")/$doc"]="$source_dir/docs/$doc"
    fi
  done
  [ ${#expected[@]} -ge 9 ] || fail "expected only ${#expected[@]} files"

  local path what
  for path in "${!expected[@]}"; do
    what=${expected[$path]}
    if [ "$what" = link ]; then
      [ -L "$root$path" ] && [ "$(readlink "$root$path")" = ovlmount ] || fail "not a link to ovlmount: $root$path"
      continue
    fi
    [ -f "$root$path" ] || { fail "not installed: $root$path"; continue; }
    case $what in
      program) [ -x "$root$path" ] || fail "not executable: $root$path" ;;
      unit)
        grep -qx "ExecStart=$sbin/ovlmount cleanup" "$root$path" || fail "$root$path: ExecStart is not $sbin/ovlmount cleanup"
        grep -qx "ExecStop=$sbin/ovlmount umount --all --lazy" "$root$path" ||
          fail "$root$path: ExecStop is not $sbin/ovlmount umount --all --lazy"
        diff <(grep -v '^Exec' "$source_dir/systemd/ovlmount-cleanup.service") <(grep -v '^Exec' "$root$path") >/dev/null ||
          fail "$root$path differs from systemd/ovlmount-cleanup.service beyond its Exec lines" ;;
      *) cmp -s "$what" "$root$path" || fail "$root$path is not a copy of $what" ;;
    esac
  done
  # Nothing else: every installed file is expected, and the manifest lists exactly them.
  local installed listed want
  if [ -n "$root" ]; then
    installed=$(find "$root" \( -type f -o -type l \) | sed "s|^$root||" | sort)
  else
    installed=$(find "$prefix" \( -type f -o -type l \) | sort)
  fi
  want=$(printf '%s\n' "${!expected[@]}" | sort)
  [ "$installed" = "$want" ] || fail "installed files: [$installed], want [$want]"
  listed=$(sed "s|^$root||" "$build/install_manifest.txt" | sort)
  [ "$listed" = "$want" ] || fail "install_manifest.txt: [$listed], want [$want]"
  "$root$sbin/ovlmount" --version >/dev/null || fail "$root$sbin/ovlmount --version failed"
}

# ---- --prefix ----------------------------------------------------------------------------
out=$("$cmake" --install "$build" --prefix "$tmp/usr" 2>&1) || { echo "$out" >&2; fail "cmake --install --prefix failed"; }
check "" "$tmp/usr"

# ---- DESTDIR, prefix /usr ----------------------------------------------------------------
mkdir "$tmp/stage"
out=$(DESTDIR="$tmp/stage" "$cmake" --install "$build" --prefix /usr 2>&1) ||
  { echo "$out" >&2; fail "DESTDIR=... cmake --install --prefix /usr failed"; }
check "$tmp/stage" /usr

if [ "$failures" -ne 0 ]; then
  echo "install_test: $failures failure(s)" >&2
  exit 1
fi
echo "install_test: ok"
