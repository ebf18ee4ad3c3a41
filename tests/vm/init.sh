#!/bin/busybox sh
# shellcheck disable=SC2086 # $G (below) is split on purpose
# /init of the test VM (PID 1, busybox only). Built into the initramfs by run-vm-test.sh.
#
# Loads the modules listed in /modules/order, mounts the data-root image (/dev/vda, ext4)
# read-only at /data and, for each line "REFERENCE TARGET REFLOWERS" of /test/config:
#   - mounts the image with ovlmount at TARGET and prints a manifest of the tree;
#   - mounts Docker's own layer list (REFLOWERS, "l/<LINK>:..." top first, relative to
#     /data/overlay2, as Docker itself mounts them) with plain mount(8) at /ref/<n> and prints
#     its manifest too (a check of the VM and the data-root image independent of ovlmount).
# Then it checks `ovlmount list`, that the mounts are read-only, unmounts everything with
# `ovlmount umount`, checks that nothing is left, prints a verdict and powers off.
#
# All test output goes to the second serial port (/dev/ttyS1), one protocol line per event:
#   @@OVLVM <word> ...                        messages (uname, log, FAIL, RESULT)
#   @@OVLVM-BEGIN <name> / @@OVLVM-END <name> a block of raw output (manifests, listings)
# The kernel console stays on ttyS0.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
/bin/busybox mkdir -p /proc /sys /dev /run /tmp /data /mnt /ref /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp

out=/dev/ttyS1
[ -c "$out" ] || out=/dev/console
stty -F "$out" raw -echo 2>/dev/null
exec 3>"$out"

failed=0
say() { echo "@@OVLVM $*" >&3; }
log() { say "log $*"; }
fail() { failed=1; say "FAIL $*"; }
block() { # block NAME FILE
  echo "@@OVLVM-BEGIN $1" >&3
  cat "$2" >&3
  echo "@@OVLVM-END $1" >&3
}
finish() {
  if [ "$failed" = 0 ]; then say "RESULT PASS"; else say "RESULT FAIL"; fi
  if [ "$failed" != 0 ]; then dmesg >/tmp/dmesg 2>&1 && block dmesg /tmp/dmesg; fi
  exec 3>&-
  sync
  poweroff -f
  sleep 10
  echo o >/proc/sysrq-trigger
}
uptime_s() { cut -d' ' -f1 /proc/uptime; }

say "uname $(uname -r)"
say "boot-uptime $(uptime_s)"

OVL=/usr/sbin/ovlmount
# The global options; $G is left unquoted on purpose (two options, no spaces in the values).
G="--data-root /data --state-dir /run/ovlmount"
TMO=${OVLVM_CMD_TIMEOUT:-120}

# run NAME CMD...: runs CMD with a time limit, prints its output as block NAME, returns its code.
run() {
  name=$1; shift
  t0=$(uptime_s)
  timeout "$TMO" "$@" </dev/null >/tmp/run.out 2>&1
  rc=$?
  log "$name: rc=$rc time=$(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.2f", b - a }')s: $*"
  [ -s /tmp/run.out ] && block "$name" /tmp/run.out
  return $rc
}

while read -r m; do
  [ -n "$m" ] || continue
  insmod "/modules/$m.ko" 2>/tmp/insmod.err || fail "insmod $m: $(cat /tmp/insmod.err)"
done </modules/order

i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
if ! mount -t ext4 -o ro,noload /dev/vda /data 2>/tmp/mount.err; then
  fail "mount /dev/vda on /data: $(cat /tmp/mount.err)"
  finish
fi
log "data root mounted; uptime $(uptime_s)"

[ -x "$OVL" ] || { fail "$OVL missing"; finish; }
run version "$OVL" --version || fail "ovlmount --version failed"

# The targets ovlmount mounted, for the checks after umount.
: >/tmp/targets
n=0
while read -r ref target lowers; do
  [ -n "$ref" ] || continue
  n=$((n + 1))

  # Docker's own layer stack, mounted the way Docker mounts it (from inside overlay2/).
  if [ -n "$lowers" ] && [ "$lowers" != "-" ]; then
    case "$lowers" in *:*) ;; *) mkdir -p /run/empty; lowers="$lowers:/run/empty" ;; esac
    mkdir -p "/ref/$n"
    if (cd /data/overlay2 && mount -t overlay overlay -o "ro,lowerdir=$lowers" "/ref/$n") 2>/tmp/ref.err; then
      sh /test/manifest.sh "/ref/$n" </dev/null >/tmp/manifest 2>/tmp/manifest.err || fail "manifest of /ref/$n: $(cat /tmp/manifest.err)"
      block "ref:$ref" /tmp/manifest
      umount "/ref/$n" || fail "umount /ref/$n"
    else
      fail "reference mount of $ref: $(cat /tmp/ref.err)"
    fi
  fi

  mkdir -p "$target"
  if run "mount:$ref" "$OVL" $G mount "$ref" "$target"; then
    echo "$target" >>/tmp/targets
    if ! awk -v t="$target" '$5 == t { found = 1 } END { exit !found }' /proc/self/mountinfo; then
      fail "$target is not a mount point after ovlmount mount $ref"
    fi
    awk -v t="$target" '$5 == t' /proc/self/mountinfo >/tmp/mi
    block "mountinfo:$ref" /tmp/mi
    t0=$(uptime_s)
    if sh /test/manifest.sh "$target" </dev/null >/tmp/manifest 2>/tmp/manifest.err; then
      block "ovlmount:$ref" /tmp/manifest
    else
      fail "manifest of $target: $(cat /tmp/manifest.err)"
    fi
    log "manifest of $target: $(wc -l </tmp/manifest) entries in $(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.2f", b - a }')s"
    # Read-only: neither a new file nor a change to an existing one.
    if touch "$target/.ovlvm-write-test" 2>/dev/null; then
      fail "$target is writable (created a file)"
      rm -f "$target/.ovlvm-write-test"
    fi
    f=$(find "$target" -type f | head -n 1)
    if [ -n "$f" ] && touch -c "$f" 2>/dev/null; then
      fail "$target is writable (changed the times of $f)"
    fi
  else
    fail "ovlmount mount $ref $target failed"
    dmesg | tail -n 20 >/tmp/dm
    block "dmesg-after:$ref" /tmp/dm
  fi
done </test/config

if run list "$OVL" $G list; then
  while read -r target; do
    awk -v t="$target" '$1 == t && $2 == "mounted" { f = 1 } END { exit !f }' /tmp/run.out ||
      fail "list does not show $target as mounted"
  done </tmp/targets
else
  fail "ovlmount list failed"
fi
run list-json "$OVL" $G list --json || fail "ovlmount list --json failed"

while read -r target; do
  run "umount:$target" "$OVL" $G umount "$target" || fail "ovlmount umount $target failed"
  if awk -v t="$target" '$5 == t { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    fail "$target still mounted after ovlmount umount"
  fi
done </tmp/targets

if run list-after "$OVL" $G list; then
  while read -r target; do
    awk -v t="$target" '$1 == t { f = 1 } END { exit !f }' /tmp/run.out &&
      fail "list still shows $target after umount"
  done </tmp/targets
else
  fail "ovlmount list after umount failed"
fi
find /run/ovlmount >/tmp/state 2>&1 && block state-after /tmp/state
if grep -q ' overlay ' /proc/mounts; then
  grep ' overlay ' /proc/mounts >/tmp/left
  block leftover-mounts /tmp/left
  fail "overlay mounts left after umount"
fi
umount /data || fail "umount /data (busy?)"
finish
