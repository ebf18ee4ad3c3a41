#!/bin/bash
# Builds a private containerd root from the Docker test images, for ovlmount's containerd
# tests: `docker save` from the private test dockerd, then `ctr images import` (which unpacks
# into the overlayfs snapshotter) in two namespaces, `default` and `k8s.io`.
#
# Why like this: containerd is the oracle, so the store must be one containerd itself wrote,
# and it must never be the host's. containerd runs with its own --config (root, state, every
# socket and the opt dir below DIR; CRI off), inside `unshare -m` so the mounts it makes while
# unpacking stay private, and is stopped by its PID. The oracle for layer order is
# containerd's own mount of each image (`ctr snapshots view` + `ctr snapshots mounts`), saved
# as text because the tests read the store offline, with containerd stopped.
#
#   store.sh DIR                 with DOCKER_HOST=unix://.../sock of a private dockerd
#   store.sh --test-env          the CTest fixture: DOCKER_HOST=$OVLMOUNT_TEST_DOCKER_HOST and
#                                DIR=${OVLMOUNT_TEST_CONTAINERD_DIR:-$(dirname $OVLMOUNT_TEST_DATA_ROOT)/containerd}
#   store.sh --serve ROOT SOCK   starts containerd (private config next to SOCK) on the root
#                                ROOT and prints its PID once it answers; the caller stops it
#                                by that PID (the tests use it on copies, to read under its lock)
#
# DIR/root is the containerd root. Idempotent: DIR/ready holds the Docker image IDs it was
# built from; when they still match nothing is done. What it holds, in both namespaces:
#   images   docker.io/library/ovltest-{base:1,one:latest,multi:latest,deep:latest}
#   DIR/oracle/<ns>/<image file name>.mount   `ctr snapshots mounts` of a view of the image
# and in `default` only:
#   ovltest-cchanges   a container of ovltest-multi (`ctr containers create`) whose snapshot
#                      was mounted as containerd says and changed (file added, modified, removed)
#   DIR/oracle/default/ovltest-cchanges.mount   its `ctr snapshots mounts`
set -euo pipefail

DOCKER=${DOCKER:-docker}
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
images=(ovltest-base:1 ovltest-one:latest ovltest-multi:latest ovltest-deep:latest)
namespaces=(default k8s.io)

die() {
    echo "store.sh: $*" >&2
    exit 1
}

# containerd's default config with root, state, sockets and opt dir moved to the given
# places, CRI off; refuses a config that still names a system path.
write_config() {
    local root=$1 state=$2 sock=$3 opt=$4 out=$5
    containerd config default | awk -v root="$root" -v state="$state" -v sock="$sock" -v opt="$opt" '
      /^\[/ || /^  \[/ { section = $0; gsub(/^ +/, "", section) }
      /^root = / { print "root = \"" root "\""; next }
      /^state = / { print "state = \"" state "\""; next }
      /^disabled_plugins = / { print "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]"; next }
      section == "[grpc]" && /^  address = / { print "  address = \"" sock "\""; next }
      section == "[ttrpc]" && /^  address = / { print "  address = \"" sock ".ttrpc\""; next }
      section == "[debug]" && /^  address = / { print "  address = \"" sock ".debug\""; next }
      section == "[plugins.\"io.containerd.internal.v1.opt\"]" && /^    path = / { print "    path = \"" opt "\""; next }
      { print }' >"$out"
    if grep -nE '"(/var/lib/containerd|/run/containerd|/opt/containerd)' "$out"; then
        die "config $out still points at a system path"
    fi
}

containerd_pid=

# Starts containerd on ROOT with its state, sockets and config beside SOCK; sets containerd_pid.
start_containerd() {
    local root=$1 sock=$2
    local base
    base=$(dirname "$sock")
    mkdir -p "$base/state" "$base/opt" "$base/tmpdir"
    write_config "$root" "$base/state" "$sock" "$base/opt" "$base/config.toml"
    TMPDIR=$base/tmpdir unshare -m --propagation private \
        containerd --config "$base/config.toml" --log-level warn >>"$base/containerd.log" 2>&1 &
    containerd_pid=$!
    local tries
    for tries in $(seq 150); do
        if ctr --address "$sock" version >/dev/null 2>&1; then return 0; fi
        kill -0 "$containerd_pid" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$base/containerd.log" >&2 || true
    die "containerd did not start on $root"
}

stop_containerd() {
    if [ -n "$containerd_pid" ] && kill -0 "$containerd_pid" 2>/dev/null; then
        kill "$containerd_pid"
        wait "$containerd_pid" 2>/dev/null || true
    fi
    containerd_pid=
}

# Inside a private mount namespace: make the container's changes through containerd's own mount.
change_container() {
    local sock=$1 name=$2 mnt=$3
    mkdir -p "$mnt"
    mount --make-rprivate /
    local cmd
    cmd=$(ctr --address "$sock" -n default snapshots mounts "$mnt" "$name")
    eval "$cmd"
    echo added >"$mnt/added-file"
    echo modified >>"$mnt/etc/ovltest-release"
    rm -f "$mnt/etc/group"
    umount "$mnt"
}

case "${1:-}" in
    --serve)
        [ $# = 3 ] || die "usage: $0 --serve ROOT SOCK"
        start_containerd "$2" "$3"
        echo "$containerd_pid"
        exit 0
        ;;
    --change-container)
        change_container "$2" "$3" "$4"
        exit 0
        ;;
    --test-env)
        [ -n "${OVLMOUNT_TEST_DOCKER_HOST:-}" ] && [ -n "${OVLMOUNT_TEST_DATA_ROOT:-}" ] ||
            die "OVLMOUNT_TEST_DOCKER_HOST and OVLMOUNT_TEST_DATA_ROOT must be set (bash tests/run.sh sets them)"
        DOCKER_HOST=$OVLMOUNT_TEST_DOCKER_HOST
        dir=${OVLMOUNT_TEST_CONTAINERD_DIR:-$(dirname "$OVLMOUNT_TEST_DATA_ROOT")/containerd}
        ;;
    "" | -*) die "usage: DOCKER_HOST=unix://DIR/sock $0 DIR   (or: $0 --test-env)" ;;
    *) dir=$1 ;;
