// Why: see resolver.hpp. The order is Docker's own (daemon/images GetImage): a string that
// is a full ID is only ever an ID; otherwise the reference store wins; an ID prefix is the
// last resort and must be unique.
#include "ovlmount/resolver.hpp"

#include "ovlmount/digest.hpp"

#include <algorithm>

namespace ovlmount {
namespace {

constexpr size_t max_candidates_listed = 8;

Result<std::string> find_by_prefix(const ImageStore& store, const std::string& text,
                                   const std::string& prefix) {
  auto ids = store.image_ids();
  if (!ids) return ids.error();
  std::vector<std::string> matches;
  for (const auto& id : *ids)
    if (id.starts_with(prefix)) matches.push_back(id);
  if (matches.empty()) return not_found(text, "no such image");
  if (matches.size() == 1) return matches.front();
  std::sort(matches.begin(), matches.end());
  std::string list;
  for (size_t i = 0; i < matches.size() && i < max_candidates_listed; ++i)
    list += (i ? ", " : "") + matches[i].substr(0, 12);
  if (matches.size() > max_candidates_listed) list += ", ...";
  return not_found(text, "ambiguous image ID prefix, " + std::to_string(matches.size()) +
                             " images match: " + list);
}

Result<std::string> find_image_id(const ImageStore& store, std::string_view reference) {
  const std::string text(reference);
  if (auto id = full_image_id(reference)) {
    auto stored = store.has_image(*id);
    if (!stored) return stored.error();
    if (!*stored) return not_found(text, "no such image");
    return *id;
  }
  auto ref = parse_reference(reference);
  if (ref) {
    auto id = store.lookup_name(*ref);
    if (!id) return id.error();
    if (*id) {
      auto stored = store.has_image(**id);
      if (!stored) return stored.error();
      if (!*stored)
        return not_found(text, "names image sha256:" + **id + ", which is missing from the image store");
      return **id;
    }
  }
  if (auto prefix = image_id_prefix(reference)) return find_by_prefix(store, text, *prefix);
  if (!ref) return ref.error();
  return not_found(text, "no such image");
}

}  // namespace

Result<ResolvedImage> resolve_image(const ImageStore& store, std::string_view reference) {
  auto id = find_image_id(store, reference);
  if (!id) return id.error();
  ResolvedImage image{std::string(reference), "sha256:" + *id, {}};

  auto diff_ids = store.diff_ids(*id);
  if (!diff_ids) return diff_ids.error();
  if (diff_ids->empty()) return failure(image.image_id, "image has no layers to mount");
  if (diff_ids->size() > max_layers)
    return failure(image.image_id, "image has " + std::to_string(diff_ids->size()) +
                                       " layers; overlayfs stacks at most " + std::to_string(max_layers));

  const auto chain = chain_ids(*diff_ids);
  image.layers.reserve(chain.size());
  for (size_t i = 0; i < chain.size(); ++i) {
    auto layer = store.layer(chain[i], (*diff_ids)[i], i ? chain[i - 1] : std::string());
    if (!layer) return layer.error();
    image.layers.push_back(std::move(*layer));
  }
  return image;
}

}  // namespace ovlmount
