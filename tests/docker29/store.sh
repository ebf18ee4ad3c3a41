#!/bin/bash
# Builds a REAL data root of Docker with the containerd image store (DESIGN.md 7.3), offline
# and cached, plus Docker's and containerd's own answers about it (the oracles), for ovlmount's
# tests of that store. Nothing here reads the store itself: ovlmount's reader is checked against
# these files later.
#
# How (DESIGN.md 7.3): debootstrap Debian 13 (minbase, from the Debian mirror apt already uses),
# install docker.io, docker-cli, containerd, runc and tini in it (chroot apt-get, services kept
# from starting by a policy-rc.d), `docker import` it into the private test dockerd
# ($DOCKER_HOST) and `docker run -d` it with the flags DESIGN.md lists (`--privileged` is refused
# on our machines), PID 1 `tini -- sleep infinity`, with HOST directories as its
# /var/lib/docker and /var/lib/containerd and one for its API socket and logs (/d29). Inside it
# a dockerd 26 with `{"features":{"containerd-snapshotter":true}}` gets the outer test images
# (`docker save | docker load`), a changed container, a classic-builder image and a created
# container of every image; the oracles are written with `docker exec`. Then the inner daemons
# are stopped cleanly, the outer container removed (and the imported image), and the trees
# stay as plain host directories (with their trusted.overlay.* xattrs and whiteouts).
#
#   store.sh DIR          with DOCKER_HOST=unix://.../sock of a private dockerd
#   store.sh [--test-env] the CTest fixture: DOCKER_HOST=$OVLMOUNT_TEST_DOCKER_HOST and
#                         DIR=${OVLMOUNT_TEST_DOCKER29_DIR:-$(dirname $OVLMOUNT_TEST_DATA_ROOT)/docker29}
#   store.sh --rootfs     only makes sure the cached Debian 13 rootfs exists (no docker needed)
#                         and prints the path of its tarball
#
# The expensive part, the debootstrapped Debian 13 with the packages installed (about 390 MB,
# 40-90 s from the mirror), is cached as the tarball `docker import` takes:
#   $OVLMOUNT_DOCKER29_CACHE (default /var/cache/ovlmount-test/docker29; empty: no cache)
#     rootfs-<suite>-<key>.tar          key: sha256 of the suite, the package list, the mirror
#     rootfs-<suite>-<key>.tar.sha256   and the architecture; written last, so a tarball without
#                                       it (a killed run) is never used
# A tarball is reused only when its sha256 file agrees and `tar -t` reads it; otherwise it is
# built again from nothing. Entries of other keys are removed when a new one is written. It
# is never refreshed by itself: remove it to pick up newer Debian packages.
#
# Two variants, each DIR/variant-X/ with
#   docker/        the inner /var/lib/docker (its data root)
#   containerd/    the inner /var/lib/containerd
#   daemon/        daemon.json, dockerd.log (b: containerd.log), load.log, build.log; docker.sock
#                  while it ran
#   oracle/        see below
#   variant a: dockerd starts its own containerd: containerd root docker/containerd/daemon
#              (images in namespace moby, snapshots in
#              docker/containerd/daemon/io.containerd.snapshotter.v1.overlayfs); containerd/ empty
#   variant b: a containerd started by itself (root /var/lib/containerd = containerd/), dockerd
#              with --containerd=/run/containerd/containerd.sock
# Images (inner names): ovltest-base:1, ovltest-multi:latest, ovltest-deep:latest (loaded),
# d29-built:latest (FROM ovltest-base:1 + one RUN, classic builder). Containers: d29-changes
# (of ovltest-multi, exited: files added, modified, deleted, renamed, a dir recreated, modes
# changed, a FIFO, a symlink; named volume d29-vol at /vol holding /vol/file) and d29-created-{base,multi,deep,built} (created, never started).
#
# oracle/ (all from the inner docker CLI or ctr, run in the outer container):
#   docker-version.json, docker-info.json           docker version / info --format json
#   images-inspect.json                             docker image inspect of every image ID
#   image-inspect-<slug>.json                       docker image inspect <ref> (slug: base,
#                                                   multi, deep, built)
#   docker-images.json, docker-images-a.json        docker images [-a] --no-trunc --format json
#   docker-ps-a.json                                docker ps -a --no-trunc --format json
#   containers-inspect.json                         docker container inspect of every container
#   container-ids.tsv                               name <TAB> full container ID
#   diff-d29-changes.txt                            docker diff d29-changes
#   export-d29-changes.tar                          docker export d29-changes
#   export-d29-created-<slug>.tar                   docker export of the created container
#   ctr-{images,snapshots,containers,leases,content}.txt   ctr -n moby <x> ls
#   mount-image-<slug>.txt                          ctr -n moby snapshots mounts of a view of
#                                                   the image's top chainID (view removed after)
#   mount-container-<name>.txt                      ctr -n moby snapshots mounts <container ID>
#   images.tsv                                      ref, image ID, top chainID, number of
#                                                   diff_ids, number of dirs in containerd's mount
#   path-map.tsv                                    paths inside the outer container -> dirs of
#                                                   the variant (the mounts name the former)
# DIR/ready holds the cache key (this script's sha256 and the outer images' IDs): when it
# matches, nothing is done. Otherwise DIR is emptied and built again from nothing.
# The script leaves no process, container, image, mount or cgroup of its own behind.
set -euo pipefail

