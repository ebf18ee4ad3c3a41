#!/bin/bash
# Builds a private containers-storage graph root (podman, overlay driver) from the Docker test
# images, for ovlmount's podman tests: `docker save` from a private dockerd, then `podman load`.
#
# Why like this: podman 4.3 run as root writes below /var/lib/containers even with --root
# (DESIGN.md 7.4), takes locks in /dev/shm and keeps state in /run. So podman only ever runs
# inside `unshare -m` with tmpfs mounts over /var/lib, /dev/shm and its run and tmp dirs, and
# with --root/--runroot/--tmpdir of its own: the host's /var/lib/containers is never touched.
# `podman pull docker-daemon:` ignores DOCKER_HOST, hence save + load.
#
#   store.sh DIR                 with DOCKER_HOST=unix://.../sock of a private dockerd
#   store.sh --test-env          the CTest fixture: DOCKER_HOST=$OVLMOUNT_TEST_DOCKER_HOST and
#                                DIR=${OVLMOUNT_TEST_PODMAN_DIR:-$(dirname $OVLMOUNT_TEST_DATA_ROOT)/podman}
#   store.sh --private-namespace DIR
#                                in the current mount namespace (which must not be the
#                                initial one) mounts what podman needs to stay private; the
#                                integration tests call it once, then run `podman $(cat DIR/flags)`
#
# DIR/root is the graph root. Idempotent: DIR/ready holds the Docker image IDs it was built
# from and this script's SHA-256; when they still match nothing is done. What it holds:
#   images   localhost/ovltest-{base:1,one:latest,multi:latest,deep:latest} (`podman load`
#            names a docker-archive tag without a domain localhost/) and
#            registry.local:5000/team/app:v1 (the same image as ovltest-multi)
#   ovltest-pchanges   a container of ovltest-multi whose files were changed through
#                      `podman mount` (added, modified, deleted, renamed files and dirs, a
#                      dir recreated (opaque), a mode change, a symlink, a FIFO)
#   ovltest-pone       a container of ovltest-one, one file added
#   ovltest-pvols      a container of ovltest-one that ran (state exited), with the named
#                      volume ovltest-pvol at /vol (files written from the host through its
#                      mount point, and by the container) and DIR/bind-src bound at /host:ro
#   volumes            ovltest-pvol, in podman's default place: root/volumes/ovltest-pvol/_data
set -euo pipefail

DOCKER=${DOCKER:-docker}
PODMAN=${PODMAN:-podman}
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
images=(ovltest-base:1 ovltest-one:latest ovltest-multi:latest ovltest-deep:latest registry.local:5000/team/app:v1)

die() {
    echo "store.sh: $*" >&2
    exit 1
}

# The podman options that keep everything it writes below DIR (the volatile parts on a tmpfs
# of the current namespace).
podman_flags() {
    local dir=$1
    echo "--root $dir/root --runroot $dir/volatile/run --tmpdir $dir/volatile/tmp --storage-driver overlay" \
        "--events-backend none --cgroup-manager cgroupfs --network-config-dir $dir/volatile/net"
}

