#!/usr/bin/env bash
# The systemd files, as installed (DESTDIR staging of `cmake --install`, prefix /usr):
#   - `systemd-analyze --root=STAGE verify` says nothing about each unit: its syntax, that its
#     Exec binaries exist (the staged /usr/sbin/ovlmount) and that its Documentation= man page
#     exists (the staged one, through MANPATH);
#   - the cleanup unit says what ovlmount(8) and issue 8 promise (oneshot, kept active, the
#     commands at boot and shutdown, ordered before filesystems are unmounted) and has no
#     setting that would run it in a mount namespace of its own, where its unmounts would not
#     reach the host;
#   - the example mount unit docs/examples/srv-nginx\x2droot.mount verifies the same way;
#   - `systemd-tmpfiles --root=STAGE --create` makes STAGE/run/ovlmount, mode 0700 (root:root
#     when run as root).
# Usage: systemd_test.sh CMAKE BUILD_DIR
set -uo pipefail

cmake=$1
build=$2
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

for tool in systemd-analyze systemd-tmpfiles man; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 1; }
done
# shellcheck source=/dev/null
source "$build/packaging/install-dirs.sh" || { echo "FAIL: no $build/packaging/install-dirs.sh" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stage=$tmp/stage
out=$(DESTDIR="$stage" "$cmake" --install "$build" --prefix /usr 2>&1) || { echo "$out" >&2; exit 1; }
case $UNITDIR in /*) unit_dir=$UNITDIR ;; *) unit_dir=/usr/$UNITDIR ;; esac
case $TMPFILESDIR in /*) tmpfiles_dir=$TMPFILESDIR ;; *) tmpfiles_dir=/usr/$TMPFILESDIR ;; esac

# ---- systemd-analyze verify --------------------------------------------------------------
units=$(cd "$stage$unit_dir" && ls)
[ -n "$units" ] || fail "no unit installed in $unit_dir"
for unit in $units; do
  said=$(cd "$tmp" && MANPATH="$stage/usr/share/man" systemd-analyze --root="$stage" verify "$unit" 2>&1)
  status=$?
  [ $status -eq 0 ] && [ -z "$said" ] || fail "systemd-analyze verify $unit (exit $status): $said"
done

# The example mount unit of docs/examples (Type=ovlmount: mount(8) runs mount.ovlmount), against
# the staged tree, whose /usr/sbin has the helper.
example=$(dirname "$0")/../../docs/examples/'srv-nginx\x2droot.mount'
mkdir -p "$stage/etc/systemd/system"
cp "$example" "$stage/etc/systemd/system/"
said=$(cd "$tmp" && MANPATH="$stage/usr/share/man" systemd-analyze --root="$stage" verify "srv-nginx\\x2droot.mount" 2>&1)
status=$?
[ $status -eq 0 ] && [ -z "$said" ] || fail "systemd-analyze verify the example mount unit (exit $status): $said"
[ -x "$stage/usr/sbin/mount.ovlmount" ] || fail "the staged tree has no /usr/sbin/mount.ovlmount for Type=ovlmount"

# ---- what the cleanup unit says ----------------------------------------------------------
unit=$stage$unit_dir/ovlmount-cleanup.service
# The value of KEY (all of its lines, space-joined).
value() { sed -n "s/^$1=//p" "$unit" | tr '\n' ' ' | sed 's/ $//'; }
has() { [[ " $(value "$1") " == *" $2 "* ]] || fail "ovlmount-cleanup.service: $1= does not have $2"; }
[ "$(value Type)" = oneshot ] || fail "Type= is not oneshot"
[ "$(value RemainAfterExit)" = yes ] || fail "RemainAfterExit= is not yes"
[ "$(value DefaultDependencies)" = no ] || fail "DefaultDependencies= is not no"
[ "$(value ExecStart)" = "/usr/sbin/ovlmount cleanup" ] || fail "ExecStart= is '$(value ExecStart)'"
[ "$(value ExecStop)" = "/usr/sbin/ovlmount umount --all --lazy" ] || fail "ExecStop= is '$(value ExecStop)'"
[ "$(value Documentation)" = "man:ovlmount(8)" ] || fail "Documentation= is '$(value Documentation)'"
has Before umount.target
has Conflicts umount.target
has After local-fs.target
has After remote-fs.target
has CapabilityBoundingSet CAP_SYS_ADMIN
[ "$(value NoNewPrivileges)" = yes ] || fail "NoNewPrivileges= is not yes"
[ -n "$(sed -n 's/^WantedBy=//p' "$unit")" ] || fail "no WantedBy= (systemctl enable would do nothing)"
# Each of these runs the service in a mount namespace of its own.
for key in PrivateMounts PrivateTmp PrivateDevices PrivateNetwork PrivateIPC PrivateUsers ProtectSystem \
  ProtectHome ProtectKernelTunables ProtectKernelModules ProtectKernelLogs ProtectControlGroups ProtectClock \
  ProtectHostname ProtectProc ProcSubset ReadWritePaths ReadOnlyPaths InaccessiblePaths ExecPaths NoExecPaths \
  TemporaryFileSystem BindPaths BindReadOnlyPaths RootDirectory RootImage MountAPIVFS MountFlags \
  NetworkNamespacePath IPCNamespacePath LogNamespace StateDirectory RuntimeDirectory CacheDirectory \
  LogsDirectory ConfigurationDirectory DynamicUser; do
  grep -q "^$key=" "$unit" && fail "ovlmount-cleanup.service sets $key=, which gives it a mount namespace of its own"
done

# ---- tmpfiles.d --------------------------------------------------------------------------
[ -f "$stage$tmpfiles_dir/ovlmount.conf" ] || fail "no $tmpfiles_dir/ovlmount.conf"
said=$(systemd-tmpfiles --root="$stage" --create ovlmount.conf 2>&1) || fail "systemd-tmpfiles --create: $said"
[ -z "$said" ] || fail "systemd-tmpfiles --create said: $said"
if [ -d "$stage/run/ovlmount" ]; then
  [ "$(stat -c %a "$stage/run/ovlmount")" = 700 ] || fail "run/ovlmount has mode $(stat -c %a "$stage/run/ovlmount")"
  if [ "$(id -u)" = 0 ]; then
    [ "$(stat -c %u:%g "$stage/run/ovlmount")" = 0:0 ] || fail "run/ovlmount is owned by $(stat -c %u:%g "$stage/run/ovlmount")"
  fi
else
  fail "systemd-tmpfiles made no run/ovlmount"
fi

if [ "$failures" -ne 0 ]; then
  echo "systemd_test: $failures failure(s)" >&2
  exit 1
fi
echo "systemd_test: $(wc -w <<<"$units") unit(s), tmpfiles.d: ok"
