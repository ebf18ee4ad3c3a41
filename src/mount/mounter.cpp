// Why: see mounter.hpp. Nothing here resolves a path the caller gave by following symlinks:
// the target, upper/work and every bind destination are opened with RESOLVE_NO_SYMLINKS and the
// kernel is handed the descriptor, so swapping a path component for a symlink mid-call makes the
// call fail instead of mounting somewhere else. Unmounting checks the mount ID of what is there
// before detaching it. The kernel explains an overlay refusal in the fs context's log (new API)
// or in its own log (mount(2)); the last overlayfs message is added to the error.
#include "ovlmount/mount/mounter.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>

namespace ovlmount {
namespace {

// Reads the kernel log records written after the descriptor was opened (at the end).
class KernelLog {
 public:
  KernelLog() : fd_(::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)) {
    if (fd_) ::lseek(fd_.get(), 0, SEEK_END);
  }

  // The last new record that mentions overlayfs, or "".
  std::string last_overlay_message() const {
    std::string last;
    if (!fd_) return last;
    char record[8192];
    while (true) {
      const ssize_t n = ::read(fd_.get(), record, sizeof record - 1);
      if (n < 0 && (errno == EPIPE || errno == EINTR)) continue;
      if (n <= 0) break;
      const std::string_view text(record, static_cast<size_t>(n));
      const size_t start = text.find(';');
      if (start == std::string_view::npos) continue;
      const std::string_view message = text.substr(start + 1, text.find('\n', start) - start - 1);
      if (message.find("overlay") != std::string_view::npos) last = message;
    }
    return last;
  }

 private:
  UniqueFd fd_;
};

std::string mount_problem(int errnum, const MountPlan& plan) {
  switch (errnum) {
    case EPERM:
    case EACCES: return "permission denied (mounting needs root, CAP_SYS_ADMIN)";
    case ENOENT: return "a layer, upper or work directory does not exist";
    case ENOTDIR: return "the target or a layer is not a directory";
    case EBUSY:
      return plan.read_only() ? "target is busy"
                              : "target is busy, or upper/work dir is in use by another overlay mount";
    case ENODEV: return "the kernel has no overlay filesystem (modprobe overlay)";
    case ELOOP: return "a layer, upper or work dir is an overlay mount or nested inside another (loop)";
    case EROFS: return "the upper dir is on a read-only filesystem";
    case ENOMEM: return "out of memory";
    case ENAMETOOLONG: return "a layer path is too long";
    case EINVAL:
      return plan.read_only()
                 ? "the kernel rejected the overlay options (a layer dir is unusable as a lower)"
                 : "the kernel rejected the overlay options (upper/work must be on one filesystem that "
                   "supports overlay upper dirs, not an overlay, and not inside each other)";
    default: return "mount failed: " + errno_text(errnum);
  }
}

std::string fd_path(const UniqueFd& fd) { return "/proc/self/fd/" + std::to_string(fd.get()); }

// Opens the absolute `path` with `flags` without following any symlink in any component.
Result<UniqueFd> open_no_symlinks(const std::string& path, int flags, const std::string& what) {
  UniqueFd fd = open_without_symlinks(path, flags);
  if (fd) return fd;
  switch (errno) {
    case ENOENT: return not_found(path, what + " does not exist");
    case ENOTDIR: return mount_error(path, what + " is not a directory");
    case ELOOP:
    case EXDEV: return mount_error(path, what + " is reached through a symlink (changed while mounting?); refused");
    default: return mount_error(path, what + ": " + errno_text(errno));
  }
}

// The ID of the mount the descriptor `fd` is on; 0 when the kernel does not say.
MountId mount_id_of(int fd) {
  struct statx st {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &st) != 0) return 0;
  return (st.stx_mask & STATX_MNT_ID) ? st.stx_mnt_id : 0;
}

