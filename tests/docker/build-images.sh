#!/bin/bash
# Build the images the ovlmount integration tests use, offline, in the daemon at $DOCKER_HOST
# (a private dockerd started by tests/docker/dockerd.sh: DOCKER_HOST=unix://DIR/sock).
# Idempotent: images that exist are not rebuilt.
#
#   ovltest-base:1, ovltest-one:latest   one layer: a busybox-static rootfs (docker import)
#   ovltest-multi:latest (+ :v2, localhost:5000/team/app:v1, registry.local:5000/team/app:v1,
#                         docker.io/someuser/app:latest)
#                                         COPY/RUN layers: whiteouts, an opaque dir, hard links,
#                                         symlinks, odd names, setuid/0600/empty files, uid 1234,
#                                         an empty (metadata-only) step, the same diff ID twice
#   ovltest-deep:latest                   100 layers
#   ovltest-multi@sha256:<OVLTEST_DIGEST>  a digest reference, written into repositories.json
#                                         while the daemon is stopped (Docker cannot create one
#                                         offline), then checked with `docker image inspect`
#
# and these containers (stopped):
#   ovltest-changes   of ovltest-multi: adds, modifies, deletes and renames files and dirs,
#                     recreates a dir (opaque), adds a FIFO and a symlink, changes modes
#   ovltest-vols      of ovltest-base: named volume ovltest-vol at /vol, an anonymous volume
#                     at /anon, a read-only bind of DIR/bind-src at /hostbind
#   ovltest-created   of ovltest-multi: created, never started
set -euo pipefail

DOCKER=${DOCKER:-/usr/bin/docker}
BUSYBOX=${BUSYBOX:-/bin/busybox}
here=$(cd "$(dirname "$0")" && pwd)

# The fixed fake manifest digest of the digest reference (sha256 of "ovlmount test manifest").
OVLTEST_DIGEST=sha256:$(printf 'ovlmount test manifest' | sha256sum | cut -d' ' -f1)

die() {
    echo "build-images.sh: $*" >&2
    exit 1
}

# --test-env: the CTest fixture; the daemon is $OVLMOUNT_TEST_DOCKER_HOST.
if [ "${1:-}" = --test-env ]; then
    [ -n "${OVLMOUNT_TEST_DOCKER_HOST:-}" ] ||
        die "OVLMOUNT_TEST_DOCKER_HOST is not set: run 'bash tests/run.sh' (it starts a private dockerd), or start one with tests/docker/dockerd.sh start DIR and export OVLMOUNT_TEST_DOCKER_HOST=unix://DIR/sock OVLMOUNT_TEST_DATA_ROOT=DIR/root"
    DOCKER_HOST=$OVLMOUNT_TEST_DOCKER_HOST
