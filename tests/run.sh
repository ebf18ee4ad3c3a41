#!/bin/bash
# The test command: `bash tests/run.sh`, as root, from the repository root (Debian 12).
#
# 1. Installs the build and test dependencies that are missing (scripts/install-deps.sh).
# 2. Configures and builds into build/ (CMake + Ninja), and with clang, ASan, UBSan and the
#    libFuzzer targets into build-sanitize/. Compiles go through ccache, whose cache is kept in
#    /var/cache/ovlmount-test/ccache (keyed by content, so a stale entry is never used).
# 3. Uses the dockerd named by OVLMOUNT_TEST_DOCKER_HOST and OVLMOUNT_TEST_DATA_ROOT when both
#    are set; otherwise starts a private one (tests/docker/dockerd.sh, in a fresh /tmp dir,
#    stopped and removed on exit). Never the host's /var/lib/docker or /run/docker.sock.
# 4. Runs `ctest --test-dir build --output-on-failure`, then the unit, integration, corpus and
#    (short) fuzz tests again in build-sanitize/ (extra arguments are passed to both ctest runs,
#    e.g. `-L integration` or `-R resolve`), and exits non-zero if either failed.
#
# Environment: CTEST_PARALLEL_LEVEL is honoured by ctest itself (default: one test at a time).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd -P)

log() { echo "tests/run.sh: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
    log "must run as root (the tests mount overlays and run a private dockerd)"
    exit 1
fi

# ---- dependencies ------------------------------------------------------------------------
bash "$repo/scripts/install-deps.sh"

# ---- build -------------------------------------------------------------------------------
export CCACHE_DIR=${CCACHE_DIR:-/var/cache/ovlmount-test/ccache} CCACHE_BASEDIR=$repo CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-3G}
launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S "$repo" -B "$repo/build" -G Ninja "${launcher[@]}"
cmake --build "$repo/build"
CC=clang CXX=clang++ cmake -S "$repo" -B "$repo/build-sanitize" -G Ninja -DOVLMOUNT_FUZZ=ON "${launcher[@]}"
cmake --build "$repo/build-sanitize"

# ---- docker ------------------------------------------------------------------------------
own_dir=
stop_own_daemon() {
    local rc=$?
    if [ -n "$own_dir" ]; then
        "$repo/tests/docker/dockerd.sh" stop "$own_dir" || rc=1
        if findmnt -rn -o TARGET | grep -F -- "$own_dir" >/dev/null; then
            log "mounts left below $own_dir; not removing it"
            rc=1
        else
            rm -rf --one-file-system "$own_dir"
        fi
    fi
    exit $rc
}

if [ -n "${OVLMOUNT_TEST_DOCKER_HOST:-}" ] && [ -n "${OVLMOUNT_TEST_DATA_ROOT:-}" ]; then
    log "using the dockerd at $OVLMOUNT_TEST_DOCKER_HOST (data root $OVLMOUNT_TEST_DATA_ROOT)"
else
    # A short path: the daemon's unix sockets live below it.
    own_dir=$(mktemp -d /tmp/ovd.XXXXXX)
    trap stop_own_daemon EXIT
    trap 'exit 130' INT TERM
    "$repo/tests/docker/dockerd.sh" start "$own_dir"
    export OVLMOUNT_TEST_DOCKER_HOST="unix://$own_dir/sock"
    export OVLMOUNT_TEST_DATA_ROOT="$own_dir/root"
fi
export OVLMOUNT_TEST_DOCKER_HOST OVLMOUNT_TEST_DATA_ROOT

# ---- tests -------------------------------------------------------------------------------
start=$SECONDS
set +e
ctest --test-dir "$repo/build" --output-on-failure "$@"
rc=$?
log "ctest exited $rc after $((SECONDS - start))s"

# The same tests against the sanitizer build (not the VM or packaging ones: those test the
# release binary), where any ASan, LSan or UBSan report fails the process that made it.
start=$SECONDS
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS=suppressions=$repo/tests/sanitizers/lsan.supp:print_suppressions=0 \
    ctest --test-dir "$repo/build-sanitize" --output-on-failure -E '^(vm_|packaging_|bench\.)' "$@"
sanitize_rc=$?
set -e
log "sanitizer ctest exited $sanitize_rc after $((SECONDS - start))s"
[ $rc -eq 0 ] && [ $sanitize_rc -eq 0 ]
