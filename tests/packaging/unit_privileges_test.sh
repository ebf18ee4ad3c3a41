#!/usr/bin/env bash
# ovlmount-cleanup.service's commands work with the privileges the unit leaves them: its
# ExecStart= and ExecStop= (the binary replaced by the built one, with a state dir of the
# test's own) run under setpriv with the unit's CapabilityBoundingSet= and NoNewPrivileges=,
# in a mount namespace of the test's own (unshare -m), on a state dir that needs them all:
#   - a recorded overlay that is mounted (ExecStop must unmount it; CAP_SYS_ADMIN),
#   - a record whose mount is gone, its scratch upper holding files of other users in a sticky
#     dir of another user and a dir no one may enter (ExecStart must remove them:
#     CAP_DAC_OVERRIDE, CAP_FOWNER),
#   - a scratch dir no record owns (removed) and one `run --keep` kept (left alone).
# The same scenario with CAP_SYS_ADMIN alone must fail, or it would not show the others are
# needed. Needs root (it mounts); fails, saying so, without it.
# Usage: unit_privileges_test.sh OVLMOUNT UNIT
set -uo pipefail

if [ "${1:-}" != --inside ]; then
  [ "$(id -u)" = 0 ] || { echo "FAIL: needs root (it mounts an overlay in a private mount namespace)" >&2; exit 1; }
  command -v setpriv >/dev/null || { echo "FAIL: setpriv (util-linux) is not installed" >&2; exit 1; }
  exec unshare -m --propagation private bash "$0" --inside "$@"
fi
shift
bin=$1
unit=$2
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# setpriv's --bounding-set from the unit's CapabilityBoundingSet= (CAP_SYS_ADMIN -> +sys_admin).
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr ' ' '\n' | grep . | tr 'A-Z' 'a-z' | sed 's/^cap_/+/' | paste -sd, -)
[ -n "$caps" ] || { echo "FAIL: $unit has no CapabilityBoundingSet=" >&2; exit 1; }
nnp=()
grep -qx 'NoNewPrivileges=yes' "$unit" && nnp=(--no-new-privs)
exec_start=$(sed -n 's|^ExecStart=/usr/sbin/ovlmount ||p' "$unit")
exec_stop=$(sed -n 's|^ExecStop=/usr/sbin/ovlmount ||p' "$unit")
[ -n "$exec_start" ] && [ -n "$exec_stop" ] || { echo "FAIL: $unit runs no /usr/sbin/ovlmount" >&2; exit 1; }

# The scenario, on a tmpfs of its own; prints the state dir.
setup() {
  local top state
  top=$(mktemp -d /tmp/ovlmount-unit.XXXXXX)
  mount -t tmpfs tmpfs "$top"
  state=$top/state
  mkdir -p "$state/mounts" "$state/scratch" "$top/lower" "$top/upper" "$top/work" "$top/target"
  chmod 0700 "$state"
  echo x >"$top/lower/file"
  mount -t overlay ovlmount -o "lowerdir=$top/lower,upperdir=$top/upper,workdir=$top/work" "$top/target"
  record "$state" "$top/target" null "$top/lower"
  local scratch=$state/scratch/gone01
  record "$state" "$top/gone" "\"$scratch\"" "$top/lower"
  mkdir -p "$scratch/upper/tmp" "$scratch/upper/home/u/shared/locked" "$scratch/work"
  chmod 1777 "$scratch/upper/tmp"
  touch "$scratch/upper/tmp/f"
  chown 1001:1001 "$scratch/upper/tmp/f"
  chown 1000:1000 "$scratch/upper/home/u/shared"
  chmod 1777 "$scratch/upper/home/u/shared"
  echo y >"$scratch/upper/home/u/shared/locked/g"
  chown -R 1001:1001 "$scratch/upper/home/u/shared/locked"
  chmod 0 "$scratch/upper/home/u/shared/locked"
  mkdir -p "$state/scratch/orphan/upper/secret" "$state/scratch/kept01/upper"
  chown 1002:1002 "$state/scratch/orphan/upper/secret"
  chmod 0 "$state/scratch/orphan/upper/secret"
  touch "$state/scratch/kept01/kept"
  echo "$top"
}
# record STATE TARGET SCRATCH(JSON) LOWER: a mount record as ovlmount writes it.
record() {
  local name
  name=$(printf %s "$2" | sha256sum | cut -c1-32)
  printf '{"target":"%s","source":"image","reference":"test","image_id":"sha256:%064d","container_id":null,"store":"docker","data_root":"/nonexistent","lowerdir":["%s"],"upper":null,"work":null,"scratch":%s,"writable":false,"submounts":[],"created":"2026-01-01T00:00:00Z"}\n' \
    "$2" 0 "$4" "$3" >"$1/mounts/$name.json"
}
teardown() { umount -R -l "$1" 2>/dev/null; rmdir "$1" 2>/dev/null; }
# as CAPS COMMAND...: the built ovlmount as the unit would run it.
as() {
  local set=$1
  shift
  # shellcheck disable=SC2086
  setpriv --bounding-set "-all,$set" --inh-caps -all "${nnp[@]}" -- "$bin" --state-dir "$state" "$@"
}
mounted() { findmnt -rn -o TARGET | grep -qxF "$1"; }

# ---- with the unit's privileges ----------------------------------------------------------
top=$(setup)
state=$top/state
# shellcheck disable=SC2086
out=$(as "$caps" $exec_start 2>&1) || fail "ExecStart ($exec_start) with $caps failed: $out"
[ ! -e "$state/scratch/gone01" ] || fail "ExecStart left the scratch dir of a gone mount"
[ ! -e "$state/scratch/orphan" ] || fail "ExecStart left a scratch dir no record owns"
[ -e "$state/scratch/kept01" ] || fail "ExecStart removed a scratch dir run --keep kept"
[ "$(ls "$state/mounts" | wc -l)" = 1 ] || fail "ExecStart left $(ls "$state/mounts" | wc -l) records, want 1"
mounted "$top/target" || fail "ExecStart unmounted a live mount"
# shellcheck disable=SC2086
out=$(as "$caps" $exec_stop 2>&1) || fail "ExecStop ($exec_stop) with $caps failed: $out"
mounted "$top/target" && fail "ExecStop left $top/target mounted"
[ "$(ls "$state/mounts" | wc -l)" = 0 ] || fail "ExecStop left records"
teardown "$top"

# ---- with CAP_SYS_ADMIN alone: the scenario needs the others -----------------------------
top=$(setup)
state=$top/state
# shellcheck disable=SC2086
if as +sys_admin $exec_start >/dev/null 2>&1 && [ ! -e "$state/scratch/gone01" ]; then
  fail "cleanup needed no more than CAP_SYS_ADMIN: the scenario does not test the unit's other capabilities"
fi
teardown "$top"

if [ "$failures" -ne 0 ]; then
  echo "unit_privileges_test: $failures failure(s)" >&2
  exit 1
fi
echo "unit_privileges_test: ExecStart and ExecStop with $caps: ok"
