// Why: mount(8) and umount(8) hand `-t ovlmount` to /sbin/mount.ovlmount and /sbin/umount.ovlmount,
// links to the ovlmount binary, which recognises them by name. The helpers speak util-linux's
// calling convention and exit codes (not ovlmount's own), map `-o` options onto the same
// MountArgs and StoreOptions the command line builds, and register each mount in libmount's utab
// with `helper=ovlmount`, the marker that makes umount(8) call umount.ovlmount, so a plain
// `umount TARGET` also forgets the record and removes the scratch dirs.
#pragma once

#include "ovlmount/cli/commands.hpp"
#include "ovlmount/core/error.hpp"
#include "ovlmount/store/stores.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace ovlmount {

// mount(8)'s exit codes, which its helpers return too.
enum class HelperExit : int {
  ok = 0,
  usage = 1,     // incorrect invocation or permissions
  mtab = 16,     // mounted, but utab could not be written
  failure = 32,  // mount (or unmount) failure, an unknown option included
};

// What `mount.ovlmount SOURCE TARGET [-sfnv] [-N NS] [-o OPTIONS] [-t TYPE]` asks for.
struct MountHelperArgs {
  MountArgs mount;        // image or container (`container`), target, upper/work or writable
  StoreOptions stores;    // data-root=, host-root=, containerd-root=, storage-root=, store=, namespace=, platform=
  std::string state_dir;  // state-dir= (absolute), default /run/ovlmount
  std::string ns;         // -N: a mount namespace file or a PID
  bool verbose = false;   // -v: say what was done on stdout
  bool no_utab = false;   // -n: do not register the mount in utab
};

// What `umount.ovlmount TARGET [-flnrv] [-N NS] [-t TYPE]` asks for.
struct UmountHelperArgs {
  std::string target;
  std::string ns;
  bool lazy = false;     // -l
  bool verbose = false;  // -v
  bool no_utab = false;  // -n
};

// Whether `program` (argv[0]) is the mount helper ("mount.ovlmount", any directory) or the
// umount helper ("umount.ovlmount").
bool is_mount_helper(std::string_view program);

// Parses the mount helper's arguments (argv[0] excluded from `args`). A bad command line is a
// usage error; an option `-o` does not know is a failure (exit 32) unless `-s` (sloppy) is given.
Result<MountHelperArgs> parse_mount_helper(const std::vector<std::string>& args);

// Parses the umount helper's arguments (argv[0] excluded); `-f`, `-r` and `-t` are accepted and
// ignored (an overlay has nothing to force or remount).
Result<UmountHelperArgs> parse_umount_helper(const std::vector<std::string>& args);

// Runs the helper argv[0] names with mount(8)'s conventions: silent on success (`-v` prints what
// was done), one line "ovlmount: <object>: <problem>" on stderr otherwise; returns the exit code.
int run_mount_helper(int argc, const char* const argv[]);

}  // namespace ovlmount
