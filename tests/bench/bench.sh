#!/usr/bin/env bash
# Prints how long ovlmount's commands take and how much memory they use, on a real data root.
#   tests/bench/bench.sh OVLMOUNT_BIN DATA_ROOT IMAGE [RUNS]
# Runs as root inside a private mount namespace; uses a temporary state dir and target.
set -euo pipefail
bin=$1 root=$2 image=$3 runs=${4:-50}
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/target"

measure() { # name command...: mean wall time over $runs runs, and peak RSS of one run
  local name=$1; shift
  local start end
  start=$(date +%s%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null; done
  end=$(date +%s%N)
  local rss
  rss=$( { /usr/bin/time -f '%M' "$@" >/dev/null; } 2>&1 | tail -n 1)
  printf '%-28s %8.2f ms   %6s KiB max RSS\n' "$name" "$(echo "($end - $start) / $runs / 1000000" | bc -l)" "$rss"
}

layers=$("$bin" --data-root "$root" resolve --json "$image" | grep -o '"diff_id"' | wc -l)
echo "ovlmount benchmark: $image ($layers layers), $runs runs each"
measure "--version" "$bin" --version
measure "resolve --json" "$bin" --data-root "$root" resolve --json "$image"
export -f measure
unshare -m --propagation private bash -c '
  set -euo pipefail
  bin=$1 root=$2 image=$3 runs=$4 work=$5
  state=$work/state target=$work/target
  start=$(date +%s%N)
  for _ in $(seq "$runs"); do
    "$bin" --data-root "$root" --state-dir "$state" mount "$image" "$target" >/dev/null
    "$bin" --state-dir "$state" umount "$target" >/dev/null
  done
  end=$(date +%s%N)
  printf "%-28s %8.2f ms\n" "mount + umount" "$(echo "($end - $start) / $runs / 1000000" | bc -l)"
  "$bin" --data-root "$root" --state-dir "$state" mount "$image" "$target" >/dev/null
  rss=$( { /usr/bin/time -f "%M" "$bin" --state-dir "$state" list >/dev/null; } 2>&1 | tail -n 1)
  printf "%-28s %8s      %6s KiB max RSS\n" "list (1 mount)" "" "$rss"
  "$bin" --state-dir "$state" umount "$target" >/dev/null
' bench "$bin" "$root" "$image" "$runs" "$work"