elif [ $# -gt 0 ]; then
    die "usage: DOCKER_HOST=unix://DIR/sock $0   (or: $0 --test-env)"
fi
[ -n "${DOCKER_HOST:-}" ] || die "DOCKER_HOST is not set (expected unix://DIR/sock of a private dockerd)"
case "$DOCKER_HOST" in
    unix:///run/docker.sock | unix:///var/run/docker.sock) die "refusing to use the host's docker daemon ($DOCKER_HOST)" ;;
esac
export DOCKER_HOST
export DOCKER_BUILDKIT=0
export DOCKER_CLI_HINTS=false

work=$(mktemp -d /tmp/ovlimg.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Keep the client's config (and credential helpers) away from ~/.docker.
export DOCKER_CONFIG=${DOCKER_CONFIG:-$work/client}

d() { "$DOCKER" "$@"; }
have() { d image inspect "$1" >/dev/null 2>&1; }

"$DOCKER" info >/dev/null || die "no docker daemon answers at $DOCKER_HOST"
[ "$(d info --format '{{.Driver}}')" = overlay2 ] || die "the daemon at $DOCKER_HOST does not use overlay2"


# --- ovltest-base:1 / ovltest-one:latest -----------------------------------------------------
if ! have ovltest-base:1; then
    echo "build-images.sh: building ovltest-base:1"
    [ -x "$BUSYBOX" ] || die "$BUSYBOX missing (install busybox-static)"
    "$BUSYBOX" --list-full >/dev/null 2>&1 || die "$BUSYBOX does not support --list-full"
    r=$work/rootfs
    mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,dev,proc,sys,var/empty}
    chmod 1777 "$r/tmp"
    chmod 0700 "$r/root"
    install -m 0755 "$BUSYBOX" "$r/bin/busybox"
    "$BUSYBOX" --list-full | while read -r p; do
        [ "$p" = bin/busybox ] && continue
        [ -e "$r/$p" ] || [ -L "$r/$p" ] || ln -s /bin/busybox "$r/$p"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
    echo 'ovltest base' >"$r/etc/ovltest-release"
    tar --numeric-owner --owner=0 --group=0 -C "$r" -cf "$work/rootfs.tar" .
    d import "$work/rootfs.tar" ovltest-base:1 >/dev/null
fi
have ovltest-one:latest || d tag ovltest-base:1 ovltest-one:latest

# --- ovltest-multi:latest --------------------------------------------------------------------
if ! have ovltest-multi:latest; then
    echo "build-images.sh: building ovltest-multi:latest"
    c=$work/multi
    mkdir -p "$c/files/sub dir" "$c/more"
    echo 'with space' >"$c/files/with space.txt"
    echo 'comma' >"$c/files/comma,name.txt"
    echo 'colon' >"$c/files/colon:name.txt"
    echo 'all, of: them' >"$c/files/all, of: them.txt"
    echo 'unicode' >"$c/files/ünïcödé 名前.txt"
    echo 'nested' >"$c/files/sub dir/nested file"
    echo 'doomed' >"$c/files/doomed, really:yes.txt"
    : >"$c/files/empty-from-copy"
    head -c 200000 /dev/urandom >"$c/files/random.bin"
    echo 'more' >"$c/more/more.txt"
    echo 'twice' >"$c/dup.txt"
    cat >"$c/Dockerfile" <<'EOF'
FROM ovltest-base:1
COPY files/ /data/
RUN mkdir -p /d/sub /gone/deep \
 && echo a >/d/a && echo b >/d/sub/b && echo g >/gone/deep/g \
 && echo 'to delete' >/data/to-delete && echo keep >/data/keep \
 && echo replaced-by-dir >/data/file-then-dir && mkdir /data/dir-then-file
RUN true
RUN rm /data/to-delete "/data/doomed, really:yes.txt" && rm -rf /gone \
 && rm -rf /d && mkdir /d && echo new >/d/new \
 && echo hl >/data/hl-a && ln /data/hl-a /data/hl-b && ln /data/keep /data/keep-link \
 && echo hl2 >/data/hl2-a && ln /data/hl2-a '/data/hl2 b' && ln /data/hl2-a /hl2-c \
 && rm /data/file-then-dir && mkdir /data/file-then-dir && echo inside >/data/file-then-dir/x \
 && rmdir /data/dir-then-file && echo now-a-file >/data/dir-then-file
RUN mkdir -p /perm \
 && echo suid >/perm/suid && chmod 4755 /perm/suid \
 && echo sgid >/perm/sgid && chmod 2750 /perm/sgid \
 && echo secret >/perm/secret && chmod 0600 /perm/secret \
 && : >/perm/empty \
 && echo owned >/perm/owned && chown 1234:2345 /perm/owned \
 && mkdir /perm/sticky && chmod 1777 /perm/sticky \
 && mkdir /perm/owned-dir && chown 1234:1234 /perm/owned-dir && chmod 0750 /perm/owned-dir \
 && mkfifo /perm/fifo
RUN ln -s /data/keep /abs-link && ln -s data/keep /rel-link && ln -s /nonexistent /dangling-link \
 && ln -s 'with space.txt' '/data/link, to: space'
COPY more/ /data/more/
RUN echo changed >/data/keep && chmod 0640 /data/hl-a && echo appended >>/data/more/more.txt \
 && rm /data/random.bin
# Two identical layers: the same diff ID twice in rootfs.diff_ids (distinct chain IDs).
COPY dup.txt /dup.txt
COPY dup.txt /dup.txt
EOF
    d build --network none -q -t ovltest-multi:latest "$c" >/dev/null
fi
for t in ovltest-multi:v2 localhost:5000/team/app:v1 registry.local:5000/team/app:v1 docker.io/someuser/app:latest; do
    have "$t" || d tag ovltest-multi:latest "$t"
done

# --- ovltest-deep:latest (100 layers) --------------------------------------------------------
if ! have ovltest-deep:latest; then
    echo "build-images.sh: building ovltest-deep:latest (100 layers)"
    c=$work/deep
    mkdir -p "$c"
    {
        echo 'FROM ovltest-base:1'
        for n in $(seq 2 100); do
            if [ "$n" -eq 60 ]; then
                # The one deletion: a file of an earlier layer (and an overwrite of /top).
                echo 'RUN rm /layer-10 && echo 60 >/top'
            else
                mkdir -p "$c/l$n"
                echo "layer $n" >"$c/l$n/layer-$n"
                echo "$n" >"$c/l$n/top"
                echo "COPY l$n/ /"
            fi
        done
    } >"$c/Dockerfile"
    d build --network none -q -t ovltest-deep:latest "$c" >/dev/null
fi
n=$(d image inspect --format '{{len .RootFS.Layers}}' ovltest-deep:latest)
[ "$n" = 100 ] || die "ovltest-deep:latest has $n layers, not 100"

# --- containers ------------------------------------------------------------------------------
have_container() { d container inspect "$1" >/dev/null 2>&1; }
if ! have_container ovltest-changes; then
    echo "build-images.sh: creating container ovltest-changes"
    d run --network none --name ovltest-changes ovltest-multi:latest sh -c '
        set -e
        echo added >/added-file
        mkdir -p /added-dir/sub && echo x >/added-dir/sub/x
        echo modified >>/etc/ovltest-release
        echo appended >>/data/file-then-dir/x
        chmod 0600 /data/keep-link
        touch -d "2001-02-03 04:05:06" /data/empty-from-copy
        rm /data/hl-b
        rm -rf "/data/sub dir"
        mv /data/more /data/more-renamed
        mv /etc/passwd /etc/passwd.renamed
        rm -rf /d && mkdir /d && echo again >/d/again
        echo new >/perm/sticky/new-in-sticky
        mkfifo /new-fifo
        ln -s /etc/group /new-link' >/dev/null
fi
if ! have_container ovltest-vols; then
    echo "build-images.sh: creating container ovltest-vols"
    sock=${DOCKER_HOST#unix://}
    [ "$sock" != "$DOCKER_HOST" ] || die "DOCKER_HOST must be unix://DIR/sock to create ovltest-vols"
    bind_src=$(dirname "$sock")/bind-src
    mkdir -p "$bind_src"
    echo from-host >"$bind_src/host-file"
    d run --network none --name ovltest-vols -v ovltest-vol:/vol -v /anon -v "$bind_src:/hostbind:ro" \
        ovltest-base:1 sh -c 'echo in-volume >/vol/data && mkdir /vol/sub && echo anon >/anon/a && echo rw >/rw-file' >/dev/null
fi
have_container ovltest-created || d create --name ovltest-created ovltest-multi:latest /bin/true >/dev/null

# --- the digest reference --------------------------------------------------------------------
digest_ref="ovltest-multi@$OVLTEST_DIGEST"
if ! have "$digest_ref"; then
    echo "build-images.sh: adding $digest_ref to repositories.json"
    sock=${DOCKER_HOST#unix://}
    [ "$sock" != "$DOCKER_HOST" ] || die "DOCKER_HOST must be unix://DIR/sock to add the digest reference"
    ddir=$(dirname "$sock")
    root=$(d info --format '{{.DockerRootDir}}')
    if [ "$root" != "$ddir/root" ] || [ ! -s "$ddir/pid" ]; then
        die "the daemon at $DOCKER_HOST was not started by tests/docker/dockerd.sh (data root $root); cannot add $digest_ref"
    fi
    id=$(d image inspect --format '{{.Id}}' ovltest-multi:latest)
    repos=$root/image/overlay2/repositories.json
    "$here/dockerd.sh" stop "$ddir" >/dev/null
    grep -q '"ovltest-multi":{' "$repos" || die "unexpected format of $repos"
    tmp=$repos.ovltest.tmp
    sed "s|\"ovltest-multi\":{|\"ovltest-multi\":{\"$digest_ref\":\"$id\",|" "$repos" >"$tmp"
    mv "$tmp" "$repos"
    "$here/dockerd.sh" start "$ddir" >/dev/null
    have "$digest_ref" || die "docker does not resolve $digest_ref after the restart"
fi
[ "$(d image inspect --format '{{.Id}}' "$digest_ref")" = "$(d image inspect --format '{{.Id}}' ovltest-multi:latest)" ] ||
    die "$digest_ref does not name ovltest-multi:latest"
# For people and scripts: DIR/digest of a dockerd.sh daemon names the digest reference (the
# tests find it in repositories.json themselves).
root=$(d info --format '{{.DockerRootDir}}')
sock=${DOCKER_HOST#unix://}
if [ "$sock" != "$DOCKER_HOST" ] && [ "$root" = "$(dirname "$sock")/root" ] && [ -s "$(dirname "$sock")/pid" ]; then
    echo "$digest_ref" >"$(dirname "$sock")/digest"
fi

echo "build-images.sh: images ready in $(d info --format '{{.DockerRootDir}}')"
