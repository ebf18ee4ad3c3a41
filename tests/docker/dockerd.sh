#!/bin/bash
# Start or stop a private dockerd for the ovlmount tests (DESIGN.md section 6).
#
#   tests/docker/dockerd.sh start DIR     data root DIR/root, exec-root DIR/exec, pidfile DIR/pid,
#                                         socket unix://DIR/sock, log DIR/dockerd.log
#   tests/docker/dockerd.sh stop DIR      kill the daemon, wait for it, unmount what is left under DIR
#   tests/docker/dockerd.sh restart DIR
#
# Never touches /var/lib/docker, /run/docker.sock or the host's /etc/docker/daemon.json.
# Keep DIR short: unix socket paths are limited to about 108 bytes (containerd puts its own
# sockets below DIR/exec).
set -euo pipefail

DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
DOCKER=${DOCKER:-/usr/bin/docker}
START_TIMEOUT=${DOCKERD_START_TIMEOUT:-60}

usage() {
    echo "usage: $0 start|stop|restart DIR" >&2
    exit 2
}

die() {
    echo "dockerd.sh: $*" >&2
    exit 1
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)

case "$dir" in
    /var/lib/docker | /var/lib/docker/* | /run | /run/docker* | /) die "refusing to use $dir" ;;
esac

sock="$dir/sock"
[ ${#sock} -lt 100 ] || die "socket path $sock is too long (keep DIR short)"

daemon_pid() {
    local pid
    [ -s "$dir/pid" ] || return 1
    pid=$(cat "$dir/pid")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Make sure the PID really is our dockerd (PIDs get reused).
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" = "$(readlink -f "$DOCKERD")" ] || return 1
    grep -qF -- "$dir/root" "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

unmount_below() {
    # Deepest first; lazily if busy. Only mounts strictly below (or at) DIR.
    local m
    for _ in 1 2 3; do
        mapfile -t mounts < <(awk -v d="$dir" '{ t=$5; gsub(/\\040/, " ", t); if (t == d || index(t, d "/") == 1) print t }' /proc/self/mountinfo | sort -r)
        [ ${#mounts[@]} -gt 0 ] || return 0
        for m in "${mounts[@]}"; do
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        done
    done
}

do_start() {
    if pid=$(daemon_pid); then
        echo "dockerd.sh: dockerd already running for $dir (pid $pid)" >&2
    else
        mkdir -p "$dir/root" "$dir/exec"
        rm -f "$dir/pid" "$sock"
        # A private config file: the host's /etc/docker/daemon.json must not apply, and the
        # daemon's trust key must not be written to /etc/docker/key.json.
        printf '{"deprecated-key-path": "%s/key.json"}\n' "$dir" >"$dir/daemon.json"
        # setsid: the daemon must not get the test runner's terminal signals.
        setsid "$DOCKERD" \
            --config-file "$dir/daemon.json" \
            --data-root "$dir/root" \
            --exec-root "$dir/exec" \
            --pidfile "$dir/pid" \
            -H "unix://$sock" \
            --iptables=false --ip6tables=false --bridge=none \
            --storage-driver=overlay2 \
            </dev/null >>"$dir/dockerd.log" 2>&1 &
        echo $! >"$dir/launcher.pid"
    fi
    local deadline=$((SECONDS + START_TIMEOUT))
    while :; do
        if DOCKER_CONFIG="$dir/client" "$DOCKER" -H "unix://$sock" info >/dev/null 2>&1; then
            break
        fi
        if [ $SECONDS -ge $deadline ]; then
            echo "dockerd.sh: dockerd did not answer on unix://$sock within ${START_TIMEOUT}s; log tail:" >&2
            tail -n 40 "$dir/dockerd.log" >&2 || true
            exit 1
        fi
        if [ -s "$dir/launcher.pid" ] && ! kill -0 "$(cat "$dir/launcher.pid")" 2>/dev/null; then
            echo "dockerd.sh: dockerd exited during start-up; log tail:" >&2
            tail -n 40 "$dir/dockerd.log" >&2 || true
            exit 1
        fi
        sleep 0.5
    done
    local driver
    driver=$(DOCKER_CONFIG="$dir/client" "$DOCKER" -H "unix://$sock" info --format '{{.Driver}}')
    [ "$driver" = overlay2 ] || die "storage driver is '$driver', not overlay2"
    echo "dockerd.sh: dockerd running: DOCKER_HOST=unix://$sock data root $dir/root"
}

do_stop() {
    local pid
    if pid=$(daemon_pid); then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 300); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "dockerd.sh: dockerd $pid did not stop in 30s, killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        fi
    fi
    # The managed containerd (its pidfile lives under the exec-root) normally exits with dockerd.
    local cpid_file="$dir/exec/containerd/containerd.pid"
    if [ -s "$cpid_file" ]; then
        local cpid
        cpid=$(cat "$cpid_file")
        if [[ "$cpid" =~ ^[0-9]+$ ]] && kill -0 "$cpid" 2>/dev/null &&
            grep -qF -- "$dir/exec" "/proc/$cpid/cmdline" 2>/dev/null; then
            kill -TERM "$cpid" 2>/dev/null || true
            for _ in $(seq 1 100); do
                kill -0 "$cpid" 2>/dev/null || break
                sleep 0.1
            done
        fi
    fi
    rm -f "$dir/launcher.pid"
    unmount_below
}

case "$cmd" in
    start) do_start ;;
    stop) do_stop ;;
    restart)
        do_stop
        do_start
        ;;
    *) usage ;;
esac
