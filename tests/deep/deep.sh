#!/usr/bin/env bash
# Stacks deeper than one page of mount(2) options: 125, 128 and 500 layers (the kernel's most),
# in a synthetic store of each kind (bench/gen_store.py; no engine builds a 500-layer image).
#
# Why like this: the oracle is the kernel. After `ovlmount mount`, /proc/self/mountinfo lists the
# overlay's lower layers as the kernel holds them, top first; layer k of the generated stack is
# the directory holding the one file layers/k, so the kernel's list must name the layers D..1 in
# that order, and the mounted tree must show exactly layers/1..layers/D. On Linux 6.8 and later
# (fsconfig "lowerdir+") every depth must mount; before that the 500-layer stack does not fit a
# page and must fail cleanly (mount error, exit 5, no mount and no record left behind).
#
#   tests/deep/deep.sh OVLMOUNT_BIN      as root, inside `unshare -m --propagation private`
#
# The stores are made once into /var/cache/ovlmount-test/deep/<generator hash>/.
set -euo pipefail

bin=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
generator=$repo/bench/gen_store.py
cache=/var/cache/ovlmount-test/deep/$(sha256sum "$generator" | cut -c1-12)
work=$(mktemp -d /tmp/ovlmount-deep-XXXXXX)
trap 'umount -R "$work/target" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$cache" "$work/target"
failures=0

fail() { echo "deep.sh: FAIL: $*" >&2; failures=$((failures + 1)); }

declare -A option=([docker]=--data-root [containerd]=--containerd-root [containers-storage]=--storage-root)
for kind in docker containerd containers-storage; do
  if [ ! -d "$cache/$kind" ]; then
    rm -rf "$cache/$kind.tmp"
    python3 "$generator" "$kind" "$cache/$kind.tmp" --images 4 --depths 125,128,500 >/dev/null 2>&1
    mv "$cache/$kind.tmp" "$cache/$kind"
  fi
done

kernel_has_lowerdir_plus() {
  local major minor
  IFS=. read -r major minor _ <<<"$(uname -r)"
  [ "$major" -gt 6 ] || { [ "$major" -eq 6 ] && [ "${minor%%[!0-9]*}" -ge 8 ]; }
}

# The lower layer dirs of the overlay at $1, top first, as mountinfo shows them.
kernel_lowers() {
  awk -v target="$1" '$5 == target { for (i = 1; i <= NF; i++) if ($i == "-") { print $(i + 3); exit } }' \
    /proc/self/mountinfo | tr ',' '\n' | sed -n 's/^lowerdir+\{0,1\}=//p' | tr ':' '\n'
}

check_stack() { # kind depth
  local kind=$1 depth=$2 expected=$2 lowers listed
  lowers=$(kernel_lowers "$work/target")
  [ "$(wc -l <<<"$lowers")" -eq "$depth" ] || { fail "$kind depth $depth: the kernel holds $(wc -l <<<"$lowers") lowers"; return; }
  while read -r dir; do
    listed=$(ls "$dir/layers")
    [ "$listed" = "$expected" ] || { fail "$kind depth $depth: lower $((depth - expected + 1)) holds layers/$listed, not layers/$expected"; return; }
    expected=$((expected - 1))
  done <<<"$lowers"
  [ "$(ls "$work/target/layers" | sort -n | tr '\n' ' ')" = "$(seq -s ' ' 1 "$depth") " ] ||
    fail "$kind depth $depth: the mounted tree does not show layers/1..$depth"
}

for kind in docker containerd containers-storage; do
  for depth in 125 128 500; do
    store=(--state-dir "$work/state" "${option[$kind]}" "$cache/$kind")
    status=0
    "$bin" "${store[@]}" mount "bench/depth-$depth" "$work/target" >"$work/out" 2>&1 || status=$?
    if [ "$depth" = 500 ] && ! kernel_has_lowerdir_plus; then
      [ "$status" = 5 ] && grep -q "^ovlmount: $work/target: " "$work/out" ||
        fail "$kind depth 500 on $(uname -r): want exit 5 with a mount error, got $status: $(cat "$work/out")"
      ! mountpoint -q "$work/target" || fail "$kind depth 500: a mount was left behind"
      [ -z "$("$bin" --state-dir "$work/state" list)" ] || fail "$kind depth 500: a record was left behind"
      continue
    fi
    [ "$status" = 0 ] || { fail "$kind depth $depth: mount exited $status: $(cat "$work/out")"; continue; }
    check_stack "$kind" "$depth"
    "$bin" --state-dir "$work/state" umount "$work/target" >/dev/null || fail "$kind depth $depth: umount failed"
    echo "deep.sh: $kind depth $depth: ok"
  done
done
[ "$failures" = 0 ] || { echo "deep.sh: $failures failure(s)" >&2; exit 1; }
echo "deep.sh: every stack mounted in the kernel's order"
