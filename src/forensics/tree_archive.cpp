// Why: see tree_archive.hpp. libarchive writes the format ("restricted pax": ustar, plus a pax
// header only when needed, which is what Go's writer does for Docker), the hard links (its
// link resolver, tar strategy) and the compression; this file walks the tree and fills in the
// entries. The walk holds one descriptor per directory level and opens every name relative
// to its parent without following symlinks, so nothing outside the tree is ever reached.
// libarchive spells names for pax headers in the thread's locale: under C.UTF-8 a UTF-8 name
// is stored as it is, as Go stores it; other bytes are stored raw under "hdrcharset=BINARY",
// for which libarchive returns ARCHIVE_WARN, which is not a failure here. Nothing is written
// after a failure (the sink refuses), so a broken stream never ends like a complete tar.
#include "ovlmount/forensics/tree_archive.hpp"

#include "ovlmount/core/fd.hpp"
#include "ovlmount/forensics/overlay_marks.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ovlmount {
namespace {

constexpr std::size_t chunk_size = std::size_t{64} << 10;
constexpr int block_size = 64 << 10;
constexpr int dir_flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME;
constexpr int file_flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOATIME;

struct ArchiveFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* entry) const { archive_entry_free(entry); }
};
struct ResolverFree {
  void operator()(archive_entry_linkresolver* resolver) const { archive_entry_linkresolver_free(resolver); }
};

using Visit = std::function<Result<void>(int dir_fd, const std::string& name, const std::string& path,
                                         const struct stat& st)>;
using Xattrs = std::vector<std::pair<std::string, std::string>>;

// A path of the tree as messages show it: "/etc/passwd".
std::string shown(const std::string& path) { return "/" + path; }

// `name` in `dir_fd`, opened with `flags`; O_NOATIME is dropped where the kernel refuses it
// (a file of another owner without CAP_FOWNER).
UniqueFd open_at(int dir_fd, const char* name, int flags) {
  int fd = ::openat(dir_fd, name, flags);
  if (fd < 0 && errno == EPERM && (flags & O_NOATIME)) fd = ::openat(dir_fd, name, flags & ~O_NOATIME);
  return UniqueFd(fd);
}

// The names in the directory `dir_fd`, sorted bytewise.
Result<std::vector<std::string>> sorted_names(int dir_fd, const std::string& path) {
  const UniqueFd own = open_at(dir_fd, ".", dir_flags);
  if (!own) return failure(shown(path), "cannot open: " + errno_text(errno));
  const int stream_fd = ::fcntl(own.get(), F_DUPFD_CLOEXEC, 0);
  if (stream_fd < 0) return failure(shown(path), "cannot list: " + errno_text(errno));
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(stream_fd), ::closedir);
  if (!dir) {
    ::close(stream_fd);
    return failure(shown(path), "cannot list: " + errno_text(errno));
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  if (errno != 0) return failure(shown(path), "cannot list: " + errno_text(errno));
  std::sort(names.begin(), names.end());
  return names;
}

// Calls `visit` for everything below the directory `dir_fd`, whose path is `prefix` ("" for
// the root, else "etc/") at `depth` levels below the root: a directory before its contents,
// each directory's names sorted.
Result<void> walk(int dir_fd, const std::string& prefix, const Visit& visit, size_t depth = 0) {
  if (depth >= max_tree_depth)
    return corrupt(shown(prefix.substr(0, prefix.find('/') + 1)) + "...",
                   "directories nested deeper than " + std::to_string(max_tree_depth) + " levels");
  auto names = sorted_names(dir_fd, prefix);
  if (!names) return names.error();
  for (const std::string& name : *names) {
    const std::string path = prefix + name;
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return failure(shown(path), "cannot stat: " + errno_text(errno));
    if (auto done = visit(dir_fd, name, path, st); !done) return done.error();
    if (!S_ISDIR(st.st_mode)) continue;
    UniqueFd sub = open_at(dir_fd, name.c_str(), dir_flags);
    if (!sub) return failure(shown(path), "cannot open: " + errno_text(errno));
    if (auto done = walk(sub.get(), path + "/", visit, depth + 1); !done) return done.error();
  }
  return {};
}

// The answer of an extended-attribute call (`call(buffer, size)`, as llistxattr or lgetxattr
// take them) with a buffer that grows until it fits; nullopt when there is no such attribute.
template <class Call>
Result<std::optional<std::string>> xattr_text(const std::string& path, Call call) {
  std::string buffer;
  while (true) {
    ssize_t size = call(nullptr, 0);
    if (size >= 0) {
      buffer.resize(static_cast<std::size_t>(size));
      size = call(buffer.data(), buffer.size());
    }
    if (size >= 0) {
      buffer.resize(static_cast<std::size_t>(size));
      return std::optional<std::string>(std::move(buffer));
    }
    if (errno == ENODATA || errno == ENOTSUP) return std::optional<std::string>();
    if (errno != ERANGE) return failure(shown(path), "cannot read its extended attributes: " + errno_text(errno));
  }
}

