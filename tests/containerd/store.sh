#!/bin/bash
# Builds a private containerd root from the Docker test images, for ovlmount's containerd
# tests: `docker save` from the private test dockerd, then `ctr images import` (which unpacks
# into the overlayfs snapshotter) in two namespaces, `default` and `k8s.io`; and one
# multi-platform image (an OCI image index) in `default`.
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
# The multi-platform image is made by hand, offline, as an OCI layout tar (oci-layout,
# index.json, blobs/sha256/...): the test dockerd keeps one platform per image and its
# `docker save` writes no image index, and containerd must still be the one that imports and
# unpacks it. Its arm64 manifest comes first in the index, so that taking the first entry is
# not the same as taking the host's.
#
# DIR/root is the containerd root. Idempotent: DIR/ready holds this script's SHA-256 and the
# Docker image IDs it was built from; when they still match nothing is done. What it holds, in
# both namespaces:
#   images   docker.io/library/ovltest-{base:1,one:latest,multi:latest,deep:latest}
#   DIR/oracle/<ns>/<image file name>.mount   `ctr snapshots mounts` of a view of the image
# and in `default` only:
#   ovltest-cchanges   a container of ovltest-multi (`ctr containers create`) whose snapshot
#                      was mounted as containerd says and changed (file added, modified, removed)
#   DIR/oracle/default/ovltest-cchanges.mount   its `ctr snapshots mounts`
#   docker.io/library/ovltest-multiarch:1   an OCI image index of linux/arm64/v8 and linux/amd64,
#                      each two uncompressed layers: a common one (/etc/ovltest-multiarch) under
#                      its own (/platform holding "arm64" or "amd64"); imported with
#                      --all-platforms (which unpacks only the host's platform), then each
#                      platform unpacked by `ctr images mount --platform` (see unpack_platform)
#   DIR/oracle/default/ovltest-multiarch_1-linux_<arch>.{mount,config,chain}   per platform:
#                      `ctr snapshots mounts` of a view of its top chainID, its config digest,
#                      that chainID
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

# The chainID of the last of the given diff_ids (bottom first).
chain_id() {
    local top="" diff
    for diff in "$@"; do
        if [ -z "$top" ]; then top=$diff; else top=sha256:$(printf '%s %s' "$top" "$diff" | sha256sum | cut -d' ' -f1); fi
    done
    echo "$top"
}

# Moves FILE to BLOBS/<its SHA-256>; sets blob ("sha256:<hex>") and blob_size.
add_blob() {
    local file=$1 blobs=$2 hex
    hex=$(sha256sum "$file" | cut -d' ' -f1)
    mv "$file" "$blobs/$hex"
    blob=sha256:$hex
    blob_size=$(stat -c %s "$blobs/$hex")
}

# A reproducible uncompressed tar of the NAMES below SRC, added as a blob of BLOBS (add_blob).
add_layer() {
    local src=$1 blobs=$2
    shift 2
    tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C "$src" -cf "$blobs/.layer" "$@"
    add_blob "$blobs/.layer" "$blobs"
}