// The last error message the kernel left in the fs context `fs`, or "".
std::string fs_context_message(int fs) {
  std::string last;
  char message[1024];
  while (true) {
    const ssize_t n = ::read(fs, message, sizeof message - 1);
    if (n <= 0) break;
    if (n > 2 && message[0] == 'e' && message[1] == ' ') last.assign(message + 2, static_cast<size_t>(n - 2));
  }
  return last;
}

// The layers, opened: lowers top first, then upper and work when the plan is writable.
struct LayerFds {
  std::vector<UniqueFd> lowers;
  UniqueFd upper;
  UniqueFd work;
};

Result<LayerFds> open_layers(const MountPlan& plan, const RootDir& data_root) {
  LayerFds layers;
  for (const auto& dir : plan.layer_dirs) {
    auto fd = data_root.open_dir(dir);
    if (!fd) return fd.error();
    layers.lowers.push_back(std::move(*fd));
  }
  if (!plan.empty_lower.empty()) {
    auto fd = open_no_symlinks(plan.empty_lower, O_PATH | O_DIRECTORY, "empty lower dir");
    if (!fd) return fd.error();
    layers.lowers.push_back(std::move(*fd));
  }
  if (!plan.read_only()) {
    auto upper = open_no_symlinks(plan.upper, O_PATH | O_DIRECTORY, "upper dir");
    if (!upper) return upper.error();
    auto work = open_no_symlinks(plan.work, O_PATH | O_DIRECTORY, "work dir");
    if (!work) return work.error();
    layers.upper = std::move(*upper);
    layers.work = std::move(*work);
  }
  return layers;
}

// Passes directory `dir` as overlay parameter `key`: the descriptor itself where the kernel
// takes one (Linux 6.13), else its /proc/self/fd path. Returns 0 or the errno.
int set_layer(int fs, const char* key, const UniqueFd& dir) {
  if (::syscall(SYS_fsconfig, fs, FSCONFIG_SET_FD, key, nullptr, dir.get()) == 0) return 0;
  if (errno != EINVAL) return errno;
  const std::string path = fd_path(dir);
  return ::syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, key, path.c_str(), 0) == 0 ? 0 : errno;
}

// The outcome of building the overlay with the new mount API.
struct Detached {
  UniqueFd mount;      // the detached overlay, when made
  int errnum = 0;      // why not, when the kernel refused
  std::string detail;  // the kernel's message, if any
  bool unsupported = false;  // the kernel cannot take layers one by one: use mount(2)
};

// Whether this kernel's overlayfs takes layers one by one ("lowerdir+", Linux 6.8). Before 6.5
// overlayfs had no fs_context of its own: the VFS then accepts any key and only the final
// create fails, so the version decides, and an older kernel is never asked.
bool kernel_has_lowerdir_plus() {
  utsname system{};
  int major = 0;
  int minor = 0;
  if (::uname(&system) != 0 || std::sscanf(system.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 6 || (major == 6 && minor >= 8);
}

Detached make_detached(const MountPlan& plan, const LayerFds& layers) {
  Detached result;
  if (!kernel_has_lowerdir_plus()) {
    result.unsupported = true;
    return result;
  }
  const UniqueFd fs(static_cast<int>(::syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC)));
  if (!fs) {
    result.unsupported = errno == ENOSYS;
    result.errnum = errno;
    return result;
  }
  const auto refused = [&](int errnum) {
    result.errnum = errnum;
    result.detail = fs_context_message(fs.get());
    return std::move(result);
  };
  if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, "source", std::string(mount_source).c_str(), 0) != 0)
    return refused(errno);
  for (size_t i = 0; i < layers.lowers.size(); ++i) {
    if (const int errnum = set_layer(fs.get(), "lowerdir+", layers.lowers[i]); errnum != 0) {
      result.unsupported = i == 0 && errnum == EINVAL;
      return refused(errnum);
    }
  }
  if (layers.upper) {
    if (const int errnum = set_layer(fs.get(), "upperdir", layers.upper); errnum != 0) return refused(errnum);
    if (const int errnum = set_layer(fs.get(), "workdir", layers.work); errnum != 0) return refused(errnum);
  }
  if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) return refused(errno);
  unsigned attributes = MOUNT_ATTR_NOSUID;
  if (!plan.devices) attributes |= MOUNT_ATTR_NODEV;
  if (plan.read_only()) attributes |= MOUNT_ATTR_RDONLY;
  result.mount = UniqueFd(static_cast<int>(::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, attributes)));
  if (!result.mount) return refused(errno);
  return result;
}