// The extended attributes of `name` in `dir_fd` that go into the tar (see tree_archive.hpp),
// sorted by name. Read through /proc/self/fd so that a symlink's own are read, never its target's.
Result<Xattrs> xattrs_of(int dir_fd, const std::string& name, const std::string& path) {
  const std::string at = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name;
  auto list = xattr_text(path, [&](char* buffer, std::size_t size) { return ::llistxattr(at.c_str(), buffer, size); });
  if (!list) return list.error();
  Xattrs xattrs;
  if (!*list) return xattrs;
  const std::string& names = **list;
  for (std::size_t start = 0, end = 0; start < names.size(); start = end + 1) {
    end = names.find('\0', start);
    if (end == std::string::npos) end = names.size();
    const std::string key = names.substr(start, end - start);
    if (key.empty() || key.starts_with("trusted.overlay.") || key == "security.selinux") continue;
    auto value = xattr_text(path, [&](char* buffer, std::size_t size) {
      return ::lgetxattr(at.c_str(), key.c_str(), buffer, size);
    });
    if (!value) return value.error();
    if (!*value) continue;
    std::string bytes = std::move(**value);
    if (key == "security.capability" && bytes.size() == 24 && bytes[3] == 3) {
      bytes.resize(20);
      bytes[3] = 2;
    }
    xattrs.emplace_back(key, std::move(bytes));
  }
  std::sort(xattrs.begin(), xattrs.end());
  return xattrs;
}