# Writes OUT, the OCI layout tar of docker.io/library/ovltest-multiarch:1 (see the top), built
# in WORK. Prints "<os>/<arch> <config digest> <top chainID>" for each platform.
write_multiarch_archive() {
    local out=$1 work=$2
    local blobs=$work/layout/blobs/sha256 blob blob_size common common_size top top_size config
    local platform os arch variant platform_json entry entries=""
    rm -rf "$work"
    mkdir -p "$blobs" "$work/common/etc"
    printf 'common\n' >"$work/common/etc/ovltest-multiarch"
    chmod 0755 "$work/common/etc"
    chmod 0644 "$work/common/etc/ovltest-multiarch"
    add_layer "$work/common" "$blobs" etc
    common=$blob common_size=$blob_size
    for platform in linux/arm64/v8 linux/amd64; do
        IFS=/ read -r os arch variant <<<"$platform"
        mkdir -p "$work/$arch"
        printf '%s\n' "$arch" >"$work/$arch/platform"
        chmod 0644 "$work/$arch/platform"
        add_layer "$work/$arch" "$blobs" platform
        top=$blob top_size=$blob_size
        printf -v platform_json '"architecture":"%s","os":"%s"%s' "$arch" "$os" "${variant:+,\"variant\":\"$variant\"}"
        printf '{%s,"created":"1970-01-01T00:00:00Z","config":{},"rootfs":{"type":"layers","diff_ids":["%s","%s"]}}' \
            "$platform_json" "$common" "$top" >"$blobs/.config"
        add_blob "$blobs/.config" "$blobs"
        config=$blob
        printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
            "$config" "$blob_size" "$common" "$common_size" "$top" "$top_size" >"$blobs/.manifest"
        add_blob "$blobs/.manifest" "$blobs"
        printf -v entry '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{%s}}' \
            "$blob" "$blob_size" "$platform_json"
        entries+=${entries:+,}$entry
        echo "$os/$arch $config $(chain_id "$common" "$top")"
    done
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$entries" >"$blobs/.index"
    add_blob "$blobs/.index" "$blobs"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$work/layout/oci-layout"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"%s","size":%s,"annotations":{"io.containerd.image.name":"docker.io/library/ovltest-multiarch:1","org.opencontainers.image.ref.name":"1"}}]}' \
        "$blob" "$blob_size" >"$work/layout/index.json"
    tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C "$work/layout" -cf "$out" oci-layout index.json blobs
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

# Inside a private mount namespace: unpack PLATFORM of REF (namespace default) as `ctr images
# mount --platform` does, then unmount and drop its view. Not `ctr images import --platform`:
# containerd 1.6 then labels the index with the matching manifests only, renumbered from
# gc.ref.content.m.0, which overwrites the label of another platform's manifest, and the
# garbage collector removes that platform's blobs and snapshots within seconds.
unpack_platform() {
    local sock=$1 ref=$2 platform=$3 mnt=$4
    mkdir -p "$mnt"
    mount --make-rprivate /
    ctr --address "$sock" -n default images mount --platform "$platform" "$ref" "$mnt" >/dev/null
    ctr --address "$sock" -n default images unmount --rm "$mnt" >/dev/null
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
    --unpack-platform)
        unpack_platform "$2" "$3" "$4" "$5"
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
key="store.sh $(sha256sum <"$self" | cut -d' ' -f1)"$'\n'
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
multiarch=$dir/save/multiarch
rm -rf "$multiarch"
mkdir -p "$multiarch"
write_multiarch_archive "$multiarch/ovltest-multiarch_1.tar" "$multiarch/build" >"$multiarch/platforms"
sock=$dir/run/containerd.sock
start_containerd "$dir/root" "$sock"
c() { ctr --address "$sock" "$@"; }

# `ctr images import ARGS...` into namespace NS, then REF must be there. Seen once in many
# runs: an import that returned without its name; it is imported once more.
import_named() {
    local ns=$1 ref=$2
    shift 2
    c -n "$ns" images import "$@" >/dev/null
    c -n "$ns" images ls -q | grep -qxF "$ref" && return 0
    c -n "$ns" images import "$@" >/dev/null
    c -n "$ns" images ls -q | grep -qxF "$ref" || die "$ref was not imported into namespace $ns"
}

# Saves containerd's own mount of a view of snapshot TOP in namespace NS to OUT. An unleased
# view can be garbage-collected at any moment: its mounts are taken right after creating it,
# and it is made again if it was collected in between.
record_mount() {
    local ns=$1 top=$2 out=$3
    local view
    view=ovltest-view-$(basename "$out" .mount)
    c -n "$ns" snapshots rm "$view" >/dev/null 2>&1 || true
    for _ in 1 2 3; do
        if c -n "$ns" snapshots view "$view" "$top" >/dev/null &&
            c -n "$ns" snapshots mounts /ovltest-target "$view" >"$out"; then
            break
        fi
        rm -f "$out"
        c -n "$ns" snapshots rm "$view" >/dev/null 2>&1 || true
    done
    [ -s "$out" ] || die "containerd's mount of $top in namespace $ns could not be recorded"
    c -n "$ns" snapshots rm "$view" >/dev/null 2>&1 || true
}

for ns in "${namespaces[@]}"; do
    mkdir -p "$dir/oracle/$ns"
    for image in "${images[@]}"; do
        name=$(echo "$image" | tr '/:' '__')
        import_named "$ns" "docker.io/library/$image" "$dir/save/$name.tar"
        # The top chainID, from Docker's diff_ids (the oracle for the chain is containerd's mount).
        diffs=$("$DOCKER" image inspect --format '{{range .RootFS.Layers}}{{.}} {{end}}' "$image")
        # shellcheck disable=SC2086
        top=$(chain_id $diffs)
        record_mount "$ns" "$top" "$dir/oracle/$ns/$name.mount"
        echo "$top" >"$dir/oracle/$ns/$name.chain"
    done
done
multiarch_ref=docker.io/library/ovltest-multiarch:1
import_named default "$multiarch_ref" --all-platforms "$multiarch/ovltest-multiarch_1.tar"
while read -r platform config top <&3; do
    unshare -m --propagation private bash "$self" --unpack-platform "$sock" "$multiarch_ref" "$platform" "$dir/run/mnt"
    name=ovltest-multiarch_1-$(echo "$platform" | tr '/' '_')
    record_mount default "$top" "$dir/oracle/default/$name.mount"
    echo "$config" >"$dir/oracle/default/$name.config"
    echo "$top" >"$dir/oracle/default/$name.chain"
done 3<"$multiarch/platforms"
c -n default containers rm ovltest-cchanges >/dev/null 2>&1 || true
c -n default snapshots rm ovltest-cchanges >/dev/null 2>&1 || true
c -n default containers create docker.io/library/ovltest-multi:latest ovltest-cchanges >/dev/null
c -n default snapshots mounts /ovltest-target ovltest-cchanges >"$dir/oracle/default/ovltest-cchanges.mount"
unshare -m --propagation private bash "$self" --change-container "$sock" ovltest-cchanges "$dir/run/mnt"
stop_containerd
trap - EXIT
printf '%s' "${key%$'\n'}" >"$dir/ready"
echo "store.sh: containerd root ready in $dir/root"
