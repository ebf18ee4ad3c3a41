// Why: see root_dir.hpp. openat2 has no glibc wrapper in Debian 12, so it is called through
// syscall(2). O_NOATIME is refused (EPERM) for files the caller does not own unless it has
// CAP_FOWNER; root has it, and a non-root `resolve` falls back to a plain open.
#include "ovlmount/core/root_dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <memory>

namespace ovlmount {
namespace {

Error open_error(const std::string& path, int errnum) {
  switch (errnum) {
    case ENOENT: return not_found(path, "no such file or directory");
    case ENOTDIR: return corrupt(path, "a path element is not a directory");
    case ELOOP:
    case EXDEV: return corrupt(path, "refusing to follow a symlink or leave the data root");
    case ENXIO: return corrupt(path, "not a regular file (a socket)");
    case EACCES:
    case EPERM: return failure(path, "permission denied");
    default: return failure(path, errno_text(errnum));
  }
}

}  // namespace

Result<std::vector<std::optional<std::string>>> RootDir::read_files(std::string_view dir,
                                                                    const std::vector<std::string_view>& names,
                                                                    size_t max_size) const {
  auto kind = this->kind(dir);
  if (!kind) return kind.error();
  if (*kind == EntryKind::missing) return not_found(absolute(dir), "no such file or directory");
  if (*kind != EntryKind::directory) return corrupt(absolute(dir), "a path element is not a directory");
  std::vector<std::optional<std::string>> contents;
  for (const std::string_view name : names) {
    auto content = read_file(std::string(dir) + "/" + std::string(name), max_size);
    if (!content && content.error().code == ExitCode::not_found) contents.emplace_back();
    else if (!content) return content.error();
    else contents.emplace_back(std::move(*content));
  }
  return contents;
}

std::string RootDir::absolute(std::string_view relative) const {
  if (relative.empty()) return path();
  return path() + "/" + std::string(relative);
}

Result<BeneathRoot> BeneathRoot::open(const std::string& path) {
  char resolved[PATH_MAX];
  if (!::realpath(path.c_str(), resolved)) {
    const int errnum = errno;
    if (errnum == ENOENT) return not_found(path, "data root does not exist");
    return failure(path, errno_text(errnum));
  }
  const int fd = ::open(resolved, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    const int errnum = errno;
    if (errnum == ENOTDIR) return not_found(path, "data root is not a directory");
    return failure(path, errno_text(errnum));
  }
  return BeneathRoot(resolved, UniqueFd(fd));
}

namespace {

// Opens `relative` below the directory `base` (whose path is `base_path`) with `flags`,
// strictly beneath it and without any symlink.
Result<UniqueFd> open_below(int base, const std::string& base_path, std::string_view relative, int flags) {
  const std::string rel = relative.empty() ? std::string(".") : std::string(relative);
  open_how how{};
  how.flags = static_cast<__u64>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, base, rel.c_str(), &how, sizeof how);
  if (fd < 0 && errno == EPERM && (flags & O_NOATIME)) {
    how.flags &= ~static_cast<__u64>(O_NOATIME);
    fd = ::syscall(SYS_openat2, base, rel.c_str(), &how, sizeof how);
  }
  if (fd < 0) return open_error(relative.empty() ? base_path : base_path + "/" + rel, errno);
  return UniqueFd(static_cast<int>(fd));
}

}  // namespace

Result<UniqueFd> BeneathRoot::open_beneath(std::string_view relative, int flags) const {
  return open_below(fd_.get(), path_, relative, flags);
}