// The target of the symlink `name` in `dir_fd`.
Result<std::string> link_target(int dir_fd, const std::string& name, const std::string& path, std::size_t size) {
  std::string target(size + 1, '\0');
  while (true) {
    const ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
    if (n < 0) return failure(shown(path), "cannot read the link: " + errno_text(errno));
    if (static_cast<std::size_t>(n) < target.size()) {
      target.resize(static_cast<std::size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

// Makes libarchive see C.UTF-8 on this thread while it lives (see the top of this file);
// does nothing where that locale is missing.
class Utf8Locale {
 public:
  Utf8Locale() : locale_(::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr))) {
    if (locale_) previous_ = ::uselocale(locale_);
  }
  Utf8Locale(const Utf8Locale&) = delete;
  Utf8Locale& operator=(const Utf8Locale&) = delete;
  ~Utf8Locale() {
    if (!locale_) return;
    ::uselocale(previous_);
    ::freelocale(locale_);
  }

 private:
  locale_t locale_;
  locale_t previous_ = nullptr;
};

// The descriptor behind libarchive's writes.
struct Sink {
  int fd = -1;
  const volatile std::sig_atomic_t* interrupted = nullptr;
  int write_errno = 0;
  bool refused = false;  // set after a failure: nothing more reaches fd

  bool stopped() const { return interrupted && *interrupted; }

  static la_ssize_t write(archive*, void* self, const void* buffer, std::size_t length) {
    auto* sink = static_cast<Sink*>(self);
    while (!sink->refused && !sink->stopped()) {
      const ssize_t n = ::write(sink->fd, buffer, length);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      sink->write_errno = errno;
      return -1;
    }
    return -1;
  }
};

// A tar stream being written entry by entry.
class TarWriter {
 public:
  TarWriter(int out_fd, const std::string& output, const TreeArchiveOptions& options,
            const TreeArchiveProgress& progress)
      : output_(output), options_(options), progress_(progress), buffer_(chunk_size) {
    sink_.fd = out_fd;
    sink_.interrupted = options.interrupted;
  }
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;
  ~TarWriter() { sink_.refused = !closed_; }

  Result<void> open() {
    archive_.reset(archive_write_new());
    links_.reset(archive_entry_linkresolver_new());
    if (!archive_ || !links_) return failure(output_, "cannot allocate a libarchive writer");
    archive* a = archive_.get();
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_set_format_option(a, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK || add_filter(a) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(a, block_size) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open2(a, &sink_, nullptr, &Sink::write, nullptr, nullptr) != ARCHIVE_OK)
      return output_error();
    archive_entry_linkresolver_set_strategy(links_.get(), archive_format(a));
    return {};
  }

  Result<void> add(int dir_fd, const std::string& name, const std::string& path, const struct stat& st) {
    if (S_ISSOCK(st.st_mode)) return {};
    if (sink_.stopped()) return failure(output_, "interrupted");
    std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new2(archive_.get()));
    if (!entry) return failure(output_, "cannot allocate a libarchive entry");
    archive_entry* e = entry.get();
    archive_entry_copy_stat(e, &st);
    archive_entry_unset_atime(e);
    archive_entry_unset_ctime(e);
    archive_entry_unset_birthtime(e);
    archive_entry_set_mtime(e, options_.reproducible ? 0 : st.st_mtim.tv_sec, 0);
    archive_entry_copy_pathname(e, S_ISDIR(st.st_mode) ? (path + "/").c_str() : path.c_str());
    if (!S_ISREG(st.st_mode)) archive_entry_set_size(e, 0);
    if (S_ISLNK(st.st_mode)) {
      auto target = link_target(dir_fd, name, path, static_cast<std::size_t>(st.st_size));
      if (!target) return target.error();
      archive_entry_copy_symlink(e, target->c_str());
    }
    auto xattrs = xattrs_of(dir_fd, name, path);
    if (!xattrs) return xattrs.error();
    // libarchive writes them in the reverse order of adding.
    for (auto xattr = xattrs->rbegin(); xattr != xattrs->rend(); ++xattr)
      archive_entry_xattr_add_entry(e, xattr->first.c_str(), xattr->second.data(), xattr->second.size());
    archive_entry* spare = nullptr;
    archive_entry_linkify(links_.get(), &e, &spare);

    const bool has_data = S_ISREG(st.st_mode) && archive_entry_hardlink(e) == nullptr && st.st_size > 0;
    UniqueFd file;
    if (has_data) {
      file = open_at(dir_fd, name.c_str(), file_flags);
      if (!file) return failure(shown(path), "cannot open: " + errno_text(errno));
      struct stat opened {};
      if (::fstat(file.get(), &opened) != 0) return failure(shown(path), "cannot stat: " + errno_text(errno));
      if (!S_ISREG(opened.st_mode) || opened.st_ino != st.st_ino || opened.st_dev != st.st_dev)
        return failure(shown(path), "was replaced while the tree was read");
    }
    if (archive_write_header(archive_.get(), e) < ARCHIVE_WARN) return entry_error(path);
    if (has_data)
      if (auto copied = copy_content(file.get(), static_cast<std::uint64_t>(st.st_size), path); !copied)
        return copied.error();
    ++done_.entries;
    if (progress_) progress_(done_);
    return {};
  }

  Result<TreeSize> close() {
    if (archive_write_close(archive_.get()) != ARCHIVE_OK) return output_error();
    closed_ = true;
    return done_;
  }

 private:
  int add_filter(archive* a) const {
    switch (options_.compression) {
      case TarCompression::gzip:
        if (archive_write_add_filter_gzip(a) != ARCHIVE_OK) return ARCHIVE_FATAL;
        return archive_write_set_filter_option(a, "gzip", "timestamp", nullptr);
      case TarCompression::zstd: return archive_write_add_filter_zstd(a);
      case TarCompression::none: break;
    }
    return archive_write_add_filter_none(a);
  }

  Result<void> copy_content(int fd, std::uint64_t size, const std::string& path) {
    for (std::uint64_t left = size; left > 0;) {
      if (sink_.stopped()) return failure(output_, "interrupted");
      const ssize_t n = ::read(fd, buffer_.data(), static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer_.size())));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return failure(shown(path), "cannot read: " + errno_text(errno));
      if (n == 0) return failure(shown(path), "became shorter while it was read");
      if (archive_write_data(archive_.get(), buffer_.data(), static_cast<std::size_t>(n)) != n) return output_error();
      left -= static_cast<std::uint64_t>(n);
      done_.bytes += static_cast<std::uint64_t>(n);
      if (progress_) progress_(done_);
    }
    return {};
  }

  Error output_error() const {
    if (sink_.stopped()) return failure(output_, "interrupted");
    if (sink_.write_errno != 0) return failure(output_, "cannot write: " + errno_text(sink_.write_errno));
    const char* text = archive_error_string(archive_.get());
    return failure(output_, std::string("libarchive: ") + (text ? text : "unknown error"));
  }

  Error entry_error(const std::string& path) const {
    if (sink_.stopped() || sink_.write_errno != 0) return output_error();
    const char* text = archive_error_string(archive_.get());
    return failure(shown(path), std::string("cannot be written to the tar: ") + (text ? text : "unknown error"));
  }

  const Utf8Locale locale_;
  std::string output_;
  const TreeArchiveOptions& options_;
  const TreeArchiveProgress& progress_;
  std::vector<char> buffer_;
  Sink sink_;
  std::unique_ptr<archive, ArchiveFree> archive_;
  std::unique_ptr<archive_entry_linkresolver, ResolverFree> links_;
  TreeSize done_;
  bool closed_ = false;
};

}  // namespace

Result<TreeSize> measure_tree(int root_fd) {
  TreeSize size;
  std::set<std::pair<dev_t, ino_t>> linked;
  auto walked = walk(root_fd, "", [&](int, const std::string&, const std::string&, const struct stat& st) -> Result<void> {
    if (S_ISSOCK(st.st_mode)) return {};
    ++size.entries;
    if (S_ISREG(st.st_mode) && (st.st_nlink < 2 || linked.emplace(st.st_dev, st.st_ino).second))
      size.bytes += static_cast<std::uint64_t>(st.st_size);
    return {};
  });
  if (!walked) return walked.error();
  return size;
}

Result<TreeSize> write_tree_archive(int root_fd, int out_fd, const std::string& output,
                                    const TreeArchiveOptions& options, const TreeArchiveProgress& progress) {
  TarWriter writer(out_fd, output, options, progress);
  if (auto opened = writer.open(); !opened) return opened.error();
  auto walked = walk(root_fd, "", [&](int dir_fd, const std::string& name, const std::string& path, const struct stat& st) {
    return writer.add(dir_fd, name, path, st);
  });
  if (!walked) return walked.error();
  return writer.close();
}

}  // namespace ovlmount
