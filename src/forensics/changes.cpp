// Why: see changes.hpp. Docker's overlay2 driver answers `docker diff` with its naive diff
// (moby ac5d363e67, in every release since 18.06, 20.10 included): it mounts the
// container's rootfs and the init layer's rootfs and compares the two trees
// (pkg/archive ChangesDirs). Mounting is out of the question here, so both trees are
// computed from the diff dirs with overlayfs' own lookup rules, and only where they can
// differ: below the entries of the writable layer. Every other path of the two trees is the
// very same lower inode, which ChangesDirs would find unchanged.
// Body-file names are escaped the way mactime decodes them (%XX in every field), so a name
// with '|', '%' or a newline survives the round trip instead of breaking the line.
#include "ovlmount/forensics/changes.hpp"

#include "ovlmount/forensics/overlay_marks.hpp"

#define CRYPTOPP_ENABLE_NAMESPACE_WEAK 1
#include <cryptopp/md5.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ovlmount {
namespace {

constexpr size_t read_chunk_size = 64 * 1024;
const std::string capability_xattr = "security.capability";

// `dir` + `container_path` ("/a/b", or "" for the root) as a path relative to the data root.
std::string beneath(const std::string& dir, const std::string& container_path) {
  if (dir.empty()) return container_path.empty() ? std::string() : container_path.substr(1);
  return dir + container_path;
}

// Go's sameFsTimeSpec: equal, or the same second where one side has no nanoseconds.
bool same_fs_time(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && (a.tv_nsec == b.tv_nsec || a.tv_nsec == 0 || b.tv_nsec == 0);
}

// pkg/archive statDifferent: type and mode, owner, device number; mtime and size only for
// non-directories.
bool stat_different(const FileStat& old_stat, const FileStat& new_stat) {
  if (old_stat.mode != new_stat.mode || old_stat.uid != new_stat.uid || old_stat.gid != new_stat.gid ||
      old_stat.rdev != new_stat.rdev)
    return true;
  return !S_ISDIR(old_stat.mode) &&
         (!same_fs_time(old_stat.mtime, new_stat.mtime) || old_stat.size != new_stat.size);
}

// The security.capability of an entry; RootDir reads xattrs of files and dirs only, and
// nothing else carries one in practice.
Result<std::optional<std::string>> capability_of(const RootDir& root, const std::string& relative,
                                                 const FileStat& st) {
  if (!S_ISREG(st.mode) && !S_ISDIR(st.mode)) return std::optional<std::string>();
  return root.xattr(relative, capability_xattr);
}

// What the lower layers (the init layer's rootfs) show at one path.
struct LowerEntry {
  std::optional<FileStat> stat;  // of the top-most entry; nullopt when the path is not there
  size_t layer = 0;              // index of that entry's layer
  std::vector<size_t> dir_stack;  // layers whose dirs merge into it, top first (dirs only)
};

class ChangeWalk {
 public:
  ChangeWalk(const RootDir& root, const std::string& writable_dir, const std::vector<std::string>& lower_dirs)
      : root_(root), writable_dir_(writable_dir), lower_dirs_(lower_dirs) {}

  Result<std::vector<Change>> run() {
    std::vector<size_t> all_lowers(lower_dirs_.size());
    for (size_t i = 0; i < all_lowers.size(); ++i) all_lowers[i] = i;
    if (auto walked = walk_dir("", all_lowers, false, 0); !walked) return walked.error();
    return std::move(changes_);
  }