namespace {

// A device node, FIFO or socket planted in a store is never opened for reading: opening a device
// can act on it (a tape rewinds, a watchdog starts) and a FIFO can block. The O_PATH descriptor
// `path_fd` of `object` is checked, then reopened through /proc/self/fd, so the file checked is
// the file read; `st` receives what the check saw (the reopened file is the same inode).
Result<UniqueFd> reopen_for_reading(const UniqueFd& path_fd, const std::string& object, bool directory_ok,
                                    struct stat& st) {
  if (::fstat(path_fd.get(), &st) != 0) return failure(object, errno_text(errno));
  if (S_ISLNK(st.st_mode)) return open_error(object, ELOOP);
  if (!S_ISREG(st.st_mode) && !(directory_ok && S_ISDIR(st.st_mode)))
    return corrupt(object, directory_ok ? "not a regular file or directory" : "not a regular file");
  const std::string reopen = "/proc/self/fd/" + std::to_string(path_fd.get());
  int fd = ::open(reopen.c_str(), O_RDONLY | O_NOATIME | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 && errno == EPERM) fd = ::open(reopen.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return failure(object, errno_text(errno));
  return UniqueFd(fd);
}

}  // namespace

Result<UniqueFd> BeneathRoot::open_for_reading(std::string_view relative, bool directory_ok,
                                               struct stat& st) const {
  auto path_fd = open_beneath(relative, O_PATH | O_NOFOLLOW);
  if (!path_fd) return path_fd.error();
  return reopen_for_reading(*path_fd, absolute(relative), directory_ok, st);
}

namespace {

// The content of the regular file whose O_PATH descriptor is `path_fd`, at most `max_size` bytes
// and with one link (see RootDir::read_file). The buffer has room for one byte more than the
// file's size, so a small file takes one read: a regular file reads short only at its end.
Result<std::string> read_whole(const UniqueFd& path_fd, const std::string& object, size_t max_size) {
  struct stat st {};
  auto fd = reopen_for_reading(path_fd, object, false, st);
  if (!fd) return fd.error();
  if (st.st_nlink > 1) return corrupt(object, "metadata file has " + std::to_string(st.st_nlink) + " hard links");
  if (static_cast<size_t>(st.st_size) > max_size)
    return corrupt(object, "file is larger than " + std::to_string(max_size) + " bytes");
  std::string content(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t done = 0;
  while (true) {
    if (done == content.size()) content.resize(done + 4096);
    const size_t wanted = content.size() - done;
    const ssize_t n = ::read(fd->get(), content.data() + done, wanted);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failure(object, errno_text(errno));
    done += static_cast<size_t>(n);
    if (done > max_size) return corrupt(object, "file is larger than " + std::to_string(max_size) + " bytes");
    if (static_cast<size_t>(n) < wanted) break;
  }
  content.resize(done);
  return content;
}

}  // namespace

Result<std::string> BeneathRoot::read_file(std::string_view relative, size_t max_size) const {
  auto path_fd = open_beneath(relative, O_PATH | O_NOFOLLOW);
  if (!path_fd) return path_fd.error();
  return read_whole(*path_fd, absolute(relative), max_size);
}

Result<std::vector<std::optional<std::string>>> BeneathRoot::read_files(std::string_view dir,
                                                                        const std::vector<std::string_view>& names,
                                                                        size_t max_size) const {
  auto dir_fd = open_beneath(dir, O_PATH | O_DIRECTORY);
  if (!dir_fd) return dir_fd.error();
  const std::string dir_path = absolute(dir);
  std::vector<std::optional<std::string>> contents;
  for (const std::string_view name : names) {
    if (name.empty() || name.find('/') != std::string_view::npos) return failure(dir_path, "not a file name");
    auto path_fd = open_below(dir_fd->get(), dir_path, name, O_PATH | O_NOFOLLOW);
    if (!path_fd && path_fd.error().code == ExitCode::not_found) {
      contents.emplace_back();
      continue;
    }
    if (!path_fd) return path_fd.error();
    auto content = read_whole(*path_fd, dir_path + "/" + std::string(name), max_size);
    if (!content) return content.error();
    contents.emplace_back(std::move(*content));
  }
  return contents;
}

Result<std::vector<std::string>> BeneathRoot::list_dir(std::string_view relative) const {
  auto fd = open_beneath(relative, O_RDONLY | O_DIRECTORY | O_NOATIME);
  if (!fd) return fd.error();
  const int dup_fd = ::fcntl(fd->get(), F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return failure(absolute(relative), errno_text(errno));
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(dup_fd), ::closedir);
  if (!dir) {
    ::close(dup_fd);
    return failure(absolute(relative), errno_text(errno));
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  if (errno != 0) return failure(absolute(relative), errno_text(errno));
  return names;
}

Result<EntryKind> BeneathRoot::kind(std::string_view relative) const {
  auto fd = open_beneath(relative, O_PATH | O_NOFOLLOW);
  if (!fd) {
    if (fd.error().code == ExitCode::not_found) return EntryKind::missing;
    return fd.error();
  }
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return failure(absolute(relative), errno_text(errno));
  if (S_ISDIR(st.st_mode)) return EntryKind::directory;
  if (S_ISREG(st.st_mode)) return EntryKind::regular;
  return EntryKind::other;
}

Result<UniqueFd> BeneathRoot::open_dir(std::string_view relative) const {
  return open_beneath(relative, O_PATH | O_DIRECTORY);
}

namespace {

Result<UniqueFd> open_in_root(int root_fd, std::string_view path, __u64 flags) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const std::string relative = path.empty() ? std::string(".") : std::string(path);
  const long fd = ::syscall(SYS_openat2, root_fd, relative.c_str(), &how, sizeof how);
  if (fd < 0) return open_error(std::string(path), errno);
  return UniqueFd(static_cast<int>(fd));
}

}  // namespace

Result<BeneathRoot> BeneathRoot::open_system_dir(std::string_view path) const {
  auto fd = open_in_root(fd_.get(), path, O_PATH | O_DIRECTORY);
  if (!fd) {
    if (fd.error().code == ExitCode::not_found) return not_found(absolute(path), "does not exist");
    return fd.error();
  }
  char resolved[PATH_MAX];
  const std::string link = "/proc/self/fd/" + std::to_string(fd->get());
  const ssize_t n = ::readlink(link.c_str(), resolved, sizeof resolved - 1);
  if (n <= 0) return failure(absolute(path), errno_text(errno));
  return BeneathRoot(std::string(resolved, static_cast<size_t>(n)), std::move(*fd));
}

Result<std::optional<mode_t>> BeneathRoot::system_mode(std::string_view path) const {
  auto fd = open_in_root(fd_.get(), path, O_PATH);
  if (!fd) {
    if (fd.error().code == ExitCode::not_found) return std::optional<mode_t>();
    return fd.error();
  }
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return failure(absolute(path), errno_text(errno));
  return std::optional<mode_t>(st.st_mode);
}

Result<BeneathRoot> BeneathRoot::open_subdir(std::string_view relative) const {
  auto fd = open_dir(relative);
  if (!fd) return fd.error();
  return BeneathRoot(absolute(relative), std::move(*fd));
}

Result<std::optional<std::string>> BeneathRoot::read_system_file(std::string_view path, size_t max_size) const {
  auto path_fd = open_in_root(fd_.get(), path, O_PATH);
  if (!path_fd && path_fd.error().code == ExitCode::not_found) return std::optional<std::string>();
  if (!path_fd) return path_fd.error();
  struct stat st {};
  auto fd = reopen_for_reading(*path_fd, absolute(path), false, st);
  if (!fd) return fd.error();
  std::string content;
  char buffer[8192];
  while (true) {
    const ssize_t n = ::read(fd->get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failure(absolute(path), errno_text(errno));
    if (n == 0) return std::optional<std::string>(std::move(content));
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > max_size)
      return corrupt(absolute(path), "file is larger than " + std::to_string(max_size) + " bytes");
  }
}

Result<std::optional<FileStat>> BeneathRoot::stat(std::string_view relative) const {
  auto fd = open_beneath(relative, O_PATH | O_NOFOLLOW);
  if (!fd) {
    if (fd.error().code == ExitCode::not_found) return std::optional<FileStat>();
    return fd.error();
  }
  struct statx st {};
  if (::statx(fd->get(), "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &st) != 0)
    return failure(absolute(relative), errno_text(errno));
  const auto time = [](const statx_timestamp& t) { return timespec{t.tv_sec, t.tv_nsec}; };
  FileStat result;
  result.mode = st.stx_mode;
  result.uid = st.stx_uid;
  result.gid = st.stx_gid;
  result.size = st.stx_size;
  result.ino = st.stx_ino;
  result.nlink = st.stx_nlink;
  result.rdev = makedev(st.stx_rdev_major, st.stx_rdev_minor);
  result.atime = time(st.stx_atime);
  result.mtime = time(st.stx_mtime);
  result.ctime = time(st.stx_ctime);
  if (st.stx_mask & STATX_BTIME) result.btime = time(st.stx_btime);
  return std::optional<FileStat>(result);
}

Result<UniqueFd> BeneathRoot::open_file(std::string_view relative) const {
  struct stat st {};
  return open_for_reading(relative, false, st);
}

Result<std::optional<std::string>> BeneathRoot::xattr(std::string_view relative, const std::string& name) const {
  struct stat st {};
  auto fd = open_for_reading(relative, true, st);
  if (!fd) return fd.error();
  std::string value(256, '\0');
  while (true) {
    const ssize_t n = ::fgetxattr(fd->get(), name.c_str(), value.data(), value.size());
    if (n >= 0) {
      value.resize(static_cast<size_t>(n));
      return std::optional<std::string>(std::move(value));
    }
    if (errno == ENODATA || errno == ENOTSUP) return std::optional<std::string>();
    if (errno != ERANGE || value.size() >= 65536) return failure(absolute(relative), errno_text(errno));
    value.resize(value.size() * 4);
  }
}

}  // namespace ovlmount
