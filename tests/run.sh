#!/bin/bash
# The test command: `bash tests/run.sh`, as root, from the repository root (Debian 12).
#
# 1. Installs the build and test dependencies that are missing (scripts/install-deps.sh).
# 2. Configures and builds into build/ (CMake + Ninja).
# 3. Uses the dockerd named by OVLMOUNT_TEST_DOCKER_HOST and OVLMOUNT_TEST_DATA_ROOT when both
#    are set; otherwise starts a private one (tests/docker/dockerd.sh, in a fresh /tmp dir,
#    stopped and removed on exit). Never the host's /var/lib/docker or /run/docker.sock.
# 4. Runs `ctest --test-dir build --output-on-failure` (extra arguments are passed to ctest,
#    e.g. `-L integration` or `-R resolve`) and exits with its status.
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
cmake -S "$repo" -B "$repo/build" -G Ninja
cmake --build "$repo/build"

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
set -e
log "ctest exited $rc after $((SECONDS - start))s"
exit $rc