DOCKER=${DOCKER:-docker}
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
outer_images=(ovltest-base:1 ovltest-multi:latest ovltest-deep:latest)
variants=(a b)
suite=trixie
packages=(docker.io docker-cli containerd runc tini)
# The inner images: slug, reference.
inner_slugs=(base multi deep built)
inner_refs=(ovltest-base:1 ovltest-multi:latest ovltest-deep:latest d29-built:latest)
cache_dir=${OVLMOUNT_DOCKER29_CACHE-/var/cache/ovlmount-test/docker29}

fail_msg=
err_rc=0
die() {
    fail_msg=$*
    echo "store.sh: $*" >&2
    exit 1
}
log() { echo "store.sh: $*" >&2; }

t_all=$EPOCHREALTIME
phase_t=$EPOCHREALTIME
phase_name=
phase() { # phase NAME: ends the running phase (printing its time), starts NAME
    local now=$EPOCHREALTIME
    if [ -n "$phase_name" ]; then
        awk -v n="$phase_name" -v a="$phase_t" -v b="$now" 'BEGIN { printf "store.sh: %-34s %6.1f s\n", n, b - a }' >&2
    fi
    phase_name=${1:-}
    phase_t=$now
}

# ---- arguments and safety ---------------------------------------------------------------------
mode=store
dir=
case "${1:-}" in
    --rootfs) mode=rootfs ;;
    "" | --test-env)
        [ -n "${OVLMOUNT_TEST_DOCKER_HOST:-}" ] && [ -n "${OVLMOUNT_TEST_DATA_ROOT:-}" ] ||
            die "OVLMOUNT_TEST_DOCKER_HOST and OVLMOUNT_TEST_DATA_ROOT must be set (bash tests/run.sh sets them), or: DOCKER_HOST=unix://DIR/sock $0 DIR"
        DOCKER_HOST=$OVLMOUNT_TEST_DOCKER_HOST
        dir=${OVLMOUNT_TEST_DOCKER29_DIR:-$(dirname "$OVLMOUNT_TEST_DATA_ROOT")/docker29}
        ;;
    -*) die "usage: DOCKER_HOST=unix://DIR/sock $0 DIR   (or: $0 --test-env, $0 --rootfs)" ;;
    *) dir=$1 ;;
