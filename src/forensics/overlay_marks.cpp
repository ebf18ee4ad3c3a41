// Why: see overlay_marks.hpp.
#include "ovlmount/forensics/overlay_marks.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace ovlmount {

bool is_whiteout(const FileStat& st) { return S_ISCHR(st.mode) && major(st.rdev) == 0 && minor(st.rdev) == 0; }

namespace {

std::string beneath(const std::string& dir, std::string_view path) {
  if (path.empty()) return dir;
  return dir + "/" + std::string(path);
}

std::string child_path(const std::string& dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  return dir + "/" + std::string(name);
}

}  // namespace

Result<bool> is_opaque_dir(const RootDir& root, std::string_view relative) {
  auto value = root.xattr(relative, opaque_xattr);
  if (!value) return value.error();
  return *value && **value == "y";
}

std::vector<LayerDirEntry> layer_dir_entries(const RootDir& root, const std::string& layer_dir,
                                             std::vector<FileProblem>& problems) {
  std::vector<LayerDirEntry> entries;
  const auto add_opaque_marker = [&](const std::string& dir) {
    auto opaque = is_opaque_dir(root, beneath(layer_dir, dir));
    if (!opaque)
      problems.push_back({dir, "cannot read xattrs: " + opaque.error().problem});
    else if (*opaque)
      entries.push_back({child_path(dir, opaque_marker), 0, 0, true});
  };
  add_opaque_marker("");
  std::vector<std::string> pending_dirs = {""};
  while (!pending_dirs.empty()) {
    const std::string dir = std::move(pending_dirs.back());
    pending_dirs.pop_back();
    auto names = root.list_dir(beneath(layer_dir, dir));
    if (!names) {
      problems.push_back({dir, "cannot list: " + names.error().problem});
      continue;
    }
    for (const auto& name : *names) {
      std::string path = child_path(dir, name);
      auto st = root.stat(beneath(layer_dir, path));
      if (!st) {
        problems.push_back({path, "cannot stat: " + st.error().problem});
        continue;
      }
      if (!*st) continue;
      if (is_whiteout(**st)) {
        entries.push_back({child_path(dir, std::string(whiteout_prefix) + name), (*st)->mode, 0, true});
        continue;
      }
      entries.push_back({path, (*st)->mode, (*st)->size, false});
      if (S_ISDIR((*st)->mode)) {
        add_opaque_marker(path);
        pending_dirs.push_back(std::move(path));
      }
    }
  }
  return entries;
}

std::string file_kind(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "regular file";
    case S_IFDIR: return "directory";
    case S_IFLNK: return "symlink";
    case S_IFCHR: return "character device";
    case S_IFBLK: return "block device";
    case S_IFIFO: return "FIFO";
    case S_IFSOCK: return "socket";
    default: return "special file";
  }
}

}  // namespace ovlmount
