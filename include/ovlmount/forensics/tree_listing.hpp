// Why: a case file lists every path of a merged tree with its metadata and a SHA-256, and two
// listings must compare line by line whatever filesystem or readdir order produced them. So
// rows come in the bytewise order of their paths (as `LC_ALL=C sort` orders them), no symlink
// is ever followed (every open is openat2 RESOLVE_NO_SYMLINKS beneath the tree), nothing read
// has its atime changed (O_NOATIME), memory stays bounded by the directories on the current
// path however large the tree, and regular files are hashed on several threads while rows still come out
// in order. The layer each path comes from follows overlayfs' lookup rules, as `which` does,
// but is computed once per directory from the layers' own listings (carrying down which layers
// still show through each directory) instead of once per path.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/root_dir.hpp"

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ovlmount {

// One path of the tree.
struct TreeEntry {
  std::string path;  // absolute inside the tree: "/", "/etc/passwd"
  mode_t mode = 0;   // type and permission bits (setuid, setgid, sticky included)
  uid_t uid = 0;
  gid_t gid = 0;
  std::uint64_t size = 0;
  timespec mtime{};
  std::string link;             // a symlink's target; "" otherwise
  std::string sha256;           // lowercase hex of a regular file's content; "" when not hashed
  std::optional<size_t> layer;  // the providing layer, an index into ListingOptions::layer_dirs
  std::string problem;          // what could not be read about it ("" when nothing)
};

// What to list and how.
struct ListingOptions {
  std::vector<std::string> paths;       // absolute; only these and what is below them; all when empty
  bool hash = true;                     // SHA-256 of regular files
  const RootDir* layer_root = nullptr;  // when set: name each path's layer among `layer_dirs`
  std::vector<std::string> layer_dirs;  // the tree's layer dirs relative to *layer_root, top first
  unsigned threads = 0;                 // hashing threads; 0: one per CPU (at most 8)
};

// Called for each entry, in order; returning false stops the listing.
using TreeRow = std::function<bool(const TreeEntry&)>;

// Lists the tree at directory `root` (absolute): the entry of each path in the bytewise order
// of the paths, never following a symlink and never leaving the filesystem of `root`. Each of
// `options.paths` is checked before any row is given: "." or ".." in it is a usage error; one
// that does not exist, or is reached through a symlink or a non-directory, is not_found naming
// it. A path's own failures (a file that cannot be read) go into its entry's `problem`; the
// listing goes on. With `options.layer_root`, `entry.layer` is the layer whose dir provides
// the path by overlayfs' rules (as which_layer answers), or nullopt when none of them has it.
Result<void> list_tree(const std::string& root, const ListingOptions& options, const TreeRow& row);

// "file", "dir", "symlink", "char", "block", "fifo", "socket" (or "unknown") for `mode`.
const char* tree_type_name(mode_t mode);

// `mode`'s permission bits as four octal digits: "0644", "4755", "1777".
std::string octal_mode(mode_t mode);

// `time` as seconds since the epoch with nine decimals: "1700000000.123456789", "-0.500000000".
std::string epoch_ns(const timespec& time);

}  // namespace ovlmount