esac
[ "$(id -u)" = 0 ] || die "must run as root"
if [ "$mode" = store ]; then
    [ -n "${DOCKER_HOST:-}" ] || die "DOCKER_HOST is not set (expected unix://DIR/sock of a private dockerd)"
    case "$DOCKER_HOST" in
        unix:///run/docker.sock | unix:///var/run/docker.sock) die "refusing to use the host's docker daemon ($DOCKER_HOST)" ;;
    esac
    export DOCKER_HOST
    export DOCKER_CLI_HINTS=false
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    case "$dir" in
        / | /var/lib/docker | /var/lib/docker/* | /var/lib/containerd | /var/lib/containerd/*) die "refusing to use $dir" ;;
    esac
    export DOCKER_CONFIG=${DOCKER_CONFIG:-$dir/client}
fi

if [ -n "$cache_dir" ]; then
    if mkdir -p "$cache_dir" 2>/dev/null && [ -w "$cache_dir" ]; then
        cache_dir=$(cd "$cache_dir" && pwd -P)
    else
        log "warning: cannot write the rootfs cache $cache_dir; building without it"
        cache_dir=
    fi
fi
case "$cache_dir" in
    /) die "refusing / as the rootfs cache" ;;
esac
if [ -n "$cache_dir" ] && [ -n "$dir" ]; then
    # Emptying DIR must never touch the cache, nor a rebuilt cache entry DIR.
    case "$cache_dir/" in "$dir"/*) die "the rootfs cache $cache_dir is below $dir" ;; esac
    case "$dir/" in "$cache_dir"/*) die "$dir is below the rootfs cache $cache_dir" ;; esac
fi
[ "$mode" = store ] || [ -n "$cache_dir" ] || die "--rootfs needs a writable cache (OVLMOUNT_DOCKER29_CACHE)"

if [ "$mode" = store ]; then
    phase "check the cache"
    "$DOCKER" info >/dev/null 2>&1 || die "no docker daemon answers at $DOCKER_HOST"
    outer_root=$("$DOCKER" info --format '{{.DockerRootDir}}')
    case "$dir/" in
        "$outer_root"/*) die "$dir is below the test dockerd's data root $outer_root" ;;
    esac

    # One run per DIR at a time.
    exec 9>>"$dir/.lock"
    flock -w 1200 9 || die "another store.sh holds $dir/.lock"

    key="script $(sha256sum "$self" | cut -d' ' -f1)"
    for image in "${outer_images[@]}"; do
        id=$("$DOCKER" image inspect --format '{{.Id}}' "$image" 2>/dev/null) ||
            die "the test dockerd has no $image (the docker_images fixture, tests/docker/build-images.sh, builds it)"
        key+=$'\n'"$image $id"
    done
    if [ -f "$dir/ready" ] && [ "$(cat "$dir/ready")" = "$key" ]; then
        phase
        log "docker29 store ready in $dir (cached)"
        exit 0
    fi
fi

for tool in chroot tar flock sha256sum mktemp; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done

# ---- state for the cleanup ----------------------------------------------------------------------
outer=            # the outer container (ID) while it exists
outer_name=       # its name, also the inner --cgroup-parent
cgroup_names=()   # every --cgroup-parent used
host_image=       # the imported Debian 13 image in the test dockerd
bg=               # the process group of a long step (debootstrap, apt-get) while it runs
build=            # scratch dir of this run (DIR/.build; for --rootfs one made in the cache dir)
cache_tmp=        # a rootfs tarball being written into the cache
[ -z "$dir" ] || build=$dir/.build

# unmount_below DIR: unmounts whatever is mounted at or below DIR in this namespace (nothing,
# normally: the inner daemons mount only inside the outer container's namespace; debootstrap
# mounts /proc and /sys in its target while it runs).
unmount_below() {
    local below=$1 m
    for _ in 1 2 3; do
        mapfile -t mounts < <(awk -v d="$below" '{ t=$5; gsub(/\\040/, " ", t); if (t == d || index(t, d "/") == 1) print t }' /proc/self/mountinfo | sort -r)
        [ ${#mounts[@]} -gt 0 ] || return 0
        for m in "${mounts[@]}"; do
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        done
    done
}

# Removes the (empty) cgroups the inner dockerd made below its --cgroup-parent.
remove_cgroups() {
    local name h
    for name in "${cgroup_names[@]}"; do
        for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
            [ -d "$h/$name" ] || continue
            find "$h/$name" -depth -type d -exec rmdir {} \; 2>/dev/null || true
            [ ! -d "$h/$name" ] || log "warning: could not remove cgroup $h/$name"
        done
    done
}

# run_bg LOG CMD...: runs CMD (output appended to LOG) in a process group of its own and waits
# for it; a signal to this script then interrupts the wait at once, and the cleanup ends the
# whole group.
run_bg() {
    local rc=0 log=$1
    shift
    setsid "$@" </dev/null >>"$log" 2>&1 &
    bg=$!
    wait "$bg" || rc=$?
    bg=
    return $rc
}

stop_bg() {
    [ -n "$bg" ] || return 0
    kill -TERM -- "-$bg" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 -- "-$bg" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$bg" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 -- "-$bg" 2>/dev/null || break
        sleep 0.1
    done
    bg=
}

remove_outer() {
    if [ -n "$outer" ]; then
        "$DOCKER" rm -f "$outer" >/dev/null 2>&1 || log "warning: could not remove container $outer_name"
        outer=
    fi
    remove_cgroups
}

cleanup() {
    local rc=$?
    set +e
    if [ $rc != 0 ] && [ -n "$outer" ] && [ -n "${vdir:-}" ]; then
        for f in "$vdir"/daemon/*.log; do
            [ -f "$f" ] || continue
            log "tail of $f:"
            tail -n 15 "$f" >&2
        done
    fi
    stop_bg
    remove_outer
    if [ -n "$host_image" ]; then
        "$DOCKER" rmi -f "$host_image" >/dev/null 2>&1 || log "warning: could not remove image $host_image"
    fi
    [ -z "$cache_tmp" ] || rm -f "$cache_tmp" "$cache_tmp.sha256"
    [ -z "$dir" ] || unmount_below "$dir"
    if [ -n "$build" ]; then
        unmount_below "$build"
        [ ! -d "$build" ] || rm -rf --one-file-system "$build"
    fi
    if [ $rc != 0 ] && [ -n "$dir" ]; then
        log "FAILED (exit $rc${fail_msg:+: $fail_msg}); $dir is incomplete (no ready file)"
    elif [ $rc != 0 ]; then
        log "FAILED (exit $rc${fail_msg:+: $fail_msg})"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
set -E
trap 'err_rc=$?; [ -n "$fail_msg" ] || fail_msg="line $LINENO: $BASH_COMMAND exited $err_rc"' ERR

# ---- the Debian 13 rootfs (cached) -----------------------------------------------------------
# The Debian archive apt uses here (deb822 .sources or one-line .list), else deb.debian.org.
debian_mirror() {
    local m
    m=$({
        grep -hs -E '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources | sed -E 's/^[[:space:]]*URIs:[[:space:]]*//' | tr ' ' '\n'
        grep -hs -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
            sed -E 's/\[[^]]*\]//' | awk '{ print $2 }'
    } | grep -E '^(https?|file):.*/debian/?$' | head -n 1 || true)
    echo "${OVLMOUNT_TEST_DEBIAN_MIRROR:-${m:-http://deb.debian.org/debian}}"
}

