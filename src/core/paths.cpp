// Why: see paths.hpp.
#include "ovlmount/core/paths.hpp"

#include <filesystem>

namespace ovlmount {

bool is_within(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.starts_with(dir) && (dir == "/" || path[dir.size()] == '/'));
}

bool paths_overlap(const std::string& a, const std::string& b) { return is_within(a, b) || is_within(b, a); }

std::string absolute_normal_path(const std::string& path) {
  std::string normal = std::filesystem::absolute(path).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

std::string resolved_path(const std::string& path) {
  std::error_code ec;
  std::string resolved = std::filesystem::weakly_canonical(path, ec).string();
  if (ec || resolved.empty()) return absolute_normal_path(path);
  while (resolved.size() > 1 && resolved.back() == '/') resolved.pop_back();
  return resolved;
}

}  // namespace ovlmount
