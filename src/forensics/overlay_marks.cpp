// Why: see overlay_marks.hpp.
#include "ovlmount/forensics/overlay_marks.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace ovlmount {

bool is_whiteout(const FileStat& st) { return S_ISCHR(st.mode) && major(st.rdev) == 0 && minor(st.rdev) == 0; }

Result<bool> is_opaque_dir(const RootDir& root, std::string_view relative) {
  auto value = root.xattr(relative, opaque_xattr);
  if (!value) return value.error();
  return *value && **value == "y";
}

}  // namespace ovlmount
