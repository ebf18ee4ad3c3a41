// Why: a layer's diff dir could have been changed after Docker unpacked it, and nothing in the
// metadata would show it. Docker keeps, per layer, the tar stream's headers and padding
// (tar-split.json.gz) with each file's size and CRC64; writing those segments and the files of
// the diff dir in order rebuilds the exact layer tar, whose SHA-256 must be the layer's diff_id.
// That proves the content offline, and on a mismatch the sizes and CRC64s name the files.
#pragma once

#include "ovlmount/error.hpp"
#include "ovlmount/image_store.hpp"
#include "ovlmount/root_dir.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ovlmount {

// One way a layer's diff dir differs from what its tar-split records.
struct FileProblem {
  std::string path;     // relative to the layer root, "etc/passwd"
  std::string problem;  // "content differs (CRC64)", "size 12, tar-split says 10", "missing", "not in tar-split", ...
};

// The outcome of rebuilding one layer's tar stream.
struct LayerVerification {
  bool ok = false;            // actual == the layer's diff_id and no problem was found
  std::string actual;         // "sha256:<hex>" of the rebuilt stream; "" when it could not be rebuilt
  std::uint64_t bytes = 0;    // bytes of the rebuilt stream
  std::uint64_t entries = 0;  // tar entries tar-split lists
  std::vector<FileProblem> problems;
};

// Called now and then while a layer is read: bytes rebuilt so far and the expected total.
using VerifyProgress = std::function<void(std::uint64_t done, std::uint64_t total)>;

// Rebuilds the tar stream of `layer` (an image layer with a tar_split) from its tar-split and
// the files of its diff dir, both read beneath `root` with O_NOATIME, in constant memory, and
// compares the SHA-256 with layer.diff_id. Also lists every file of the diff dir that tar-split
// does not list (an overlay whiteout stands for a ".wh." entry, an opaque dir for ".wh..wh..opq").
// On a digest mismatch, names every file whose size or CRC64 differs and every file missing.
// Fails (corrupt) only when the tar-split itself is missing or malformed.
Result<LayerVerification> verify_layer(const RootDir& root, const Layer& layer, const VerifyProgress& progress);

// Regular files and their total size below a layer dir (for layers no digest covers).
struct TreeSize {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
};

// Counts the regular files below `dir` (relative to `root`) and adds up their sizes.
Result<TreeSize> tree_size(const RootDir& root, const std::string& dir);

}  // namespace ovlmount