rootfs=
chroot_apt() {
    run_bg "$build/apt.log" chroot "$rootfs" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C \
        apt-get -q -y -o Dpkg::Use-Pty=0 "$@"
}

# make_rootfs_tar MIRROR OUT: debootstraps $suite (minbase) from MIRROR into $build/rootfs,
# installs the packages (services kept from starting by a policy-rc.d) and packs it into the
# tarball OUT, as `docker import` takes it; the rootfs is removed again.
make_rootfs_tar() {
    local mirror=$1 out=$2 f
    if ! command -v debootstrap >/dev/null; then
        log "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
            die "cannot install debootstrap (apt-get install debootstrap)"
    fi
    phase "debootstrap $suite"
    rootfs=$build/rootfs
    run_bg "$build/debootstrap.log" debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" || {
        tail -n 30 "$build/debootstrap.log" >&2
        die "debootstrap $suite from $mirror failed"
    }

    phase "apt-get install ${packages[*]}"
    printf '#!/bin/sh\n# no services in a chroot\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
    chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
    if ! chroot_apt install --no-install-recommends "${packages[@]}"; then
        chroot_apt update || true
        chroot_apt install --no-install-recommends "${packages[@]}" || {
            tail -n 30 "$build/apt.log" >&2
            die "apt-get install ${packages[*]} in the $suite chroot failed"
        }
    fi
    chroot_apt clean
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs/usr/sbin/policy-rc.d"
    for f in usr/bin/tini usr/sbin/dockerd usr/bin/docker usr/bin/containerd usr/bin/ctr usr/sbin/runc; do
        [ -x "$rootfs/$f" ] || die "$f is missing in the $suite rootfs"
    done

    phase "pack the rootfs"
    tar --numeric-owner -C "$rootfs" --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/pts/*' -cf "$out" .
    unmount_below "$rootfs"
    rm -rf --one-file-system "$rootfs"
    rootfs=
}

# cache_entry_ok NAME: the cached tarball NAME and NAME.sha256 exist, agree, and tar reads it.
cache_entry_ok() {
    local name=$1
    [ -f "$cache_dir/$name" ] && [ -f "$cache_dir/$name.sha256" ] || return 1
    (cd "$cache_dir" && sha256sum --status -c "$name.sha256" 2>/dev/null) || return 1
    tar -tf "$cache_dir/$name" >/dev/null 2>&1
}

# rootfs_tarball: sets rootfs_tar to the rootfs tarball: the cached one when it is intact,
# else a new one, written into the cache (under the lock $cache_dir/.lock, held on fd 8 until
# `exec 8>&-`: a run on another DIR never removes it under this one) or, without a cache, into
# $build.
rootfs_tarball() {
    local mirror arch key name sum stale
    mirror=$(debian_mirror)
    arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
    if [ -z "$cache_dir" ]; then
        mkdir -p "$build"
        rootfs_tar=$build/rootfs.tar
        make_rootfs_tar "$mirror" "$rootfs_tar"
        return 0
    fi
    key=$(printf 'suite %s\npackages %s\nmirror %s\narch %s\n' "$suite" "${packages[*]}" "$mirror" "$arch" |
        sha256sum | cut -c1-16)
    name=rootfs-$suite-$key.tar
    rootfs_tar=$cache_dir/$name
    exec 8>>"$cache_dir/.lock"
    flock -w 1800 8 || die "another store.sh holds $cache_dir/.lock"
    if cache_entry_ok "$name"; then
        log "reusing the cached $suite rootfs $rootfs_tar ($mirror)"
        return 0
    fi
    if [ -e "$rootfs_tar" ] || [ -e "$rootfs_tar.sha256" ]; then
        log "the cached $rootfs_tar is incomplete or damaged; building it again"
    fi
    # What a killed run left: only a run holding the lock writes these.
    for stale in "$cache_dir"/.build.* "$cache_dir"/.rootfs-*; do
        [ -e "$stale" ] || continue
        unmount_below "$stale"
        rm -rf --one-file-system "$stale"
    done
    rm -f "$rootfs_tar.sha256" "$rootfs_tar"
    [ -n "$build" ] || build=$(mktemp -d "$cache_dir/.build.XXXXXX")
    mkdir -p "$build"
    cache_tmp=$(mktemp "$cache_dir/.$name.XXXXXX")
    make_rootfs_tar "$mirror" "$cache_tmp"
    phase "check and cache the tarball"
    tar -tf "$cache_tmp" >/dev/null || die "the new rootfs tarball $cache_tmp cannot be read back"
    chmod 0644 "$cache_tmp"
    sum=$(sha256sum <"$cache_tmp" | cut -d' ' -f1)
    printf '%s  %s\n' "$sum" "$name" >"$cache_tmp.sha256"
    mv -f "$cache_tmp" "$rootfs_tar"
    mv -f "$cache_tmp.sha256" "$rootfs_tar.sha256"
    cache_tmp=
    find "$cache_dir" -maxdepth 1 -name 'rootfs-*.tar*' ! -name "$name" ! -name "$name.sha256" -delete
    log "cached the $suite rootfs as $rootfs_tar"
}

if [ "$mode" = rootfs ]; then
    rootfs_tarball
    exec 8>&-
    phase
    echo "$rootfs_tar"
    exit 0
fi

# Leftovers of a run that was killed (SIGKILL): containers and images labelled with this DIR.
for c in $("$DOCKER" ps -aq --no-trunc --filter "label=ovlmount.docker29.dir=$dir"); do
    log "removing stale container $c"
    "$DOCKER" rm -f "$c" >/dev/null
done
for i in $("$DOCKER" images -q --no-trunc --filter "label=ovlmount.docker29.dir=$dir" | sort -u); do
    log "removing stale image $i"
    "$DOCKER" rmi -f "$i" >/dev/null
done

# ---- from nothing ----------------------------------------------------------------------------
phase "remove the old $dir"
rm -f "$dir/ready"
unmount_below "$dir"
find "$dir" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf --one-file-system {} +

phase "the $suite rootfs"
rootfs_tarball

phase "docker import"
host_image=ovltest-docker29-host:$$
"$DOCKER" import -c "LABEL ovlmount.docker29.dir=$dir" - "$host_image" <"$rootfs_tar" >/dev/null
exec 8>&-
[ -n "$cache_dir" ] || rm -f "$rootfs_tar"

# ---- one variant -----------------------------------------------------------------------------
dx() { "$DOCKER" exec "$outer" "$@"; }         # a command in the outer container
dxi() { "$DOCKER" exec -i "$outer" "$@"; }     # ... with stdin
ix() { "$DOCKER" exec -e DOCKER_HOST=unix:///d29/docker.sock -e DOCKER_BUILDKIT=0 -e DOCKER_CLI_HINTS=false "$outer" docker "$@"; }
ixi() { "$DOCKER" exec -i -e DOCKER_HOST=unix:///d29/docker.sock -e DOCKER_BUILDKIT=0 -e DOCKER_CLI_HINTS=false "$outer" docker "$@"; }
ctrx() { "$DOCKER" exec "$outer" ctr --address "$ctr_sock" -n moby "$@"; }

# chain_id DIFF_ID...: the chain ID of the last layer (OCI image spec).
chain_id() {
    local c="" d
    for d in "$@"; do
        if [ -z "$c" ]; then c=$d; else c=sha256:$(printf '%s %s' "$c" "$d" | sha256sum | cut -d' ' -f1); fi
    done
    echo "$c"
}

# The number of directories a `ctr snapshots mounts` line mounts (a bind mount: 1).
mount_dirs() {
    local line=$1 opts
    case "$line" in
        *lowerdir=*)
            opts=${line##*lowerdir=}
            opts=${opts%%,*}
            opts=${opts%% *}
            local n
            n=$(($(tr -cd ':' <<<"$opts" | wc -c) + 1))
            case "$line" in *upperdir=*) n=$((n + 1)) ;; esac
            echo "$n"
            ;;
        *) echo 1 ;;
    esac
}

# wait_gone PID WHAT: waits until PID (in the outer container) has exited.
wait_gone() {
    local pid=$1 what=$2
    for _ in $(seq 1 600); do
        dx test -d "/proc/$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    die "$what (pid $pid in $outer_name) did not stop within 60 s"
}

build_variant() {
    local v=$1
    vdir=$dir/variant-$v
    local o=$vdir/oracle
    mkdir -p "$vdir/docker" "$vdir/containerd" "$vdir/daemon" "$o"
    printf '{"features":{"containerd-snapshotter":true}}\n' >"$vdir/daemon/daemon.json"

    phase "[$v] start outer container + dockerd"
    outer_name=ovltest-d29-$v-$$
    cgroup_names+=("$outer_name")
    outer=$("$DOCKER" run -d --name "$outer_name" --label "ovlmount.docker29.dir=$dir" \
        --network none --hostname "d29-$v" \
        --cap-add=ALL --cap-drop=SYS_RESOURCE \
        --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
        --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run:exec \
        -v "$vdir/docker:/var/lib/docker" -v "$vdir/containerd:/var/lib/containerd" -v "$vdir/daemon:/d29" \
        "$host_image" tini -- sleep infinity)

    local dockerd_args="--config-file /d29/daemon.json --iptables=false --ip6tables=false --bridge=none --group=root --cgroup-parent=/$outer_name -H unix:///d29/docker.sock"
    if [ "$v" = a ]; then
        ctr_sock=/var/run/docker/containerd/containerd.sock
    else
        ctr_sock=/run/containerd/containerd.sock
        "$DOCKER" exec -d "$outer" sh -c 'echo $$ >/run/d29-containerd.pid; exec containerd >>/d29/containerd.log 2>&1'
        local ok=
        for _ in $(seq 1 300); do
            if dx ctr --address "$ctr_sock" version >/dev/null 2>&1; then ok=1; break; fi
            sleep 0.2
        done
        [ -n "$ok" ] || die "[$v] containerd did not answer on $ctr_sock"
        dockerd_args+=" --containerd=$ctr_sock"
    fi
    "$DOCKER" exec -d "$outer" sh -c "exec dockerd $dockerd_args >>/d29/dockerd.log 2>&1"
    local ok=
    for _ in $(seq 1 300); do
        if ix info >/dev/null 2>&1; then ok=1; break; fi
        sleep 0.2
    done
    [ -n "$ok" ] || die "[$v] the inner dockerd did not answer within 60 s"
    local driver
    driver=$(ix info --format '{{.Driver}} {{json .DriverStatus}}')
    case "$driver" in
        "overlayfs "*io.containerd.snapshotter.v1*) ;;
        *) die "[$v] the inner dockerd does not use the containerd image store: $driver" ;;
    esac

    phase "[$v] docker save | docker load"
    "$DOCKER" save "${outer_images[@]}" | ixi load -q >>"$vdir/daemon/load.log"

    phase "[$v] run, build, create"
    ix run --network none --name d29-changes -v d29-vol:/vol ovltest-multi:latest sh -c '
        set -e
        echo in-volume >/vol/file
        echo added >/added-file
        mkdir -p /added-dir/sub && echo x >/added-dir/sub/x
        echo modified >>/etc/ovltest-release
        echo appended >>/data/file-then-dir/x
        chmod 0600 /data/keep-link
        chmod 0700 /perm/owned-dir
        rm /data/hl-b
        rm -rf "/data/sub dir"
        mv /data/more /data/more-renamed
        mv /etc/passwd /etc/passwd.renamed
        rm -rf /d && mkdir /d && echo again >/d/again
        echo new >/perm/sticky/new-in-sticky
        mkfifo /new-fifo
        ln -s /etc/group /new-link' >/dev/null
    printf 'FROM ovltest-base:1\nRUN echo built >/built && rm /etc/ovltest-release\n' |
        ixi build --network none -t d29-built:latest - >"$vdir/daemon/build.log" 2>&1 || {
        cat "$vdir/daemon/build.log" >&2
        die "[$v] docker build of d29-built:latest failed"
    }
    local i
    for i in "${!inner_slugs[@]}"; do
        ix create --network none --name "d29-created-${inner_slugs[$i]}" "${inner_refs[$i]}" /bin/true >/dev/null
    done

    phase "[$v] oracles"
    ix version --format json >"$o/docker-version.json"
    ix info --format json >"$o/docker-info.json"
    mapfile -t ids < <(ix images -a -q --no-trunc | sort -u)
    ix image inspect "${ids[@]}" >"$o/images-inspect.json"
    for i in "${!inner_slugs[@]}"; do
        ix image inspect "${inner_refs[$i]}" >"$o/image-inspect-${inner_slugs[$i]}.json"
    done
    ix images --no-trunc --format json >"$o/docker-images.json"
    ix images -a --no-trunc --format json >"$o/docker-images-a.json"
    ix ps -a --no-trunc --format json >"$o/docker-ps-a.json"
    mapfile -t cids < <(ix ps -a -q --no-trunc)
    ix container inspect "${cids[@]}" >"$o/containers-inspect.json"
    ix ps -a --no-trunc --format '{{.Names}}	{{.ID}}' | sort >"$o/container-ids.tsv"
    ix diff d29-changes >"$o/diff-d29-changes.txt"
    ix export d29-changes >"$o/export-d29-changes.tar"
    for i in "${!inner_slugs[@]}"; do
        ix export "d29-created-${inner_slugs[$i]}" >"$o/export-d29-created-${inner_slugs[$i]}.tar"
    done
    local what
    for what in images snapshots containers leases content; do
        ctrx "$what" ls >"$o/ctr-$what.txt"
    done
    printf 'ref\timage id\ttop chain id\tdiff ids\tmount dirs\n' >"$o/images.tsv"
    for i in "${!inner_slugs[@]}"; do
        local ref=${inner_refs[$i]} slug=${inner_slugs[$i]} image_id top view line n_diff n_dirs
        image_id=$(ix image inspect --format '{{.Id}}' "$ref")
        mapfile -t diffs < <(ix image inspect --format '{{range .RootFS.Layers}}{{println .}}{{end}}' "$ref" | grep .)
        top=$(chain_id "${diffs[@]}")
        # containerd's own cross-check: the computed top chain ID is a committed snapshot of
        # the namespace. (The config blob's GC label usually names it too, but not always: an
        # image whose layers another image of the same `docker load` unpacked first may lack
        # it, so the label is only reported.)
        local tries=0
        until ctrx snapshots info "$top" >/dev/null 2>&1; do
            tries=$((tries + 1))
            [ $tries -le 20 ] || die "[$v] $ref: containerd has no snapshot named by the computed top chain ID $top"
            sleep 0.5
        done
        grep -qF "containerd.io/gc.ref.snapshot.overlayfs=$top" "$o/ctr-content.txt" ||
            log "[$v] note: $ref: no content label names its top chain ID $top (containerd has the snapshot)"
        view=d29-oracle-view-$slug
        ctrx snapshots view "$view" "$top" >/dev/null
        ctrx snapshots mounts "/mnt/$view" "$view" >"$o/mount-image-$slug.txt"
        ctrx snapshots rm "$view"
        line=$(head -n 1 "$o/mount-image-$slug.txt")
        n_diff=${#diffs[@]}
        n_dirs=$(mount_dirs "$line")
        printf '%s\t%s\t%s\t%s\t%s\n' "$ref" "$image_id" "$top" "$n_diff" "$n_dirs" >>"$o/images.tsv"
    done
    local name cid
    while IFS=$'\t' read -r name cid; do
        ctrx snapshots mounts "/mnt/$name" "$cid" >"$o/mount-container-$name.txt"
    done <"$o/container-ids.tsv"
    if [ "$v" = a ]; then
        printf '/var/lib/docker\tdocker\n/var/lib/docker/containerd/daemon\tdocker/containerd/daemon\n' >"$o/path-map.tsv"
    else
        printf '/var/lib/docker\tdocker\n/var/lib/containerd\tcontainerd\n' >"$o/path-map.tsv"
    fi

    phase "[$v] stop daemons and container"
    local dpid cpid=
    dpid=$(dx cat /var/run/docker.pid)
    if [ "$v" = a ]; then
        cpid=$(dx cat /var/run/docker/containerd/containerd.pid 2>/dev/null || true)
    else
        cpid=$(dx cat /run/d29-containerd.pid)
    fi
    dx sh -c "kill -TERM $dpid"
    wait_gone "$dpid" "the inner dockerd"
    if [ -n "$cpid" ]; then
        # variant a: dockerd stops its own containerd; b: stop the separate one now.
        [ "$v" = a ] || dx sh -c "kill -TERM $cpid" 2>/dev/null || true
        wait_gone "$cpid" "the inner containerd"
    fi
    "$DOCKER" stop -t 20 "$outer" >/dev/null
    "$DOCKER" rm "$outer" >/dev/null
    outer=
    remove_cgroups
    rm -f "$vdir/daemon/docker.sock"

    phase "[$v] check the layout"
    local croot
    if [ "$v" = a ]; then croot=$vdir/docker/containerd/daemon; else croot=$vdir/containerd; fi
    [ ! -e "$vdir/docker/image/overlay2" ] || die "[$v] $vdir/docker/image/overlay2 exists: not the containerd image store"
    [ ! -e "$vdir/docker/overlay2" ] || die "[$v] $vdir/docker/overlay2 exists: not the containerd image store"
    [ -f "$croot/io.containerd.metadata.v1.bolt/meta.db" ] || die "[$v] no meta.db below $croot"
    [ -f "$croot/io.containerd.snapshotter.v1.overlayfs/metadata.db" ] || die "[$v] no overlayfs metadata.db below $croot"
    [ -n "$(ls -A "$croot/io.containerd.snapshotter.v1.overlayfs/snapshots")" ] || die "[$v] no snapshots below $croot"
    while IFS=$'\t' read -r name cid; do
        grep -q '"Driver":"overlayfs"' "$vdir/docker/containers/$cid/config.v2.json" ||
            die "[$v] container $name: Driver is not overlayfs in config.v2.json"
    done <"$o/container-ids.tsv"
    local ref top nd nm
    while IFS=$'\t' read -r ref _ top nd nm; do
        [ "$ref" = ref ] && continue
        if [ "$ref" = d29-built:latest ] && [ "$nm" != $((nd + 1)) ]; then
            log "[$v] note: $ref has $nd diff IDs and $nm dirs in containerd's mount (DESIGN.md 7.2 says one more)"
        fi
    done <"$o/images.tsv"
    log "[$v] $(wc -l <"$o/container-ids.tsv") containers, $(($(wc -l <"$o/images.tsv") - 1)) images; containerd root $croot"
}

for v in "${variants[@]}"; do
    build_variant "$v"
done

phase "remove the imported image"
"$DOCKER" rmi -f "$host_image" >/dev/null
host_image=
rm -rf --one-file-system "$build"
printf '%s' "$key" >"$dir/ready"
phase
awk -v a="$t_all" -v b="$EPOCHREALTIME" 'BEGIN { printf "store.sh: %-34s %6.1f s\n", "total", b - a }' >&2
log "docker29 store ready in $dir"
