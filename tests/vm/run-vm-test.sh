#!/bin/bash
# run-vm-test.sh: runs the real ovlmount binary inside a VM booted on Debian 12's 6.1 kernel
# (no `lowerdir+`, no layer fds through fsconfig there), mounts Docker images from a real
# Docker data root and compares what it mounted with Docker's own export of the same images.
#
# Environment:
#   OVLMOUNT_BIN                the ovlmount binary to test (required)
#   OVLMOUNT_TEST_DATA_ROOT     the private dockerd's data root holding the test images (required)
#   OVLMOUNT_TEST_DOCKER_HOST   that dockerd's socket: /path/sock or unix:///path/sock (required)
#   OVLMOUNT_VM_IMAGES          references to test (default: ovltest-multi ovltest-deep ovltest-one)
#   OVLMOUNT_VM_CACHE           kernel cache for fetch-kernel.sh (default /var/cache/ovlmount-test/vm)
#   OVLMOUNT_VM_TIMEOUT         seconds the VM may run (default 300)
#   OVLMOUNT_VM_KEEP=1          keep the work directory (printed) for debugging
#   OVLMOUNT_TEST_DOCKER        docker client (default $DOCKER, else /usr/bin/docker)
#
# Steps: fetch the kernel (cached) -> export each image through Docker (docker create +
# docker export, extracted with tar) and build its manifest with tests/vm/manifest.sh ->
# copy image/ and overlay2/ of the data root into an ext4 image (mkfs.ext4 -d keeps the
# trusted.overlay.* xattrs) -> build a busybox initramfs with the kernel modules, ovlmount and
# its libraries, init.sh as /init -> boot qemu (TCG) with the ext4 image attached read-only ->
# parse the guest's protocol lines from the second serial port -> compare.
# Exit status: 0 pass, 1 fail (missing inputs, set-up problems and mismatches alike).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
t_start=$(date +%s.%N)
log() { echo "vm-test: $*" >&2; }
die() { echo "vm-test: FAIL: $*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

: "${OVLMOUNT_BIN:?set OVLMOUNT_BIN to the ovlmount binary (ctest sets it)}"
if [[ -z ${OVLMOUNT_TEST_DATA_ROOT:-} ]]; then
  die "OVLMOUNT_TEST_DATA_ROOT is not set: run this test through tests/run.sh (or the docker_images fixture), which starts a private dockerd, builds the ovltest-* images and exports OVLMOUNT_TEST_DATA_ROOT and OVLMOUNT_TEST_DOCKER_HOST"
fi
if [[ -z ${OVLMOUNT_TEST_DOCKER_HOST:-} ]]; then
  die "OVLMOUNT_TEST_DOCKER_HOST is not set (the private dockerd's socket that owns $OVLMOUNT_TEST_DATA_ROOT)"
fi
[[ $(id -u) == 0 ]] || die "must run as root (mkfs of a copy of a Docker data root, mknod)"
[[ -x $OVLMOUNT_BIN ]] || die "OVLMOUNT_BIN=$OVLMOUNT_BIN is not an executable"
data_root=$(cd "$OVLMOUNT_TEST_DATA_ROOT" && pwd -P) || die "no data root $OVLMOUNT_TEST_DATA_ROOT"
[[ -d $data_root/image/overlay2 && -d $data_root/overlay2 ]] ||
  die "$data_root is not an overlay2 Docker data root (no image/overlay2 or overlay2/)"
docker_host=$OVLMOUNT_TEST_DOCKER_HOST
[[ $docker_host == *://* ]] || docker_host="unix://$docker_host"
DOCKER=${OVLMOUNT_TEST_DOCKER:-${DOCKER:-/usr/bin/docker}}
dk() { DOCKER_CONFIG=$work/docker-client DOCKER_CLI_HINTS=false "$DOCKER" -H "$docker_host" "$@"; }
read -r -a images <<<"${OVLMOUNT_VM_IMAGES:-ovltest-multi ovltest-deep ovltest-one}"
vm_timeout=${OVLMOUNT_VM_TIMEOUT:-300}
busybox=${OVLMOUNT_VM_BUSYBOX:-/bin/busybox}

for tool in qemu-system-x86_64 cpio mkfs.ext4 ldd tar awk readelf; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install qemu-system-x86 cpio e2fsprogs binutils)"
done
[[ -x $DOCKER ]] || die "docker client $DOCKER not found"
[[ -x $busybox ]] || die "$busybox not found (apt-get install busybox-static)"
if readelf -l "$busybox" 2>/dev/null | grep -q 'Requesting program interpreter'; then
  die "$busybox is dynamically linked; the VM needs busybox-static"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ovlvm.XXXXXX")
qemu_pid=
containers=()
cleanup() {
  local rc=$?
  if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid" 2>/dev/null || true
    sleep 1
    kill -9 "$qemu_pid" 2>/dev/null || true
  fi
  local c
  for c in "${containers[@]}"; do [[ -n $c ]] && { dk rm -f "$c" >/dev/null 2>&1 || true; }; done
  if [[ ${OVLMOUNT_VM_KEEP:-0} == 1 ]]; then
    log "kept work directory $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. kernel ---------------------------------------------------------------------------
t0=$(date +%s.%N)
kroot=$("$here/fetch-kernel.sh" "${OVLMOUNT_VM_CACHE:-/var/cache/ovlmount-test/vm}") ||
  die "could not fetch the 6.1 kernel (tests/vm/fetch-kernel.sh)"
vmlinuz=$(printf '%s\n' "$kroot"/boot/vmlinuz-* | sort -V | tail -n 1)
krel=${vmlinuz##*/vmlinuz-}
moddir=$kroot/lib/modules/$krel
[[ -f $moddir/modules.dep ]] || die "no $moddir/modules.dep"
log "kernel $krel ($(elapsed "$t0")s)"

# ---- 2. Docker's answer ------------------------------------------------------------------
# For each image: docker create + docker export, extracted as root with numeric owners, then
# the manifest; and Docker's own layer stack (GraphDriver: UpperDir = top layer, LowerDir =
# the others, top first) turned into the l/<LINK> form Docker mounts with.
t0=$(date +%s.%N)
mkdir -p "$work/export" "$work/expected" "$work/got"
: >"$work/config"
n=0
for ref in "${images[@]}"; do
  n=$((n + 1))
  dk image inspect "$ref" >/dev/null 2>&1 || die "image $ref not found in the dockerd at $docker_host"
  cid=$(dk create --network none "$ref" /ovlvm-never-run) || die "docker create $ref failed"
  containers+=("$cid")
  mkdir "$work/export/$n"
  dk export "$cid" | tar -C "$work/export/$n" --numeric-owner -xpf - ||
    die "docker export $ref | tar -x failed"
  dk rm "$cid" >/dev/null || die "docker rm $cid failed"
  containers=("${containers[@]/$cid/}")
  TMPDIR=$work "$busybox" sh "$here/manifest.sh" "$work/export/$n" >"$work/expected/$n" ||
    die "manifest of Docker's export of $ref failed"
  rm -rf "$work/export/$n"

  lowers=
  upper=$(dk image inspect --format '{{index .GraphDriver.Data "UpperDir"}}' "$ref")
  lower=$(dk image inspect --format '{{index .GraphDriver.Data "LowerDir"}}' "$ref")
  IFS=: read -r -a dirs <<<"$upper${lower:+:$lower}"
  for d in "${dirs[@]}"; do
    id=$(basename "$(dirname "$d")")
    [[ $id =~ ^[0-9a-f]{64}$ && -f $data_root/overlay2/$id/link ]] ||
      die "unexpected GraphDriver dir $d for $ref (is $data_root that dockerd's data root?)"
    lowers+="${lowers:+:}l/$(cat "$data_root/overlay2/$id/link")"
  done
  echo "$ref /mnt/${ref//[^A-Za-z0-9._-]/_} ${lowers:--}" >>"$work/config"
  log "docker: $ref: ${#dirs[@]} layers, $(wc -l <"$work/expected/$n") entries"
done
t_docker=$(elapsed "$t0")

# ---- 3. the data root as an ext4 image ----------------------------------------------------
# Only image/ and overlay2/ are needed. cp -a keeps owners, modes, times, hard links, the 0/0
# whiteout devices and the trusted.overlay.opaque xattrs; mkfs.ext4 -d copies them all on.
t0=$(date +%s.%N)
stage=$work/dataroot
mkdir "$stage"
cp -a --one-file-system "$data_root/image" "$data_root/overlay2" "$stage/"
kib=$(du -sk "$stage" | cut -f1)
inodes=$(find "$stage" | wc -l)
size_mib=$(( kib * 3 / 2 / 1024 + inodes / 128 + 64 ))
mkfs.ext4 -q -F -L ovldata -N $(( inodes + inodes / 4 + 1024 )) -d "$stage" "$work/data.img" "${size_mib}M" >/dev/null ||
  die "mkfs.ext4 -d failed"
rm -rf "$stage"
t_ext4=$(elapsed "$t0")
log "data-root image: ${size_mib} MiB, $inodes entries (${t_ext4}s)"

# ---- 4. initramfs -------------------------------------------------------------------------
t0=$(date +%s.%N)
root=$work/initramfs
mkdir -p "$root"/{bin,dev,modules,test,usr/sbin}
cp "$busybox" "$root/bin/busybox"
cp "$here/init.sh" "$root/init"
cp "$here/manifest.sh" "$root/test/manifest.sh"
cp "$work/config" "$root/test/config"
chmod 755 "$root/init" "$root/test/manifest.sh"
mknod -m 600 "$root/dev/console" c 5 1

# Modules, dependencies first (modules.dep lists every module a module needs).
declare -A modpath=() moddeps=() loaded=()
while IFS= read -r line; do
  path=${line%%:*}
  name=${path##*/}; name=${name%%.ko*}; name=${name//-/_}
  modpath[$name]=$path
  moddeps[$path]=${line#*:}
done <"$moddir/modules.dep"
order=()
add_module() { # add_module PATH
  local p=$1 d
  [[ -n ${loaded[$p]:-} ]] && return 0
  loaded[$p]=1
  for d in ${moddeps[$p]}; do add_module "$d"; done
  order+=("$p")
}
# ext4 and jbd2 take crc32c from the crypto API (softdep crypto-crc32c): crc32c_generic.
for m in ${OVLMOUNT_VM_MODULES:-virtio_pci virtio_blk crc32c_generic ext4 overlay}; do
  if [[ -n ${modpath[$m]:-} ]]; then
    add_module "${modpath[$m]}"
  elif grep -q "/${m//_/[-_]}\.ko" "$moddir/modules.builtin" 2>/dev/null; then
    log "module $m is built in"
  else
    die "module $m not found in $moddir"
  fi
done
: >"$root/modules/order"
for p in "${order[@]}"; do
  name=${p##*/}; name=${name%%.ko*}
  case $p in # busybox insmod may not read compressed modules: decompress here.
    *.ko) cp "$moddir/$p" "$root/modules/$name.ko" ;;
    *.ko.xz) xz -dc "$moddir/$p" >"$root/modules/$name.ko" ;;
    *.ko.zst) zstd -qdc "$moddir/$p" >"$root/modules/$name.ko" ;;
    *.ko.gz) gzip -dc "$moddir/$p" >"$root/modules/$name.ko" ;;
    *) die "unknown module file $p" ;;
  esac
  echo "$name" >>"$root/modules/order"
done
log "modules: $(tr '\n' ' ' <"$root/modules/order")"

# ovlmount, plus every library ldd lists (and the dynamic loader) at the same paths.
cp "$OVLMOUNT_BIN" "$root/usr/sbin/ovlmount"
chmod 755 "$root/usr/sbin/ovlmount"
if ldd_out=$(ldd "$OVLMOUNT_BIN" 2>&1); then
  while read -r a b c _; do
    if [[ $b == "=>" ]]; then
      [[ $c == not ]] && die "ldd: $a not found for $OVLMOUNT_BIN"
      lib=$c
    elif [[ $a == /* ]]; then
      lib=$a
    else
      continue # linux-vdso.so.1
    fi
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done <<<"$ldd_out"
else
  log "ovlmount is not dynamically linked ($ldd_out)"
fi
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$work/initrd.cpio" ||
  die "cpio failed"
t_initrd=$(elapsed "$t0")
log "initramfs: $(du -k "$work/initrd.cpio" | cut -f1) KiB, libs: $(cd "$root" && find . -name '*.so*' | tr '\n' ' ') (${t_initrd}s)"

# ---- 5. boot ------------------------------------------------------------------------------
console=$work/console.log
result=$work/result.log
: >"$console"; : >"$result"
t_vm=$(date +%s.%N)
# setpriv --pdeathsig: qemu dies with this script even if the script is SIGKILLed (ctest's
# timeout); $! is qemu's own PID (setpriv execs it), which the loop below kills on timeout.
pdeath=()
setpriv --pdeathsig KILL true 2>/dev/null && pdeath=(setpriv --pdeathsig KILL)
"${pdeath[@]}" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 -no-reboot -nodefaults -nographic \
  -monitor none -kernel "$vmlinuz" -initrd "$work/initrd.cpio" \
  -append "console=ttyS0 panic=-1 loglevel=4" \
  -drive "file=$work/data.img,if=virtio,format=raw,readonly=on" \
  -serial "file:$console" -serial "file:$result" -net none \
  </dev/null >"$work/qemu.out" 2>&1 &
qemu_pid=$!
t_boot=
timed_out=
deadline=$(( $(date +%s) + vm_timeout ))
while kill -0 "$qemu_pid" 2>/dev/null; do
  if [[ -z $t_boot ]] && grep -q '^@@OVLVM uname ' "$result"; then
    t_boot=$(elapsed "$t_vm")
    log "VM is up after ${t_boot}s: $(grep -m1 '^@@OVLVM uname ' "$result" | tr -d '\r')"
  fi
  if (( $(date +%s) >= deadline )); then
    log "VM still running after ${vm_timeout}s: killing qemu (pid $qemu_pid)"
    timed_out=1
    kill "$qemu_pid" 2>/dev/null || true
    sleep 2
    kill -9 "$qemu_pid" 2>/dev/null || true
    break
  fi
  sleep 0.25
done
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=
t_vm=$(elapsed "$t_vm")
log "VM ran ${t_vm}s (qemu exit $qemu_rc)"
[[ -s $work/qemu.out ]] && log "qemu said: $(head -c 2000 "$work/qemu.out")"

# ---- 6. verdict ---------------------------------------------------------------------------
tr -d '\r' <"$result" >"$work/result.txt"
failures=0
bad() { echo "vm-test: FAIL: $*" >&2; failures=$((failures + 1)); }
# block NAME: the lines between @@OVLVM-BEGIN NAME and @@OVLVM-END NAME
block() { awk -v b="@@OVLVM-BEGIN $1" -v e="@@OVLVM-END $1" '$0 == e { p = 0 } p { print } $0 == b { p = 1 }' "$work/result.txt"; }

grep '^@@OVLVM \(log\|FAIL\|boot\)' "$work/result.txt" | sed 's/^@@OVLVM /  guest: /' >&2 || true
for name in version list list-json list-after state-after leftover-mounts; do
  if grep -qx "@@OVLVM-BEGIN $name" "$work/result.txt"; then
    echo "  guest $name:" >&2
    block "$name" | head -n 40 | cut -c 1-300 | sed 's/^/    /' >&2
  fi
done

uname_r=$(sed -n 's/^@@OVLVM uname //p' "$work/result.txt" | head -n 1)
if [[ -z $uname_r ]]; then
  bad "the VM never reported its kernel; last console lines:"
  tail -n 40 "$console" | tr -d '\r' | sed 's/^/    /' >&2
elif [[ $uname_r != 6.1.* ]]; then
  bad "the VM runs kernel $uname_r, not 6.1"
fi

n=0
for ref in "${images[@]}"; do
  n=$((n + 1))
  if ! grep -qx "@@OVLVM-BEGIN ovlmount:$ref" "$work/result.txt"; then
    bad "$ref: no manifest from the VM (mount failed?)"
    for b in "mount:$ref" "dmesg-after:$ref"; do block "$b" | sed "s|^|    $b: |" >&2; done
    continue
  fi
  block "mountinfo:$ref" | sed "s|^|  guest mountinfo $ref: |" | cut -c 1-400 >&2
  block "ovlmount:$ref" >"$work/got/$n"
  if cmp -s "$work/expected/$n" "$work/got/$n"; then
    log "$ref: ovlmount's tree in the 6.1 VM matches docker export ($(wc -l <"$work/got/$n") entries)"
  else
    bad "$ref: ovlmount's tree differs from docker export (--- docker export, +++ ovlmount in VM):"
    diff -u "$work/expected/$n" "$work/got/$n" | head -n 60 >&2 || true
  fi
  if grep -qx "@@OVLVM-BEGIN ref:$ref" "$work/result.txt"; then
    block "ref:$ref" >"$work/got/ref$n"
    if ! cmp -s "$work/expected/$n" "$work/got/ref$n"; then
      bad "$ref: Docker's own layer stack mounted in the VM differs from docker export (VM or data-root image problem, not ovlmount's):"
      diff -u "$work/expected/$n" "$work/got/ref$n" | head -n 30 >&2 || true
    fi
  fi
done

verdict=$(sed -n 's/^@@OVLVM RESULT //p' "$work/result.txt" | tail -n 1)
case $verdict in
  PASS) ;;
  FAIL) bad "the VM reported failures (the 'guest: FAIL' lines above)"
        block dmesg | tail -n 30 | sed 's/^/    dmesg: /' >&2 ;;
  *) if [[ -n $timed_out ]]; then
       bad "the VM printed no verdict: killed after ${vm_timeout}s (OVLMOUNT_VM_TIMEOUT); last console lines:"
     else
       bad "the VM printed no verdict (crashed?); last console lines:"
     fi
     tail -n 40 "$console" | tr -d '\r' | sed 's/^/    /' >&2
     echo >&2 ;;
esac

log "timings: docker export ${t_docker}s, ext4 image ${t_ext4}s, initramfs ${t_initrd}s, VM boot ${t_boot:-?}s, VM total ${t_vm}s, test total $(elapsed "$t_start")s"
if (( failures > 0 )); then
  log "FAILED ($failures problems)"
  exit 1
fi
log "PASS: ${images[*]} mounted by ovlmount on kernel $uname_r match docker export"
