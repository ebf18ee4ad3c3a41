// Why: the data root may be a seized disk or crafted by an attacker. Every read below it goes
// through this one seam, whose real implementation resolves each path strictly beneath the
// root (openat2 RESOLVE_BENEATH, no symlinks at all, no magic links), opens with O_NOATIME so
// reading changes no timestamp, and never opens anything for writing. Unit tests use a fake
// with the same interface.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/fd.hpp"

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ovlmount {

// What is at a path below the root.
enum class EntryKind { missing, directory, regular, other };

// The metadata of one entry (not following a final symlink), as statx reports it.
struct FileStat {
  mode_t mode = 0;  // type and permission bits
  uid_t uid = 0;
  gid_t gid = 0;
  std::uint64_t size = 0;
  std::uint64_t ino = 0;
  std::uint64_t nlink = 0;
  dev_t rdev = 0;  // device number of a device node (a whiteout is a 0/0 character device)
  timespec atime{}, mtime{}, ctime{};
  std::optional<timespec> btime;  // birth time, when the filesystem records it
};

// Read-only view of the files beneath one directory. Paths are relative ("a/b/c"); a path
// that would leave the root or pass through a symlink is refused as a corrupt store.
class RootDir {
 public:
  virtual ~RootDir() = default;

  // The root's absolute path, for messages and for the paths ovlmount prints.
  virtual const std::string& path() const = 0;

  // The whole content of the regular file at `relative`; not_found if it does not exist,
  // corrupt if it is not a regular file, has more than one hard link (store metadata never
  // has; a second link may be a file outside the store, /etc/shadow say) or is larger than
  // `max_size` bytes.
  virtual Result<std::string> read_file(std::string_view relative, size_t max_size) const = 0;

  // The contents of the regular files `names` (plain names) in the directory at `dir`, as
  // read_file would give them, with the directory looked up once: nullopt for a name that does
  // not exist; not_found when `dir` does not exist, corrupt when it is not a directory.
  virtual Result<std::vector<std::optional<std::string>>> read_files(std::string_view dir,
                                                                     const std::vector<std::string_view>& names,
                                                                     size_t max_size) const;

  // The names in the directory at `relative` (without "." and ".."), unsorted.
  virtual Result<std::vector<std::string>> list_dir(std::string_view relative) const = 0;

  // What is at `relative`; `missing` when nothing is.
  virtual Result<EntryKind> kind(std::string_view relative) const = 0;

  // An O_PATH descriptor of the directory at `relative`, for use as a mount layer.
  virtual Result<UniqueFd> open_dir(std::string_view relative) const = 0;

  // The metadata of the entry at `relative` (a symlink itself, not its target); nullopt when
  // nothing is there. Reading it changes no timestamp.
  virtual Result<std::optional<FileStat>> stat(std::string_view relative) const = 0;

  // A read-only descriptor (O_NOATIME where permitted) of the regular file at `relative`, for
  // streaming its content; corrupt if it is not a regular file.
  virtual Result<UniqueFd> open_file(std::string_view relative) const = 0;

  // The value of extended attribute `name` of the directory or regular file at `relative`;
  // nullopt when it has no such attribute.
  virtual Result<std::optional<std::string>> xattr(std::string_view relative, const std::string& name) const = 0;

  // `path()` + "/" + `relative`.
  std::string absolute(std::string_view relative) const;
};

// The real RootDir over a directory of the host.
class BeneathRoot final : public RootDir {
 public:
  // Opens `path` (which may itself be reached through symlinks) as the root; not_found if it
  // is not an existing directory.
  static Result<BeneathRoot> open(const std::string& path);

  const std::string& path() const override { return path_; }
  Result<std::string> read_file(std::string_view relative, size_t max_size) const override;
  Result<std::vector<std::optional<std::string>>> read_files(std::string_view dir,
                                                             const std::vector<std::string_view>& names,
                                                             size_t max_size) const override;
  Result<std::vector<std::string>> list_dir(std::string_view relative) const override;
  Result<EntryKind> kind(std::string_view relative) const override;
  Result<UniqueFd> open_dir(std::string_view relative) const override;
  Result<std::optional<FileStat>> stat(std::string_view relative) const override;
  Result<UniqueFd> open_file(std::string_view relative) const override;
  Result<std::optional<std::string>> xattr(std::string_view relative, const std::string& name) const override;

  // The directory at `path` of the system this root holds, resolved as that system would (its
  // symlinks followed, but never out of this root: RESOLVE_IN_ROOT), as a root of its own;
  // not_found when it does not exist.
  Result<BeneathRoot> open_system_dir(std::string_view path) const;

  // The mode (type and permission bits) of what is at `path` of the system this root holds,
  // resolved like open_system_dir (symlinks followed inside the root); nullopt when nothing is.
  Result<std::optional<mode_t>> system_mode(std::string_view path) const;

  // The directory at `relative` below this root (no symlinks, as for every read) as a root of
  // its own; not_found when it does not exist.
  Result<BeneathRoot> open_subdir(std::string_view relative) const;

  // The content of the regular file at `path` of the system this root holds (resolved like
  // open_system_dir), at most `max_size` bytes; nullopt when it does not exist.
  Result<std::optional<std::string>> read_system_file(std::string_view path, size_t max_size) const;

 private:
  BeneathRoot(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  Result<UniqueFd> open_beneath(std::string_view relative, int flags) const;
  // `relative` opened for reading once an O_PATH look has shown it is a regular file (or a
  // directory when `directory_ok`); anything else is corrupt and never opened for reading.
  // `st` receives the file's metadata as checked.
  Result<UniqueFd> open_for_reading(std::string_view relative, bool directory_ok, struct stat& st) const;

  std::string path_;
  UniqueFd fd_;
};

}  // namespace ovlmount
