// Why: a layer's diff dir could have been changed after Docker unpacked it, and nothing in the
// metadata would show it. Docker keeps, per layer, the tar stream's headers and padding
// (tar-split.json.gz) with each file's size and CRC64; writing those segments and the files of
// the diff dir in order rebuilds the exact layer tar, whose SHA-256 must be the layer's diff_id.
// That proves the content offline, and on a mismatch the sizes and CRC64s name the files.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/root_dir.hpp"
#include "ovlmount/forensics/overlay_marks.hpp"
#include "ovlmount/store/image_store.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ovlmount {


// The outcome of rebuilding one layer's tar stream.
struct LayerVerification {
  bool ok = false;            // actual == the layer's diff_id and no problem was found
  std::string actual;         // "sha256:<hex>" of the rebuilt stream; "" when it could not be rebuilt
  std::uint64_t bytes = 0;    // bytes of the rebuilt stream
  std::uint64_t entries = 0;  // tar entries tar-split lists
  std::vector<FileProblem> problems;
};

// Called about every 8 MiB while a layer is read, and once at the end of each pass: bytes of
// file content read so far and the expected total (the layer's recorded size, raised to `done`
// when the content is larger; 0 when the store records no size). After a digest mismatch a
// second pass reports again from 0, with the bytes it re-reads as the total.
using VerifyProgress = std::function<void(std::uint64_t done, std::uint64_t total)>;

// Rebuilds the tar stream of `layer` (an image layer with a tar_split) from its tar-split and
// the files of its diff dir, both read beneath `root` with O_NOATIME and without following
// symlinks, and compares its SHA-256 with layer.diff_id. Each file tar-split lists with content
// is read in 1 MiB reads; one that is missing, not a regular file, unreadable or of another
// size is a problem, and the stream goes on with exactly the recorded number of bytes (zeros
// past its end), so the result is the same on every run. Then the names are compared with the
// diff dir (an overlay whiteout, a 0/0 character device "x", stands for the entry ".wh.x"; a
// dir with trusted.overlay.opaque=y for "<dir>/.wh..wh..opq"; a dir on disk only because
// listed entries lie below it is fine): each entry on disk tar-split does not list is "not in
// tar-split", each listed one not on disk "missing", an entry whose type differs from its tar
// header's, an empty regular file that has content, or a ".wh." entry that is no whiteout on
// disk is a problem too. Only on a digest mismatch are the files read again, and each whose
// CRC64 differs from tar-split's is "content differs (CRC64)". A mismatch with no problem means
// the tar headers (not the contents) differ, or the diff_id does. When the diff dir itself is
// missing, the result has the one problem with path "" and actual "" (the tar-split is still
// read through). Problems are sorted by path. Memory grows with the number of entries (their
// names), not with file sizes. Fails only when the tar-split cannot be read: not_found when
// there is none (or layer.tar_split is ""), corrupt naming it when it is malformed.
Result<LayerVerification> verify_layer(const RootDir& root, const Layer& layer, const VerifyProgress& progress);

// Regular files and their total size below a layer dir (for layers no digest covers).
struct TreeSize {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
};

// Counts the regular files below `dir` (relative to `root`) and adds up their sizes, without
// following symlinks; a file with several hard links there counts once per name. Any RootDir
// error fails it.
Result<TreeSize> tree_size(const RootDir& root, const std::string& dir);

}  // namespace ovlmount