Error refusal(const MountPlan& plan, int errnum, const std::string& detail) {
  std::string problem = mount_problem(errnum, plan);
  if (!detail.empty()) problem += "; kernel: " + detail;
  return mount_error(plan.target, problem);
}

// Mounts with one mount(2) call onto the target's descriptor (kernels before "lowerdir+").
Result<MountId> mount_legacy(const MountPlan& plan, const LayerFds& layers, const UniqueFd& target) {
  std::vector<std::string> lowers;
  for (const UniqueFd& fd : layers.lowers) lowers.push_back(fd_path(fd));
  const std::string upper = layers.upper ? fd_path(layers.upper) : "";
  const std::string work = layers.work ? fd_path(layers.work) : "";
  auto data = overlay_data(plan, lowers, upper, work);
  if (!data) return data.error();
  const KernelLog log;
  if (::mount(std::string(mount_source).c_str(), fd_path(target).c_str(), "overlay", plan.flags(), data->c_str()) != 0)
    return refusal(plan, errno, log.last_overlay_message());
  auto mounted = open_no_symlinks(plan.target, O_PATH | O_DIRECTORY, "mount target");
  struct statfs mounted_fs {};
  if (!mounted || ::fstatfs(mounted->get(), &mounted_fs) != 0 || mounted_fs.f_type != OVERLAYFS_SUPER_MAGIC)
    return mount_error(plan.target, "mounted, but the target path changed during the mount and no longer leads "
                                    "to the overlay; find it in /proc/self/mountinfo");
  return mount_id_of(mounted->get());
}

}  // namespace

