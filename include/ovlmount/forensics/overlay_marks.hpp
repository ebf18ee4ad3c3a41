// Why: overlayfs records a deletion in a layer dir as a 0/0 character device (a whiteout) and a
// directory that hides everything below it with the xattr trusted.overlay.opaque = "y". Every
// reader of layer dirs (diff, which, verify) must recognise both the same way.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/root_dir.hpp"

#include <string>
#include <string_view>

namespace ovlmount {

// The xattr that marks an opaque directory.
inline constexpr const char* opaque_xattr = "trusted.overlay.opaque";

// True when `st` is an overlay whiteout: a character device with device number 0/0.
bool is_whiteout(const FileStat& st);

// Whether the directory at `relative` (beneath `root`) is marked opaque.
Result<bool> is_opaque_dir(const RootDir& root, std::string_view relative);

}  // namespace ovlmount
