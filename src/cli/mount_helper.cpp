// Why: see mount_helper.hpp. Options are split by libmount's own parser (it knows mount(8)'s
// quoting). The utab entry's source is "ovlmount", the overlay's source in mountinfo, because
// libmount joins a utab entry to its mount by source, root and target; it carries `helper=ovlmount`
// (umount(8) honours `uhelper=` only for non-root users, `helper=` for everyone) and the state dir
// as `x-ovlmount.state-dir=`, since umount(8) passes its helper no options. `-N` enters the
// namespace before anything else, so the stores, the state dir and utab are all the namespace's.
#include "ovlmount/cli/mount_helper.hpp"

#include "ovlmount/core/paths.hpp"
#include "ovlmount/mount/mount_table.hpp"
#include "ovlmount/mount/mounter.hpp"
#include "ovlmount/mount/registry.hpp"
#include "ovlmount/store/config.hpp"
#include "ovlmount/store/platform.hpp"

#include <fcntl.h>
#include <libmount/libmount.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>

namespace ovlmount {
namespace {

constexpr std::string_view mount_helper_name = "mount.ovlmount";
constexpr std::string_view umount_helper_name = "umount.ovlmount";
constexpr const char* state_dir_option = "x-ovlmount.state-dir";

std::string_view basename_of(std::string_view program) {
  const size_t slash = program.rfind('/');
  return slash == std::string_view::npos ? program : program.substr(slash + 1);
}

// Options mount(8) and fstab pass that change nothing here: nosuid and nodev are always applied,
// and mount(8) passes rw whenever ro is not asked for (writability comes from upper=/work= or
// writable).
bool ignored_option(const std::string& name) {
  static const std::set<std::string> ignored = {"rw", "nosuid", "nodev", "exec", "nofail", "auto", "noauto", "user",
                                                "nouser", "users", "defaults", "_netdev", "owner", "noowner",
                                                "group", "nogroup", "comment"};
  return ignored.contains(name) || name.starts_with("x-") || name.starts_with("X-");
}

Error unknown_option(const std::string& name) {
  return failure(name, "not an ovlmount mount option (see ovlmount(8), MOUNT HELPER)");
}

// Applies one `-o` option to `args`.
Result<void> apply_option(const std::string& name, const std::string& value, bool has_value, bool sloppy,
                          MountHelperArgs& args, bool& read_only) {
  static const std::set<std::string> with_value = {"data-root", "host-root", "containerd-root", "storage-root",
                                                   "store", "namespace", "platform", "state-dir", "upper", "work"};
  if (with_value.contains(name) && (!has_value || value.empty()))
    return failure(name, "needs a value (" + name + "=...)");
  if (name == "ro") read_only = true;
  else if (name == "writable") args.mount.writable = true;
  else if (name == "container") args.mount.kind = SourceKind::container;
  else if (name == "volumes") args.mount.volumes = true;
  else if (name == "upper") args.mount.upper = value;
  else if (name == "work") args.mount.work = value;
  else if (name == "data-root") args.stores.data_root = value;
  else if (name == "host-root") args.stores.host_root = value;
  else if (name == "containerd-root") args.stores.containerd_root = value;
  else if (name == "storage-root") args.stores.storage_root = value;
  else if (name == "namespace") args.stores.containerd_namespace = value;
  else if (name == "state-dir") args.state_dir = resolved_path(value);
  else if (name == "store") {
    if (value != "docker" && value != "containers-storage" && value != "containerd")
      return failure(name, "\"" + value + "\" is not a store kind (docker, containers-storage, containerd)");
    args.stores.only = value;
  } else if (name == "platform") {
    auto platform = parse_platform(value);
    if (!platform) return failure(name, platform.error().problem);
    args.stores.platform = std::move(*platform);
  } else if (name == "noexec") {
    return failure(name, "not supported: ovlmount mounts are nosuid,nodev but not noexec");
  } else if (!ignored_option(name) && !sloppy) {
    return unknown_option(name);
  }
  return {};
}

// Splits `options` as libmount does and applies each.
Result<void> apply_options(const std::string& options, bool sloppy, MountHelperArgs& args) {
  std::string copy = options;
  char* next = copy.data();
  char* name = nullptr;
  char* value = nullptr;
  size_t name_size = 0;
  size_t value_size = 0;
  bool read_only = false;
  int rc = 0;
  while ((rc = mnt_optstr_next_option(&next, &name, &name_size, &value, &value_size)) == 0) {
    const std::string option_name(name, name_size);
    const std::string option_value = value ? std::string(value, value_size) : std::string();
    if (auto applied = apply_option(option_name, option_value, value != nullptr, sloppy, args, read_only);
        !applied)
      return applied.error();
  }
  if (rc < 0) return failure(options, "cannot parse the mount options");
  const bool writable = args.mount.writable || !args.mount.upper.empty() || !args.mount.work.empty();
  if (args.mount.upper.empty() != args.mount.work.empty())
    return failure(args.mount.upper.empty() ? "work" : "upper", "upper= and work= go together");
  if (args.mount.writable && !args.mount.upper.empty())
    return failure("writable", "makes its own upper/work dirs; not with upper=/work=");
  if (read_only && writable) return failure("ro", "not with upper=/work= or writable");
  if (!args.stores.host_root.empty() && args.stores.host_root != "/" &&
      (!args.stores.data_root.empty() || !args.stores.storage_root.empty() || !args.stores.containerd_root.empty()))
    return failure("host-root", "not with data-root=, storage-root= or containerd-root=");
  return {};
}

// The value of a short option: the rest of `args[i]` after the letter, or the next argument.
Result<std::string> option_value(const std::vector<std::string>& args, size_t& i, size_t letter) {
  if (letter + 1 < args[i].size()) return args[i].substr(letter + 1);
  if (i + 1 < args.size()) return args[++i];
  return usage_error(std::string("-") + args[i][letter], "needs a value");
}

// Enters the mount namespace `ns` (a namespace file such as /proc/PID/ns/mnt, or a PID).
Result<void> enter_namespace(const std::string& ns) {
  const bool pid = ns.find_first_not_of("0123456789") == std::string::npos;
  const std::string path = pid ? "/proc/" + ns + "/ns/mnt" : ns;
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return failure(path, "cannot open the mount namespace: " + errno_text(errno));
  if (::setns(fd.get(), CLONE_NEWNS) != 0)
    return failure(path, "cannot enter the mount namespace: " + errno_text(errno));
  return {};
}

using Update = std::unique_ptr<libmnt_update, void (*)(libmnt_update*)>;
using Fs = std::unique_ptr<libmnt_fs, void (*)(libmnt_fs*)>;
using Table = std::unique_ptr<libmnt_table, void (*)(libmnt_table*)>;

// Adds (`fs`) or removes (`target` only) a utab entry.
Result<void> update_utab(const std::string& target, libmnt_fs* fs) {
  const Update update(mnt_new_update(), mnt_free_update);
  if (!update) return failure("utab", "cannot create a libmount update");
  int rc = mnt_update_set_fs(update.get(), 0, fs ? nullptr : target.c_str(), fs);
  if (rc == 1) return {};
  if (rc == 0) rc = mnt_update_table(update.get(), nullptr);
  if (rc != 0) return failure(target, "cannot update libmount's utab: " + errno_text(rc < 0 ? -rc : EIO));
  return {};
}

// Registers the overlay at `target` in utab: umount(8) then calls umount.ovlmount for it.
Result<void> register_mount(const std::string& target, const std::string& state_dir) {
  if (state_dir.find_first_of(", \t\n\"") != std::string::npos)
    return failure(state_dir, "a state dir with a comma, quote or white space cannot be kept in utab");
  const Fs fs(mnt_new_fs(), mnt_unref_fs);
  if (!fs) return failure("utab", "cannot create a libmount entry");
  const std::string options = "helper=ovlmount," + std::string(state_dir_option) + "=" + state_dir;
  if (mnt_fs_set_source(fs.get(), std::string(mount_source).c_str()) != 0 ||
      mnt_fs_set_target(fs.get(), target.c_str()) != 0 || mnt_fs_set_fstype(fs.get(), "overlay") != 0 ||
      mnt_fs_set_root(fs.get(), "/") != 0 || mnt_fs_set_options(fs.get(), options.c_str()) != 0)
    return failure("utab", "cannot set up a libmount entry");
  return update_utab(target, fs.get());
}

// The state dir the mount at `target` was registered with (utab), else the default.
std::string registered_state_dir(const std::string& target) {
  const Table table(mnt_new_table(), mnt_unref_table);
  if (!table || mnt_table_parse_mtab(table.get(), nullptr) != 0) return default_state_dir;
  libmnt_fs* fs = mnt_table_find_target(table.get(), target.c_str(), MNT_ITER_BACKWARD);
  char* value = nullptr;
  size_t size = 0;
  if (!fs || mnt_fs_get_option(fs, state_dir_option, &value, &size) != 0 || !value || size == 0)
    return default_state_dir;
  return std::string(value, size);
}

std::string canonical_path(const std::string& path) {
  char resolved[PATH_MAX];
  return ::realpath(path.c_str(), resolved) ? std::string(resolved) : path;
}

// Whether `target` already has the overlay of this very request (a record of the same source and
// reference): mount(8) cannot tell, since the overlay's source is "ovlmount", not the reference,
// so `mount -a` asks again for every ovlmount line of fstab.
bool already_mounted(const MountHelperArgs& args, const std::string& target, const Registry& registry,
                     const MountTable& table) {
  auto record = registry.find(target);
  auto mounts = table.read();
  if (!record || !*record || !mounts) return false;
  const MountRecord& found = **record;
  if (found.source != args.mount.kind || found.reference != args.mount.image) return false;
  return std::any_of(mounts->begin(), mounts->end(),
                     [&](const MountEntry& entry) { return is_ovlmount_mount(entry, target); });
}

HelperExit exit_for(const Error& error) {
  return error.code == ExitCode::usage ? HelperExit::usage : HelperExit::failure;
}

int report(const Error& error, HelperExit code) {
  std::cout.flush();
  std::cerr << error.message() << "\n";
  return static_cast<int>(code);
}

int mount_helper(const std::vector<std::string>& argv) {
  auto args = parse_mount_helper(argv);
  if (!args) return report(args.error(), exit_for(args.error()));
  if (!args->ns.empty())
    if (auto entered = enter_namespace(args->ns); !entered) return report(entered.error(), HelperExit::failure);
  if (!args->mount.dry_run && ::geteuid() != 0)
    return report(failure(std::string(mount_helper_name), "must be run as root (it mounts filesystems)"),
                  HelperExit::usage);
  auto stores = find_stores(args->stores);
  if (!stores) return report(stores.error(), HelperExit::failure);
  const Registry registry(args->state_dir);
  const ProcMountTable table;
  KernelMounter mounter;
  std::ostringstream quiet;
  std::ostream& out = args->verbose ? std::cout : quiet;
  const std::string target = canonical_path(args->mount.target);
  if (already_mounted(*args, target, registry, table)) {
    out << "already mounted: " << escape(args->mount.image) << " at " << escape(target) << "\n";
    return 0;
  }
  if (auto mounted = run_mount(*stores, args->mount, registry, mounter, table, out, std::cerr); !mounted)
    return report(mounted.error(), HelperExit::failure);
  if (args->mount.dry_run || args->no_utab) return 0;
  if (auto registered = register_mount(target, args->state_dir); !registered)
    return report(registered.error(), HelperExit::mtab);
  if (args->verbose) std::cout << "registered " << escape(target) << " in libmount's utab (helper=ovlmount)\n";
  return 0;
}

int umount_helper(const std::vector<std::string>& argv) {
  auto args = parse_umount_helper(argv);
  if (!args) return report(args.error(), exit_for(args.error()));
  if (!args->ns.empty())
    if (auto entered = enter_namespace(args->ns); !entered) return report(entered.error(), HelperExit::failure);
  if (::geteuid() != 0)
    return report(failure(std::string(umount_helper_name), "must be run as root (it unmounts filesystems)"),
                  HelperExit::usage);
  const std::string target = canonical_path(args->target);
  const Registry registry(registered_state_dir(target));
  const ProcMountTable table;
  KernelMounter mounter;
  UmountArgs umount;
  umount.target = target;
  umount.force = true;
  umount.lazy = args->lazy;
  std::ostringstream quiet;
  std::ostream& out = args->verbose ? std::cout : quiet;
  if (auto unmounted = run_umount(umount, registry, mounter, table, out, std::cerr); !unmounted)
    return report(unmounted.error(), HelperExit::failure);
  if (args->no_utab) return 0;
  if (auto removed = update_utab(target, nullptr); !removed) return report(removed.error(), HelperExit::mtab);
  return 0;
}

}  // namespace

bool is_mount_helper(std::string_view program) {
  const std::string_view name = basename_of(program);
  return name == mount_helper_name || name == umount_helper_name;
}

Result<MountHelperArgs> parse_mount_helper(const std::vector<std::string>& args) {
  MountHelperArgs parsed;
  parsed.state_dir = default_state_dir;
  std::vector<std::string> positional;
  std::string options;
  bool sloppy = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].size() < 2 || args[i][0] != '-') {
      positional.push_back(args[i]);
      continue;
    }
    for (size_t letter = 1; letter < args[i].size(); ++letter) {
      const char flag = args[i][letter];
      if (flag == 's') sloppy = true;
      else if (flag == 'f') parsed.mount.dry_run = true;
      else if (flag == 'n') parsed.no_utab = true;
      else if (flag == 'v') parsed.verbose = true;
      else if (flag == 'N' || flag == 'o' || flag == 't') {
        auto value = option_value(args, i, letter);
        if (!value) return value.error();
        if (flag == 'N') parsed.ns = *value;
        if (flag == 'o') options += (options.empty() ? "" : ",") + *value;
        break;
      } else {
        return usage_error(std::string("-") + flag,
                           "unknown flag; usage: mount.ovlmount SOURCE TARGET [-sfnv] [-N NS] [-o OPTIONS] [-t TYPE]");
      }
    }
  }
  if (positional.size() != 2)
    return usage_error(std::string(mount_helper_name),
                       std::string(positional.size() < 2 ? "missing" : "too many") +
                           " arguments; usage: mount.ovlmount SOURCE TARGET [-sfnv] [-N NS] [-o OPTIONS] [-t TYPE]");
  parsed.mount.image = positional[0];
  parsed.mount.target = positional[1];
  if (auto applied = apply_options(options, sloppy, parsed); !applied) return applied.error();
  return parsed;
}

