// Why: see mounter.hpp. libmount 2.38 (Debian 12) mounts with mount(2); helpers and utab are
// disabled so nothing but the kernel call happens and nothing is written outside the target.
// libmount 2.39 and later pass each option through fsconfig(2), which takes at most 256 bytes
// a value: a lowerdir of more than about 13 layers is longer. With such a libmount, mount data
// over 255 bytes goes through the same mount(2) call libmount 2.38 makes, made directly.
// The kernel explains an overlay refusal only in its log, so the log position is noted before
// the call and the overlayfs lines written during it are added to the error.
#include "ovlmount/mount/mounter.hpp"

#include <fcntl.h>
#include <libmount/libmount.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>

namespace ovlmount {
namespace {

using Context = std::unique_ptr<libmnt_context, void (*)(libmnt_context*)>;

Context new_context() {
  Context context(mnt_new_context(), mnt_free_context);
  if (context) {
    mnt_context_disable_helpers(context.get(), 1);
    mnt_context_disable_mtab(context.get(), 1);
  }
  return context;
}

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

Result<UniqueFd> open_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    const int errnum = errno;
    if (errnum == ENOENT) return not_found(path, "no such directory");
    return failure(path, errno_text(errnum));
  }
  return UniqueFd(fd);
}

std::string fd_path(const UniqueFd& fd) { return "/proc/self/fd/" + std::to_string(fd.get()); }

// The syscall's errno if libmount got that far, else libmount's negative return code.
int context_errno(libmnt_context* context, int rc) {
  if (mnt_context_syscall_called(context)) return mnt_context_get_syscall_errno(context);
  return rc < 0 ? -rc : EINVAL;
}

constexpr size_t max_fsconfig_value = 255;

bool libmount_limits_option_values() {
  const char* version = nullptr;
  int major = 0;
  int minor = 0;
  if (mnt_get_library_version(&version) < 0 || !version || std::sscanf(version, "%d.%d", &major, &minor) != 2)
    return false;
  return major > 2 || (major == 2 && minor >= 39);
}

// Mounts through libmount; returns 0 or the errno of the failure.
int mount_with_libmount(const MountPlan& plan, const std::string& data) {
  const Context context = new_context();
  if (!context) return ENOMEM;
  mnt_context_disable_canonicalize(context.get(), 1);
  const std::string options = std::string(plan.read_only() ? "ro" : "rw") + (plan.devices ? ",nosuid," : ",nosuid,nodev,") + data;
  if (mnt_context_set_fstype(context.get(), "overlay") != 0 ||
      mnt_context_set_source(context.get(), std::string(mount_source).c_str()) != 0 ||
      mnt_context_set_target(context.get(), plan.target.c_str()) != 0 ||
      mnt_context_set_options(context.get(), options.c_str()) != 0)
    return EINVAL;
  const int rc = mnt_context_mount(context.get());
  if (rc == 0 && mnt_context_get_status(context.get()) == 1) return 0;
  return context_errno(context.get(), rc);
}

}  // namespace

Result<void> LibmountMounter::mount(const MountPlan& plan, const RootDir& data_root) {
  std::vector<UniqueFd> fds;
  std::vector<std::string> lowers;
  for (const auto& dir : plan.layer_dirs) {
    auto fd = data_root.open_dir(dir);
    if (!fd) return fd.error();
    lowers.push_back(fd_path(*fd));
    fds.push_back(std::move(*fd));
  }
  if (!plan.empty_lower.empty()) {
    auto fd = open_path(plan.empty_lower);
    if (!fd) return fd.error();
    lowers.push_back(fd_path(*fd));
    fds.push_back(std::move(*fd));
  }
  std::string upper, work;
  if (!plan.read_only()) {
    auto upper_fd = open_path(plan.upper);
    if (!upper_fd) return upper_fd.error();
    auto work_fd = open_path(plan.work);
    if (!work_fd) return work_fd.error();
    upper = fd_path(*upper_fd);
    work = fd_path(*work_fd);
    fds.push_back(std::move(*upper_fd));
    fds.push_back(std::move(*work_fd));
  }
  auto data = overlay_data(plan, lowers, upper, work);
  if (!data) return data.error();

  const KernelLog log;
  int errnum = 0;
  if (data->size() > max_fsconfig_value && libmount_limits_option_values())
    errnum = ::mount(std::string(mount_source).c_str(), plan.target.c_str(), "overlay", plan.flags(), data->c_str()) == 0
                 ? 0
                 : errno;
  else
    errnum = mount_with_libmount(plan, *data);
  if (errnum == 0) return {};
  std::string problem = mount_problem(errnum, plan);
  if (const std::string detail = log.last_overlay_message(); !detail.empty())
    problem += "; kernel: " + detail;
  return mount_error(plan.target, problem);
}

Result<void> LibmountMounter::unmount(const std::string& target, bool lazy) {
  const Context context = new_context();
  if (!context) return mount_error(target, "cannot create a libmount context");
  if (mnt_context_set_target(context.get(), target.c_str()) != 0)
    return mount_error(target, "cannot set up the libmount context");
  if (lazy) mnt_context_enable_lazy(context.get(), 1);
  const int rc = mnt_context_umount(context.get());
  if (rc == 0 && mnt_context_get_status(context.get()) == 1) return {};
  const int errnum = context_errno(context.get(), rc);
  switch (errnum) {
    case EBUSY: return mount_error(target, "target is busy (a process uses it; try --lazy)");
    case EINVAL: return mount_error(target, "not a mount point");
    case EPERM:
    case EACCES: return mount_error(target, "permission denied (unmounting needs root)");
    default: return mount_error(target, "unmount failed: " + errno_text(errnum));
  }
}

Result<void> LibmountMounter::bind(const MountPlan& plan, const BindPlan& bind, const RootDir& data_root) {
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
  const UniqueFd overlay(::open(plan.target.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  struct statfs overlay_fs {};
  if (!overlay || ::fstatfs(overlay.get(), &overlay_fs) != 0 || overlay_fs.f_type != OVERLAYFS_SUPER_MAGIC)
    return mount_error(plan.target, "is no longer the overlay ovlmount mounted");
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const std::string inside = bind.destination.substr(bind.destination.find_first_not_of('/'));
  const UniqueFd destination(static_cast<int>(::syscall(SYS_openat2, overlay.get(), inside.c_str(), &how, sizeof how)));
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
    ::umount2(bind.target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
    return mount_error(bind.target, "cannot make the bind private: " + errno_text(errnum));
  }
  return {};
}

}  // namespace ovlmount