 private:
  // Lists the changes below the writable dir at `dir_path`, whose lower counterpart merges
  // `lower_stack`; `cut_off` when an opaque dir of the writable layer (this one or above)
  // hides everything of the lowers below it.
  Result<void> walk_dir(const std::string& dir_path, const std::vector<size_t>& lower_stack, bool cut_off,
                        size_t depth) {
    if (depth >= max_tree_depth)
      return corrupt(root_.absolute(beneath(writable_dir_, dir_path)),
                     "directories nested deeper than " + std::to_string(max_tree_depth) + " levels");
    auto upper_names = root_.list_dir(beneath(writable_dir_, dir_path));
    if (!upper_names) return upper_names.error();
    std::set<std::string> names(upper_names->begin(), upper_names->end());
    if (cut_off)
      for (const size_t layer : lower_stack) {
        auto lower_names = root_.list_dir(beneath(lower_dirs_[layer], dir_path));
        if (!lower_names) return lower_names.error();
        names.insert(lower_names->begin(), lower_names->end());
      }
    for (const auto& name : names)
      if (auto visited = visit(dir_path + "/" + name, lower_stack, cut_off, depth); !visited) return visited.error();
    return {};
  }

  Result<void> visit(const std::string& path, const std::vector<size_t>& parent_stack, bool cut_off, size_t depth) {
    auto upper = root_.stat(beneath(writable_dir_, path));
    if (!upper) return upper.error();
    auto lower = lookup_lower(parent_stack, path);
    if (!lower) return lower.error();
    if (!*upper || is_whiteout(**upper)) {
      if (lower->stat) changes_.push_back({ChangeKind::remove, path});
      return {};
    }
    const FileStat& entry = **upper;
    bool listed = true;
    if (!lower->stat) {
      changes_.push_back({ChangeKind::add, path});
    } else {
      auto differs = differs_from_lower(path, entry, *lower);
      if (!differs) return differs.error();
      if (*differs)
        changes_.push_back({ChangeKind::modify, path});
      else
        listed = false;
    }
    if (!S_ISDIR(entry.mode)) return {};
    bool cut_off_below = cut_off;
    if (!cut_off && !lower->dir_stack.empty()) {
      auto opaque = is_opaque_dir(root_, beneath(writable_dir_, path));
      if (!opaque) return opaque.error();
      cut_off_below = *opaque;
    }
    const size_t first_inside = changes_.size();
    if (auto walked = walk_dir(path, lower->dir_stack, cut_off_below, depth + 1); !walked) return walked.error();
    if (!listed && changes_.size() > first_inside)
      changes_.insert(changes_.begin() + static_cast<std::ptrdiff_t>(first_inside), {ChangeKind::modify, path});
    return {};
  }

  // overlayfs' lookup of `path` in the lowers that merge into its parent dir, top first.
  Result<LowerEntry> lookup_lower(const std::vector<size_t>& parent_stack, const std::string& path) const {
    LowerEntry found;
    for (const size_t layer : parent_stack) {
      const std::string relative = beneath(lower_dirs_[layer], path);
      auto st = root_.stat(relative);
      if (!st) return st.error();
      if (!*st) continue;
      if (is_whiteout(**st)) break;
      const bool is_dir = S_ISDIR((*st)->mode);
      if (!found.stat) {
        found.stat = *st;
        found.layer = layer;
      }
      if (!is_dir || !S_ISDIR(found.stat->mode)) break;
      found.dir_stack.push_back(layer);
      auto opaque = is_opaque_dir(root_, relative);
      if (!opaque) return opaque.error();
      if (*opaque) break;
    }
    return found;
  }

  Result<bool> differs_from_lower(const std::string& path, const FileStat& upper, const LowerEntry& lower) const {
    if (stat_different(*lower.stat, upper)) return true;
    auto upper_capability = capability_of(root_, beneath(writable_dir_, path), upper);
    if (!upper_capability) return upper_capability.error();
    auto lower_capability = capability_of(root_, beneath(lower_dirs_[lower.layer], path), *lower.stat);
    if (!lower_capability) return lower_capability.error();
    return *upper_capability != *lower_capability;
  }

