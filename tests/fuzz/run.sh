#!/usr/bin/env bash
# Runs the libFuzzer targets for a long time, one after the other (docs/fuzzing.md).
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]   (default 1800 s each, every target)
# Builds build-fuzz (clang, sanitizers, -DOVLMOUNT_FUZZ=ON) when needed, at -j1. Each target runs
# niced over its grown corpus build-fuzz/fuzz-corpus/<target> plus the seeds of
# tests/fuzz/corpus/<target> (read only); crashes go to build-fuzz/fuzz-artifacts/<target>/ and the
# log to build-fuzz/fuzz-logs/<target>.log. Prints per target the executions, the corpus size and
# any crash file; exits 1 when any target found something.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build=$source_dir/build-fuzz
seconds=${1:-1800}
shift || true
all_targets=(reference platform image_config repositories_json container_config containers_storage_json bolt
             libpod_state tar_split toml_config registry_record)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$source_dir" -B "$build" -G Ninja -DOVLMOUNT_SANITIZE=ON -DOVLMOUNT_FUZZ=ON || exit 1
fi
cmake --build "$build" -j1 --target "${targets[@]/#/fuzz_}" || exit 1

found=0
printf '%-24s %-8s %14s %8s  %s\n' target result executions corpus crashes
for target in "${targets[@]}"; do
  corpus=$build/fuzz-corpus/$target
  artifacts=$build/fuzz-artifacts/$target
  log=$build/fuzz-logs/$target.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  nice -n 10 "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$here/corpus/$target" >"$log" 2>&1
  status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  crashes=$(grep -o "Test unit written to .*" "$log" | sed 's/Test unit written to //' | tr '\n' ' ')
  result=ok
  if [ $status -ne 0 ]; then result=FOUND; found=1; fi
  printf '%-24s %-8s %14s %8s  %s\n' "$target" "$result" "${executions:-?}" "$(ls "$corpus" | wc -l)" "${crashes:--}"
done
exit $found
