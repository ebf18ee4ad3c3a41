// Why: see paths.hpp.
#include "ovlmount/core/paths.hpp"

namespace ovlmount {

bool is_within(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.starts_with(dir) && (dir == "/" || path[dir.size()] == '/'));
}

bool paths_overlap(const std::string& a, const std::string& b) { return is_within(a, b) || is_within(b, a); }

}  // namespace ovlmount