  const RootDir& root_;
  const std::string& writable_dir_;
  const std::vector<std::string>& lower_dirs_;
  std::vector<Change> changes_;
};

// What one lower layer holds at the parent of the path being looked at, as Go's os.Stat of
// "<layer>/<path>" would find it: a real dir (look inside), a whiteout at or above it (the
// layer deleted it), or nothing (missing, or not a dir, so the stat fails).
enum class LayerPlace { dir, whited_out, absent };

// The paths podman itself makes in every container it runs (libpod's initInodes), which
// `podman diff` leaves out.
const std::set<std::string> podman_init_paths = {
    "/dev",  "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/etc/mtab", "/proc", "/run", "/run/.containerenv",
    "/run/secrets", "/run/notify", "/run/podman-init", "/sys"};

// c/storage's OverlayChanges (pkg/archive changes()), which only walks the writable layer.
class UpperWalk {
 public:
  UpperWalk(const RootDir& root, const std::string& writable_dir, const std::vector<std::string>& lower_dirs)
      : root_(root), writable_dir_(writable_dir), lower_dirs_(lower_dirs) {}

  Result<std::vector<Change>> run() {
    if (auto walked = walk_dir("", std::vector<LayerPlace>(lower_dirs_.size(), LayerPlace::dir), 0); !walked)
      return walked.error();
    std::erase_if(changes_, [](const Change& change) { return podman_init_paths.contains(change.path); });
    return std::move(changes_);
  }

 private:
  Result<void> walk_dir(const std::string& dir_path, const std::vector<LayerPlace>& parents, size_t depth) {
    if (depth >= max_tree_depth)
      return corrupt(root_.absolute(beneath(writable_dir_, dir_path)),
                     "directories nested deeper than " + std::to_string(max_tree_depth) + " levels");
    auto names = root_.list_dir(beneath(writable_dir_, dir_path));
    if (!names) return names.error();
    std::sort(names->begin(), names->end());
    for (const std::string& name : *names)
      if (auto visited = visit(dir_path + "/" + name, parents, depth); !visited) return visited.error();
    return {};
  }

  Result<void> visit(const std::string& path, const std::vector<LayerPlace>& parents, size_t depth) {
    auto upper = root_.stat(beneath(writable_dir_, path));
    if (!upper) return upper.error();
    if (!*upper) return not_found(root_.absolute(beneath(writable_dir_, path)), "vanished during the walk");
    const FileStat& entry = **upper;
    std::vector<std::optional<FileStat>> in_layer(lower_dirs_.size());
    std::vector<LayerPlace> places(lower_dirs_.size(), LayerPlace::absent);
    for (size_t i = 0; i < lower_dirs_.size(); ++i) {
      places[i] = parents[i];
      if (parents[i] != LayerPlace::dir) continue;
      auto st = root_.stat(beneath(lower_dirs_[i], path));
      if (!st) return st.error();
      in_layer[i] = *st;
      places[i] = !*st                    ? LayerPlace::absent
                  : is_whiteout(**st)     ? LayerPlace::whited_out
                  : S_ISDIR((*st)->mode) ? LayerPlace::dir
                                          : LayerPlace::absent;
    }
    Change change{ChangeKind::add, path};
    bool record = true;
    auto deleted = is_deleted(path, entry, in_layer, parents);
    if (!deleted) return deleted.error();
    if (*deleted) {
      change.kind = ChangeKind::remove;
    } else {
      for (size_t i = 0; i < lower_dirs_.size(); ++i) {
        if (parents[i] == LayerPlace::whited_out || (in_layer[i] && is_whiteout(*in_layer[i]))) break;
        if (!in_layer[i]) continue;
        const FileStat& lower = *in_layer[i];
        if (S_ISDIR(lower.mode) && S_ISDIR(entry.mode) && lower.size == entry.size && lower.mode == entry.mode &&
            same_fs_time(lower.mtime, entry.mtime))
          record = false;
        change.kind = ChangeKind::modify;
        break;
      }
    }
    if (record) {
      if (S_ISDIR(entry.mode)) changed_dirs_.insert(path);
      if (change.kind != ChangeKind::modify) add_parents(path);
      changes_.push_back(std::move(change));
    }
    if (S_ISDIR(entry.mode)) return walk_dir(path, places, depth + 1);
    return {};
  }

