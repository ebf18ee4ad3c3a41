// Why: overlayfs records a deletion in a layer dir as a 0/0 character device (a whiteout) and a
// directory that hides everything below it with the xattr trusted.overlay.opaque = "y", where a
// layer tar has ".wh.<name>" and ".wh..wh..opq" entries. Every reader of layer dirs (diff,
// which, both verifications) must recognise them the same way, and the verifications must see
// a layer dir in the tar's own terms.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/root_dir.hpp"

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ovlmount {

// The xattr that marks an opaque directory.
inline constexpr const char* opaque_xattr = "trusted.overlay.opaque";

// How a layer tar names a whiteout of <name> (".wh.<name>") and an opaque dir's marker.
inline constexpr std::string_view whiteout_prefix = ".wh.";
inline constexpr std::string_view opaque_marker = ".wh..wh..opq";

// How deep a walk of a layer dir or a mounted tree goes. Past 2048 levels a path is longer than
// PATH_MAX (4096 bytes), so no program could open it by name: a directory nested deeper is a
// corrupt store, and a crafted layer cannot exhaust the stack, the descriptors (one a level)
// or the memory (paths grow with depth) of a walk.
inline constexpr size_t max_tree_depth = 2048;

// One way a layer dir differs from what its tar records.
struct FileProblem {
  std::string path;     // relative to the layer root, "etc/passwd"; "" for the layer root itself
  std::string problem;  // "content differs (CRC64)", "size 12, tar-split says 10", "missing",
                        // "not in tar-split", "is a directory, tar-split lists a regular file", ...
};

// One entry of a layer dir, named as the layer tar names it.
struct LayerDirEntry {
  std::string path;  // a whiteout of "d/x" as "d/.wh.x"; an opaque dir "d" adds "d/.wh..wh..opq"
  mode_t mode = 0;
  std::uint64_t size = 0;
  bool overlay_marker = false;  // a whiteout device or opaque xattr standing for a ".wh." entry
};

// Every entry below the layer dir `layer_dir` (relative to `root`), depth first, in the tar's
// terms; what cannot be listed, stat'ed or have its xattrs read is added to `problems`.
// Reads change no timestamp and follow no symlink.
std::vector<LayerDirEntry> layer_dir_entries(const RootDir& root, const std::string& layer_dir,
                                             std::vector<FileProblem>& problems);

// "regular file", "directory", "symlink", ... for the file type bits of `mode`.
std::string file_kind(mode_t mode);

// True when `st` is an overlay whiteout: a character device with device number 0/0.
bool is_whiteout(const FileStat& st);

// Whether the directory at `relative` (beneath `root`) is marked opaque.
Result<bool> is_opaque_dir(const RootDir& root, std::string_view relative);

}  // namespace ovlmount