Result<UmountHelperArgs> parse_umount_helper(const std::vector<std::string>& args) {
  UmountHelperArgs parsed;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].size() < 2 || args[i][0] != '-') {
      positional.push_back(args[i]);
      continue;
    }
    for (size_t letter = 1; letter < args[i].size(); ++letter) {
      const char flag = args[i][letter];
      if (flag == 'l') parsed.lazy = true;
      else if (flag == 'n') parsed.no_utab = true;
      else if (flag == 'v') parsed.verbose = true;
      else if (flag == 'f' || flag == 'r') continue;
      else if (flag == 'N' || flag == 't') {
        auto value = option_value(args, i, letter);
        if (!value) return value.error();
        if (flag == 'N') parsed.ns = *value;
        break;
      } else {
        return usage_error(std::string("-") + flag,
                           "unknown flag; usage: umount.ovlmount TARGET [-flnrv] [-N NS] [-t TYPE]");
      }
    }
  }
  if (positional.size() != 1)
    return usage_error(std::string(umount_helper_name),
                       std::string(positional.empty() ? "missing" : "too many") +
                           " arguments; usage: umount.ovlmount TARGET [-flnrv] [-N NS] [-t TYPE]");
  parsed.target = positional[0];
  return parsed;
}

int run_mount_helper(int argc, const char* const argv[]) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (basename_of(argv[0]) == umount_helper_name) return umount_helper(args);
    return mount_helper(args);
  } catch (const Fatal& fatal) {
    return report(fatal.error(), exit_for(fatal.error()));
  } catch (const std::exception& e) {
    return report(failure("", e.what()), HelperExit::failure);
  }
}

}  // namespace ovlmount