  // overlayDeletedFile: a whiteout, or an opaque dir whose path a lower layer has (and does
  // not white out).
  Result<bool> is_deleted(const std::string& path, const FileStat& entry,
                          const std::vector<std::optional<FileStat>>& in_layer,
                          const std::vector<LayerPlace>& parents) const {
    if (is_whiteout(entry)) return true;
    if (!S_ISDIR(entry.mode)) return false;
    auto opaque = is_opaque_dir(root_, beneath(writable_dir_, path));
    if (!opaque) return opaque.error();
    if (!*opaque) return false;
    for (size_t i = 0; i < lower_dirs_.size(); ++i) {
      if (in_layer[i]) return !is_whiteout(*in_layer[i]);
      if (parents[i] == LayerPlace::whited_out) return false;
    }
    return false;
  }

  // Lists the parents of an added or deleted entry not listed yet, outermost first.
  void add_parents(const std::string& path) {
    std::vector<std::string> tail;
    for (size_t cut = path.rfind('/'); cut != 0 && cut != std::string::npos; cut = path.rfind('/', cut - 1)) {
      std::string parent = path.substr(0, cut);
      if (changed_dirs_.insert(parent).second) tail.push_back(std::move(parent));
    }
    for (auto parent = tail.rbegin(); parent != tail.rend(); ++parent)
      changes_.push_back({ChangeKind::modify, std::move(*parent)});
  }

  const RootDir& root_;
  const std::string& writable_dir_;
  const std::vector<std::string>& lower_dirs_;
  std::vector<Change> changes_;
  std::set<std::string> changed_dirs_;
};

// The MD5 (lowercase hex) of the regular file at `relative`, read in chunks.
Result<std::string> file_md5(const RootDir& root, const std::string& relative) {
  auto fd = root.open_file(relative);
  if (!fd) return fd.error();
  CryptoPP::Weak::MD5 hash;
  std::vector<CryptoPP::byte> chunk(read_chunk_size);
  while (true) {
    const ssize_t n = ::read(fd->get(), chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failure(root.absolute(relative), errno_text(errno));
    if (n == 0) break;
    hash.Update(chunk.data(), static_cast<size_t>(n));
  }
  std::array<CryptoPP::byte, CryptoPP::Weak::MD5::DIGESTSIZE> digest{};
  hash.Final(digest.data());
  static constexpr char hex_digits[] = "0123456789abcdef";
  std::string hex;
  for (const auto byte : digest) {
    hex += hex_digits[byte >> 4];
    hex += hex_digits[byte & 0xf];
  }
  return hex;
}

// The type letter fls prints for a mode (TSK's tsk_fs_meta_type_str).
char type_letter(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return 'r';
    case S_IFDIR: return 'd';
    case S_IFLNK: return 'l';
    case S_IFCHR: return 'c';
    case S_IFBLK: return 'b';
    case S_IFIFO: return 'p';
    case S_IFSOCK: return 's';
    default: return '-';
  }
}

// fls' mode string: "<type>/<type>rwxrwxrwx", with s/S and t/T for the special bits.
std::string mode_string(mode_t mode) {
  const char type = type_letter(mode);
  std::string text{type, '/', type};
  const auto triple = [&](mode_t read, mode_t write, mode_t exec, mode_t special, char set, char set_no_exec) {
    text += (mode & read) ? 'r' : '-';
    text += (mode & write) ? 'w' : '-';
    if (mode & special)
      text += (mode & exec) ? set : set_no_exec;
    else
      text += (mode & exec) ? 'x' : '-';
  };
  triple(S_IRUSR, S_IWUSR, S_IXUSR, S_ISUID, 's', 'S');
  triple(S_IRGRP, S_IWGRP, S_IXGRP, S_ISGID, 's', 'S');
  triple(S_IROTH, S_IWOTH, S_IXOTH, S_ISVTX, 't', 'T');
  return text;
}

// `name` with '%', '|' and control bytes as %XX, which mactime decodes back.
std::string bodyfile_escape(std::string_view name) {
  static constexpr char hex_digits[] = "0123456789ABCDEF";
  std::string escaped;
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '%' || c == '|' || byte < 0x20 || byte == 0x7f) {
      escaped += '%';
      escaped += hex_digits[byte >> 4];
      escaped += hex_digits[byte & 0xf];
    } else {
      escaped += c;
    }
  }
  return escaped;
}