Result<MountId> KernelMounter::mount(const MountPlan& plan, const RootDir& data_root) {
  auto target = open_no_symlinks(plan.target, O_PATH | O_DIRECTORY, "mount target");
  if (!target) return target.error();
  auto layers = open_layers(plan, data_root);
  if (!layers) return layers.error();
  Detached detached = make_detached(plan, *layers);
  if (detached.unsupported) return mount_legacy(plan, *layers, *target);
  if (!detached.mount) return refusal(plan, detached.errnum, detached.detail);
  if (::syscall(SYS_move_mount, detached.mount.get(), "", target->get(), "",
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return refusal(plan, errno, "");
  const MountId id = mount_id_of(detached.mount.get());
  auto landed = open_no_symlinks(plan.target, O_PATH | O_DIRECTORY, "mount target");
  if (!landed || mount_id_of(landed->get()) != id) {
    ::umount2(fd_path(detached.mount).c_str(), MNT_DETACH);
    return mount_error(plan.target, "the path changed during the mount (a directory was renamed or swapped for a "
                                    "symlink); nothing is mounted");
  }
  return id;
}

Result<void> KernelMounter::unmount(const std::string& target, bool lazy, MountId expected) {
  const size_t slash = target.find_last_of('/');
  if (target.empty() || target[0] != '/' || slash + 1 == target.size())
    return mount_error(target, "not a mount point ovlmount can unmount (give an absolute path below /)");
  const std::string parent_path = slash == 0 ? "/" : target.substr(0, slash);
  const std::string name = target.substr(slash + 1);
  auto parent = open_no_symlinks(parent_path, O_PATH | O_DIRECTORY, "parent of the mount point");
  if (!parent) return parent.error();
  struct statx st {};
  if (::statx(parent->get(), name.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE | STATX_MNT_ID, &st) != 0)
    return errno == ENOENT ? not_found(target, "does not exist") : mount_error(target, errno_text(errno));
  if (S_ISLNK(st.stx_mode)) return mount_error(target, "is a symlink, which is never followed; refused");
  if ((st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && !(st.stx_attributes & STATX_ATTR_MOUNT_ROOT))
    return mount_error(target, "not a mount point");
  if (expected != 0 && (st.stx_mask & STATX_MNT_ID) && st.stx_mnt_id != expected)
    return mount_error(target, "is no longer the mount ovlmount made (mount ID " + std::to_string(st.stx_mnt_id) +
                                   ", recorded " + std::to_string(expected) + ")");
  const std::string beneath_parent = fd_path(*parent) + "/" + name;
  if (::umount2(beneath_parent.c_str(), UMOUNT_NOFOLLOW | (lazy ? MNT_DETACH : 0)) == 0) return {};
  switch (errno) {
    case EBUSY: return mount_error(target, "target is busy (a process uses it; try --lazy)");
    case EINVAL: return mount_error(target, "not a mount point");
    case EPERM:
    case EACCES: return mount_error(target, "permission denied (unmounting needs root)");
    default: return mount_error(target, "unmount failed: " + errno_text(errno));
  }
}

Result<void> KernelMounter::bind(const MountPlan& plan, const BindPlan& bind, const RootDir& data_root) {
  UniqueFd source;
  if (bind.in_store) {
    auto fd = data_root.open_dir(bind.source);
    if (!fd) return fd.error();
    source = std::move(*fd);
  } else {
    source = UniqueFd(::open(bind.source.c_str(), O_PATH | O_CLOEXEC));
    if (!source) return errno == ENOENT ? not_found(bind.source, "bind source does not exist")
                                        : failure(bind.source, errno_text(errno));
  }
  auto overlay = open_no_symlinks(plan.target, O_PATH | O_DIRECTORY, "mount target");
  struct statfs overlay_fs {};
  if (!overlay || ::fstatfs(overlay->get(), &overlay_fs) != 0 || overlay_fs.f_type != OVERLAYFS_SUPER_MAGIC)
    return mount_error(plan.target, "is no longer the overlay ovlmount mounted");
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const std::string inside = bind.destination.substr(bind.destination.find_first_not_of('/'));
  const UniqueFd destination(static_cast<int>(::syscall(SYS_openat2, overlay->get(), inside.c_str(), &how, sizeof how)));
  if (!destination) {
    if (errno == ENOENT) return not_found(bind.target, "mount point does not exist in the mounted tree");
    if (errno == ELOOP || errno == EXDEV) return corrupt(bind.target, "mount point is reached through a symlink");
    return failure(bind.target, errno_text(errno));
  }
  struct stat source_stat {}, destination_stat {};
  if (::fstat(source.get(), &source_stat) != 0 || ::fstat(destination.get(), &destination_stat) != 0)
    return failure(bind.target, errno_text(errno));
  if (S_ISDIR(source_stat.st_mode) != S_ISDIR(destination_stat.st_mode))
    return failure(bind.target, "mount point and bind source are not both directories or both files");

  const UniqueFd tree(static_cast<int>(
      ::syscall(SYS_open_tree, source.get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH)));
  if (!tree) return mount_error(bind.target, "cannot clone the bind source: " + errno_text(errno));
  mount_attr read_only{};
  read_only.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOATIME;
  read_only.attr_clr = MOUNT_ATTR__ATIME;
  if (::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH, &read_only, sizeof read_only) != 0)
    return mount_error(bind.target, "cannot make the bind read-only: " + errno_text(errno));
  if (::syscall(SYS_move_mount, tree.get(), "", destination.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return mount_error(bind.target, "bind mount failed: " + errno_text(errno));
  mount_attr private_propagation{};
  private_propagation.propagation = MS_PRIVATE;
  if (::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH, &private_propagation, sizeof private_propagation) != 0) {
    const int errnum = errno;
    ::umount2(fd_path(tree).c_str(), MNT_DETACH);
    return mount_error(bind.target, "cannot make the bind private: " + errno_text(errnum));
  }
  return {};
}

}  // namespace ovlmount
