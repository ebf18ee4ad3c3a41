// Why: see which.hpp. Each layer is examined on its own, top first, the way overlayfs' lookup
// goes down the stack: a layer's prefixes decide whether it can hold the path at all and
// whether it hides everything below (whiteout, non-directory) or cuts the layers below off
// (opaque dir); then the path itself decides. Only lstat and one xattr per directory prefix are
// read, so a symlink in a layer is an answer ("not a directory"), never followed.
#include "ovlmount/forensics/which.hpp"

#include "ovlmount/forensics/overlay_marks.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <optional>

namespace ovlmount {
namespace {

// What one layer says about a path.
enum class LayerVerdict { nothing, provides, hides, cuts_off };

struct LayerAnswer {
  LayerVerdict verdict = LayerVerdict::nothing;
  std::string detail;
};

std::string beneath(const std::string& layer_dir, const std::string& relative) {
  if (layer_dir.empty()) return relative;
  return layer_dir + "/" + relative;
}

// The components of `path`: leading and repeated slashes dropped; "." and ".." refused.
Result<std::vector<std::string>> path_components(std::string_view path) {
  std::vector<std::string> components;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view component = path.substr(start, end - start);
    if (component == "." || component == "..")
      return usage_error(std::string(path), "\".\" and \"..\" are not allowed in the path");
    if (!component.empty()) components.emplace_back(component);
    start = end + 1;
  }
  return components;
}

// What layer `layer_dir` says about the path made of `components` (at least one).
Result<LayerAnswer> examine_layer(const RootDir& root, const std::string& layer_dir,
                                  const std::vector<std::string>& components) {
  std::string relative;
  std::string shown;
  std::optional<std::string> opaque_prefix;
  for (size_t depth = 0; depth < components.size(); ++depth) {
    if (depth > 0) relative += '/';
    relative += components[depth];
    shown += "/" + components[depth];
    auto st = root.stat(beneath(layer_dir, relative));
    if (!st) return st.error();
    if (!*st) break;
    if (is_whiteout(**st)) return LayerAnswer{LayerVerdict::hides, "whiteout of " + shown};
    if (depth + 1 == components.size()) return LayerAnswer{LayerVerdict::provides, ""};
    if (!S_ISDIR((*st)->mode)) return LayerAnswer{LayerVerdict::hides, shown + " is not a directory"};
    if (!opaque_prefix) {
      auto opaque = is_opaque_dir(root, beneath(layer_dir, relative));
      if (!opaque) return opaque.error();
      if (*opaque) opaque_prefix = shown;
    }
  }
  if (opaque_prefix) return LayerAnswer{LayerVerdict::cuts_off, "opaque dir " + *opaque_prefix};
  return LayerAnswer{};
}

}  // namespace

Result<WhichAnswer> which_layer(const RootDir& root, const std::vector<std::string>& layer_dirs,
                                std::string_view path) {
  auto components = path_components(path);
  if (!components) return components.error();
  if (layer_dirs.empty()) return WhichAnswer{};
  if (components->empty()) return WhichAnswer{Presence::provided, 0, ""};
  for (size_t layer = 0; layer < layer_dirs.size(); ++layer) {
    auto answer = examine_layer(root, layer_dirs[layer], *components);
    if (!answer) return answer.error();
    switch (answer->verdict) {
      case LayerVerdict::nothing: continue;
      case LayerVerdict::provides: return WhichAnswer{Presence::provided, layer, ""};
      case LayerVerdict::hides:
      case LayerVerdict::cuts_off: return WhichAnswer{Presence::hidden, layer, std::move(answer->detail)};
    }
  }
  return WhichAnswer{};
}

}  // namespace ovlmount