// The writable layer's record of the removal of `path`: its whiteout, else the nearest
// opaque dir above it.
Result<std::pair<std::string, FileStat>> removal_entry(const RootDir& root, const std::string& writable_dir,
                                                       const std::string& path) {
  auto st = root.stat(beneath(writable_dir, path));
  if (!st) return st.error();
  if (*st && is_whiteout(**st)) return std::pair{beneath(writable_dir, path), **st};
  if (*st && S_ISDIR((*st)->mode)) {
    auto opaque = is_opaque_dir(root, beneath(writable_dir, path));
    if (!opaque) return opaque.error();
    if (*opaque) return std::pair{beneath(writable_dir, path), **st};
  }
  for (size_t slash = path.rfind('/'); slash != 0 && slash != std::string::npos; slash = path.rfind('/', slash - 1)) {
    const std::string relative = beneath(writable_dir, path.substr(0, slash));
    auto ancestor = root.stat(relative);
    if (!ancestor) return ancestor.error();
    if (!*ancestor || !S_ISDIR((*ancestor)->mode)) continue;
    auto opaque = is_opaque_dir(root, relative);
    if (!opaque) return opaque.error();
    if (*opaque) return std::pair{relative, **ancestor};
  }
  return not_found(root.absolute(beneath(writable_dir, path)), "neither a whiteout nor an opaque dir above it");
}

}  // namespace

char change_letter(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::modify: return 'C';
    case ChangeKind::add: return 'A';
    case ChangeKind::remove: return 'D';
  }
  return '?';
}

Result<std::vector<Change>> container_changes(const RootDir& root, const std::string& writable_dir,
                                              const std::vector<std::string>& lower_dirs) {
  return ChangeWalk(root, writable_dir, lower_dirs).run();
}

Result<std::vector<Change>> writable_layer_changes(const RootDir& root, const std::string& writable_dir,
                                                   const std::vector<std::string>& lower_dirs) {
  return UpperWalk(root, writable_dir, lower_dirs).run();
}

Result<std::string> bodyfile_line(const RootDir& root, const std::string& writable_dir, const Change& change) {
  if (!change.path.starts_with('/') || change.path == "/")
    return usage_error(change.path, "not an absolute path of an entry inside the container");
  std::string relative = beneath(writable_dir, change.path);
  FileStat entry;
  if (change.kind == ChangeKind::remove) {
    auto removal = removal_entry(root, writable_dir, change.path);
    if (!removal) return removal.error();
    relative = std::move(removal->first);
    entry = removal->second;
  } else {
    auto st = root.stat(relative);
    if (!st) return st.error();
    if (!*st) return not_found(root.absolute(relative), "no such entry in the writable layer");
    entry = **st;
  }
  std::string md5 = "0";
  if (S_ISREG(entry.mode)) {
    auto digest = file_md5(root, relative);
    if (!digest) return digest.error();
    md5 = std::move(*digest);
  }
  std::string name = bodyfile_escape(change.path);
  if (change.kind == ChangeKind::remove) name += " (deleted)";
  const auto field = [](auto value) { return std::string(1, '|').append(std::to_string(value)); };
  return md5 + "|" + name + field(entry.ino) + "|" + mode_string(entry.mode) + field(entry.uid) + field(entry.gid) +
         field(entry.size) + field(entry.atime.tv_sec) + field(entry.mtime.tv_sec) + field(entry.ctime.tv_sec) +
         field(entry.btime ? entry.btime->tv_sec : 0);
}

}  // namespace ovlmount