esac
[ -n "${DOCKER_HOST:-}" ] || die "DOCKER_HOST is not set (expected unix://DIR/sock of a private dockerd)"
case "$DOCKER_HOST" in
    unix:///run/docker.sock | unix:///var/run/docker.sock) die "refusing to use the host's docker daemon ($DOCKER_HOST)" ;;
esac
export DOCKER_HOST
command -v containerd >/dev/null && command -v ctr >/dev/null ||
    die "containerd is not installed (scripts/install-deps.sh installs it)"
[ "$(id -u)" = 0 ] || die "must run as root"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)
case "$dir" in
    /var/lib/containerd* | /run/containerd*) die "refusing to build in a system containerd directory ($dir)" ;;
esac
if [ -n "${OVLMOUNT_TEST_DATA_ROOT:-}" ]; then
    case "$dir/" in "$(cd "$OVLMOUNT_TEST_DATA_ROOT" && pwd -P)/"*) die "refusing to build below the Docker data root" ;; esac
fi
export DOCKER_CONFIG=${DOCKER_CONFIG:-$dir/client}
key=""
for image in "${images[@]}"; do
    key+="$image $("$DOCKER" image inspect --format '{{.Id}}' "$image")"$'\n'
done
if [ -f "$dir/ready" ] && [ "$(cat "$dir/ready")" = "${key%$'\n'}" ]; then
    echo "store.sh: containerd root ready in $dir/root"
    exit 0
fi
rm -f "$dir/ready"
trap stop_containerd EXIT
rm -rf "$dir/root" "$dir/run" "$dir/oracle"
mkdir -p "$dir/save" "$dir/run" "$dir/oracle"
for image in "${images[@]}"; do
    tar=$dir/save/$(echo "$image" | tr '/:' '__').tar
    rm -f "$tar"
    "$DOCKER" save -o "$tar" "$image"
done
sock=$dir/run/containerd.sock
start_containerd "$dir/root" "$sock"
c() { ctr --address "$sock" "$@"; }
for ns in "${namespaces[@]}"; do
    mkdir -p "$dir/oracle/$ns"
    for tar in "$dir"/save/*.tar; do
        c -n "$ns" images import "$tar" >/dev/null
    done
    for image in "${images[@]}"; do
        ref=docker.io/library/$image
        if ! c -n "$ns" images ls -q | grep -qxF "$ref"; then
            # Seen once in many runs: an import that returned without its name. Import again.
            c -n "$ns" images import "$dir/save/$(echo "$image" | tr '/:' '__').tar" >/dev/null
            c -n "$ns" images ls -q | grep -qxF "$ref" || die "$ref was not imported into namespace $ns"
        fi
        name=$(echo "$image" | tr '/:' '__')
        view=ovltest-view-$name
        c -n "$ns" snapshots rm "$view" >/dev/null 2>&1 || true
        # The top chainID, from Docker's diff_ids (the oracle for the chain is containerd's mount).
        diff_chain=$("$DOCKER" image inspect --format '{{range .RootFS.Layers}}{{.}} {{end}}' "$image")
        top=""
        for diff in $diff_chain; do
            if [ -z "$top" ]; then top=$diff; else top=sha256:$(printf '%s %s' "$top" "$diff" | sha256sum | cut -d' ' -f1); fi
        done
        # An unleased view can be garbage-collected at any moment: take its mounts right after
        # creating it, and try again if it was collected in between.
        for _ in 1 2 3; do
            if c -n "$ns" snapshots view "$view" "$top" >/dev/null &&
                c -n "$ns" snapshots mounts /ovltest-target "$view" >"$dir/oracle/$ns/$name.mount"; then
                break
            fi
            rm -f "$dir/oracle/$ns/$name.mount"
            c -n "$ns" snapshots rm "$view" >/dev/null 2>&1 || true
        done
        [ -s "$dir/oracle/$ns/$name.mount" ] || die "containerd's mount of $ref could not be recorded"
        c -n "$ns" snapshots rm "$view" >/dev/null 2>&1 || true
        echo "$top" >"$dir/oracle/$ns/$name.chain"
    done
done
c -n default containers rm ovltest-cchanges >/dev/null 2>&1 || true
c -n default snapshots rm ovltest-cchanges >/dev/null 2>&1 || true
c -n default containers create docker.io/library/ovltest-multi:latest ovltest-cchanges >/dev/null
c -n default snapshots mounts /ovltest-target ovltest-cchanges >"$dir/oracle/default/ovltest-cchanges.mount"
unshare -m --propagation private bash "$self" --change-container "$sock" ovltest-cchanges "$dir/run/mnt"
stop_containerd
trap - EXIT
printf '%s' "${key%$'\n'}" >"$dir/ready"
echo "store.sh: containerd root ready in $dir/root"
