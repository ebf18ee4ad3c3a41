#!/usr/bin/env bash
# ovlmount's benchmark suite, one command (docs/performance.md):
#
#   bash bench/run.sh [--tiny] [--out DIR] [--ovlmount BIN --floor BIN --spawn BIN] [-- BENCH.PY OPTIONS]
#
# As root. Builds a release ovlmount without the test hooks (build-bench/) unless --ovlmount, --floor
# and --spawn are given, generates the synthetic stores (bench/gen_store.py) once into
# /var/cache/ovlmount-bench keyed by the generator's hash, and runs bench/bench.py over them:
# a table on stdout, the figures as JSON in DIR/bench.json (default build-bench/). The full run
# needs about 10 GB of disk for the stores (generated once, about 10 minutes) and then about 5
# minutes; --tiny (what CI runs, so the suite keeps working) uses small stores and few runs.
# With OVLMOUNT_TEST_DOCKER_HOST and OVLMOUNT_TEST_DATA_ROOT (a private dockerd, as tests/run.sh
# starts one) it also times `run` against `docker run` with the image ovltest-base:1.
# Nothing here fails on a timing: only a benchmark that cannot run at all is an error.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tiny=0 out="" ovlmount="" floor="" spawn=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tiny) tiny=1 ;;
    --out) out=$2; shift ;;
    --ovlmount) ovlmount=$2; shift ;;
    --floor) floor=$2; shift ;;
    --spawn) spawn=$2; shift ;;
    --) shift; break ;;
    *) echo "bench/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh: run as root (it mounts)" >&2; exit 1; }

if [ -z "$ovlmount" ]; then
  export CCACHE_DIR=${CCACHE_DIR:-/var/cache/ovlmount-test/ccache} CCACHE_BASEDIR=$repo CCACHE_NOHASHDIR=1
  cmake -S "$repo" -B "$repo/build-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOVLMOUNT_BUILD_TESTS=OFF \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
  cmake --build "$repo/build-bench" --target ovlmount ovlmount-floor ovlmount-bench-spawn
  ovlmount=$repo/build-bench/ovlmount floor=$repo/build-bench/ovlmount-floor spawn=$repo/build-bench/ovlmount-bench-spawn
fi
out=${out:-$repo/build-bench}
mkdir -p "$out"

generator=$repo/bench/gen_store.py
cache=/var/cache/ovlmount-bench/$(sha256sum "$generator" | cut -c1-12)
if [ "$tiny" = 1 ]; then
  stores=$cache/tiny depths=1,10,128,500 bulk_mib=8 runs=3 tracked=1,10
  sizes=(docker:30 containerd:30 containers-storage:30)
else
  stores=$cache/full depths=1,10,100,125,128,500 bulk_mib=256 runs=20 tracked=1,100,1000
  sizes=(docker:1000 docker:10000 docker:100000 containerd:1000 containerd:10000
         containers-storage:1000 containers-storage:10000)
fi
mkdir -p "$stores"
smallest_docker=${sizes[0]#docker:}
for size in "${sizes[@]}"; do
  kind=${size%%:*} images=${size#*:}
  dir=$stores/$kind-$images
  [ -d "$dir" ] && continue
  extra=()
  [ "$kind:$images" = "docker:$smallest_docker" ] && extra=(--bulk-mib "$bulk_mib")
  echo "bench/run.sh: generating $dir (once)" >&2
  rm -rf "$dir.tmp"
  python3 "$generator" "$kind" "$dir.tmp" --images "$images" --depths "$depths" "${extra[@]}"
  mv "$dir.tmp" "$dir"
done

run_options=()
if [ -n "${OVLMOUNT_TEST_DOCKER_HOST:-}" ] && [ -n "${OVLMOUNT_TEST_DATA_ROOT:-}" ]; then
  run_options=(--docker-host "$OVLMOUNT_TEST_DOCKER_HOST" --docker-root "$OVLMOUNT_TEST_DATA_ROOT"
               --run-image ovltest-base:1)
fi
python3 "$repo/bench/bench.py" --ovlmount "$ovlmount" --floor "$floor" --spawn "$spawn" --stores "$stores" --runs "$runs" \
  --tracked "$tracked" --json "$out/bench.json" "${run_options[@]}" "$@"
