// Why: see mounter.hpp. libmount 2.38 (Debian 12) mounts with mount(2); helpers and utab are
// disabled so nothing but the kernel call happens and nothing is written outside the target.
// libmount 2.39 and later pass each option through fsconfig(2), which takes at most 256 bytes
// a value: a lowerdir of more than about 13 layers is longer. With such a libmount, mount data
// over 255 bytes goes through the same mount(2) call libmount 2.38 makes, made directly.
// The kernel explains an overlay refusal only in its log, so the log position is noted before
// the call and the overlayfs lines written during it are added to the error.
#include "ovlmount/mounter.hpp"

#include <fcntl.h>
#include <libmount/libmount.h>
#include <unistd.h>

#include <sys/mount.h>

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
  const std::string options = std::string(plan.read_only() ? "ro" : "rw") + ",nosuid,nodev," + data;
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

}  // namespace ovlmount