# Makes the current (private) mount namespace safe for podman: /var/lib with an empty
# containers/ (the other entries bound back), /dev/shm and DIR/volatile as fresh tmpfs.
private_namespace() {
    local dir=$1
    [ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] ||
        die "refusing to set up podman in the initial mount namespace (run inside unshare -m)"
    if [ -e "$dir/volatile/.private" ] && mountpoint -q "$dir/volatile"; then return 0; fi
    mkdir -p "$dir/volatile" "$dir/orig-var-lib"
    mount --make-rprivate /
    mount --bind /var/lib "$dir/orig-var-lib"
    mount -t tmpfs -o mode=0755 ovlmount-var-lib /var/lib
    local entry name
    for entry in "$dir"/orig-var-lib/* "$dir"/orig-var-lib/.[!.]*; do
        [ -e "$entry" ] || [ -L "$entry" ] || continue
        name=$(basename "$entry")
        [ "$name" = containers ] && continue
        if [ -L "$entry" ]; then
            cp -P "$entry" "/var/lib/$name"
        elif [ -d "$entry" ]; then
            mkdir "/var/lib/$name" && mount --bind "$entry" "/var/lib/$name"
        else
            : >"/var/lib/$name" && mount --bind "$entry" "/var/lib/$name"
        fi
    done
    mkdir -m 0700 /var/lib/containers
    mount -t tmpfs -o mode=1777 ovlmount-shm /dev/shm
    mount -t tmpfs -o mode=0700 ovlmount-podman "$dir/volatile"
    mkdir -p "$dir/volatile/run" "$dir/volatile/tmp" "$dir/volatile/net"
    : >"$dir/volatile/.private"
}

# Inside the private namespace: load the saved images and make the containers.
build_inside() {
    local dir=$1
    private_namespace "$dir"
    # podman run takes DOCKER_CONFIG (set below for docker) as its auth file and wants it to exist.
    unset DOCKER_CONFIG
    local -a p
    read -r -a p <<<"$(podman_flags "$dir")"
    pm() { "$PODMAN" "${p[@]}" "$@"; }
    local tar
    for tar in "$dir"/save/*.tar; do
        pm load -q -i "$tar" >/dev/null
    done
    local name
    for name in ovltest-pchanges ovltest-pone ovltest-pvols; do
        pm container exists "$name" && pm rm -f "$name" >/dev/null
    done
    pm volume exists ovltest-pvol && pm volume rm -f ovltest-pvol >/dev/null
    pm create -q --pull never --network none --name ovltest-pchanges localhost/ovltest-multi:latest /bin/true >/dev/null
    local m
    m=$(pm mount ovltest-pchanges)
    echo added >"$m/added-file"
    mkdir -p "$m/added-dir/sub" && echo x >"$m/added-dir/sub/x"
    echo modified >>"$m/etc/ovltest-release"
    echo appended >>"$m/data/file-then-dir/x"
    chmod 0600 "$m/data/keep-link"
    rm "$m/data/hl-b"
    rm -rf "$m/data/sub dir"
    mv "$m/data/more" "$m/data/more-renamed"
    mv "$m/etc/passwd" "$m/etc/passwd.renamed"
    rm -rf "$m/d" && mkdir "$m/d" && echo again >"$m/d/again"
    echo new >"$m/perm/sticky/new-in-sticky"
    mkfifo "$m/new-fifo"
    ln -s /etc/group "$m/new-link"
    pm umount ovltest-pchanges >/dev/null
    pm create -q --pull never --network none --name ovltest-pone localhost/ovltest-one:latest /bin/true >/dev/null
    m=$(pm mount ovltest-pone)
    echo one >"$m/one-added"
    pm umount ovltest-pone >/dev/null
    pm volume create ovltest-pvol >/dev/null
    local volume
    volume=$(pm volume inspect --format '{{.Mountpoint}}' ovltest-pvol)
    [ "$volume" = "$dir/root/volumes/ovltest-pvol/_data" ] || die "ovltest-pvol is at $volume, not below the graph root"
    mkdir -p "$volume/sub"
    echo from-host >"$volume/sub/file"
    ln -s /etc/passwd "$volume/link"
    rm -rf "$dir/bind-src" && mkdir "$dir/bind-src" && echo bound >"$dir/bind-src/bound-file"
    # The default RLIMIT_NOFILE (1048576) is above what the test machines allow a container.
    pm run -q --pull never --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --name ovltest-pvols \
        -v ovltest-pvol:/vol -v "$dir/bind-src:/host:ro" localhost/ovltest-one:latest \
        /bin/sh -c 'echo written-inside >/vol/inside && cat /host/bound-file >/vol/copied-from-host' >/dev/null
    pm wait ovltest-pvols >/dev/null
    [ "$(pm inspect --format '{{.State.Status}}' ovltest-pvols)" = exited ] || die "ovltest-pvols did not exit"
    [ "$(cat "$volume/inside")" = written-inside ] || die "ovltest-pvols did not write into its volume"
}

case "${1:-}" in
    --private-namespace)
        [ $# = 2 ] || die "usage: $0 --private-namespace DIR"
        private_namespace "$2"
        podman_flags "$2" >"$2/flags"
        exit 0
        ;;
    --inside)
        build_inside "$2"
        exit 0
        ;;
    --test-env)
        [ -n "${OVLMOUNT_TEST_DOCKER_HOST:-}" ] && [ -n "${OVLMOUNT_TEST_DATA_ROOT:-}" ] ||
            die "OVLMOUNT_TEST_DOCKER_HOST and OVLMOUNT_TEST_DATA_ROOT must be set (bash tests/run.sh sets them)"
        DOCKER_HOST=$OVLMOUNT_TEST_DOCKER_HOST
        dir=${OVLMOUNT_TEST_PODMAN_DIR:-$(dirname "$OVLMOUNT_TEST_DATA_ROOT")/podman}
        ;;
    "" | -*) die "usage: DOCKER_HOST=unix://DIR/sock $0 DIR   (or: $0 --test-env)" ;;
    *) dir=$1 ;;
esac
[ -n "${DOCKER_HOST:-}" ] || die "DOCKER_HOST is not set (expected unix://DIR/sock of a private dockerd)"
case "$DOCKER_HOST" in
    unix:///run/docker.sock | unix:///var/run/docker.sock) die "refusing to use the host's docker daemon ($DOCKER_HOST)" ;;
esac
export DOCKER_HOST
command -v "$PODMAN" >/dev/null || die "podman is not installed (scripts/install-deps.sh installs it)"
[ "$(id -u)" = 0 ] || die "must run as root"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)
export DOCKER_CONFIG=${DOCKER_CONFIG:-$dir/client}
key="store.sh $(sha256sum "$self" | cut -d' ' -f1)"$'\n'
for image in "${images[@]}"; do
    key+="$image $("$DOCKER" image inspect --format '{{.Id}}' "$image")"$'\n'
done
if [ -f "$dir/ready" ] && [ "$(cat "$dir/ready")" = "${key%$'\n'}" ]; then
    echo "store.sh: graph root ready in $dir/root"
    exit 0
fi
rm -f "$dir/ready"
var_lib_containers_before=$(ls -la --time-style=full-iso /var/lib/containers 2>&1 || true)
mkdir -p "$dir/save"
for image in "${images[@]}"; do
    tar=$dir/save/$(echo "$image" | tr '/:' '__').tar
    [ -s "$tar" ] || "$DOCKER" save -o "$tar" "$image"
done
unshare -m --propagation private bash "$self" --inside "$dir"
[ "$(ls -la --time-style=full-iso /var/lib/containers 2>&1 || true)" = "$var_lib_containers_before" ] ||
    die "the host's /var/lib/containers changed while podman ran"
podman_flags "$dir" >"$dir/flags"
printf '%s' "${key%$'\n'}" >"$dir/ready"
echo "store.sh: graph root ready in $dir/root"
