// Why: "where did this file come from?" is answered by the top-most layer whose diff dir has
// the path, unless a layer above hides it: a whiteout of the path or of a parent, an opaque
// parent dir, or a parent that a higher layer replaced with a non-directory. This applies
// overlayfs' own lookup rules to the diff dirs, without mounting anything.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/root_dir.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ovlmount {

// Whether a path is in the merged tree.
enum class Presence { provided, hidden, absent };

// Which layer provides or hides a path.
struct WhichAnswer {
  Presence presence = Presence::absent;
  size_t layer = 0;    // index into the layer dirs given (top first); meaningless when absent
  std::string detail;  // for hidden: "whiteout of /a/b", "opaque dir /a", "/a is not a directory"
};

// Looks `path` up through `layer_dirs` (relative to `root`, top layer first) as overlayfs
// would, with lstat and xattr reads only. Going down, in each layer: each proper prefix of
// the path that is missing ends that layer's say; a whiteout (0/0 character device) or a
// non-directory (a symlink included) hides the path ("whiteout of /a", "/a is not a
// directory"); an opaque dir cuts the layers below off. Then the path itself: a whiteout
// hides it ("whiteout of /a/b"), anything else (an opaque dir too) is provided by this layer;
// if it is missing but an opaque prefix was met, it is hidden ("opaque dir /a", the one
// nearest the root). Absent when no layer decides. `path` may be absolute or relative;
// repeated and trailing slashes are ignored; "." and ".." components are usage errors; "/"
// (or "") is provided by the top layer (absent when there is no layer). Errors of `root`
// (a layer dir reached through a symlink, say) are returned as they are.
Result<WhichAnswer> which_layer(const RootDir& root, const std::vector<std::string>& layer_dirs,
                                std::string_view path);

}  // namespace ovlmount
