// Why: see resolver.hpp. The orders are Docker's own (daemon/images GetImage and
// daemon GetContainer): a string that is a full ID is only ever an ID; otherwise the name
// wins; an ID prefix is the last resort and must be unique.
#include "ovlmount/store/resolver.hpp"

#include "ovlmount/core/digest.hpp"

#include <algorithm>
#include <optional>

namespace ovlmount {
namespace {

constexpr size_t max_candidates_listed = 8;

Result<std::string> find_by_prefix(const std::vector<std::string>& ids, const std::string& text,
                                   const std::string& prefix, const std::string& what) {
  std::vector<std::string> matches;
  for (const auto& id : ids)
    if (id.starts_with(prefix)) matches.push_back(id);
  if (matches.empty()) return not_found(text, "no such " + what);
  if (matches.size() == 1) return matches.front();
  std::sort(matches.begin(), matches.end());
  std::string list;
  for (size_t i = 0; i < matches.size() && i < max_candidates_listed; ++i)
    list += (i ? ", " : "") + matches[i].substr(0, 12);
  if (matches.size() > max_candidates_listed) list += ", ...";
  return not_found(text, "ambiguous " + what + " ID prefix, " + std::to_string(matches.size()) + " " + what +
                             "s match: " + list);
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
  if (auto prefix = image_id_prefix(reference)) {
    auto ids = store.image_ids();
    if (!ids) return ids.error();
    return find_by_prefix(*ids, text, *prefix, "image");
  }
  if (!ref) return ref.error();
  return not_found(text, "no such image");
}

// The image's layers, bottom first, each checked against the one below it.
Result<Stack> image_stack(const ImageStore& store, std::string_view reference, const std::string& id) {
  Stack stack;
  stack.reference = std::string(reference);
  stack.image_id = "sha256:" + id;
  auto config = store.image_config(id);
  if (!config) return config.error();
  stack.created = config->created;
  const auto& diff_ids = config->diff_ids;
  if (diff_ids.empty()) return corrupt(stack.image_id, "image config lists no layers (rootfs.diff_ids is empty)");
  if (diff_ids.size() > max_layers)
    return corrupt(stack.image_id, "image has " + std::to_string(diff_ids.size()) +
                                       " layers; overlayfs stacks at most " + std::to_string(max_layers));
  auto layers = store.image_layers(id, *config);
  if (!layers) return layers.error();
  if (layers->size() > max_layers)
    return corrupt(stack.image_id, "image has " + std::to_string(layers->size()) +
                                       " layers; overlayfs stacks at most " + std::to_string(max_layers));
  stack.layers = std::move(*layers);
  return stack;
}

bool is_hex_prefix(std::string_view text) {
  return !text.empty() && text.size() <= 64 &&
         text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

const char* role_name(LayerRole role) {
  switch (role) {
    case LayerRole::image: return "image";
    case LayerRole::init: return "init";
    case LayerRole::writable: return "writable";
  }
  return "?";
}

Result<Stack> resolve_image(const ImageStore& store, std::string_view reference) {
  auto id = find_image_id(store, reference);
  if (!id) return id.error();
  return image_stack(store, reference, *id);
}

namespace {

// find_container_id, and whether its "not found" hides a container that could not be read
// (`unreadable`: that container's error, returned instead, since it may be the one named).
Result<std::string> find_container_id(const ImageStore& store, std::string_view reference, bool& unreadable) {
  unreadable = false;
  const std::string text(reference);
  auto ids = store.container_ids();
  if (!ids) return ids.error();
  if (is_hex64(reference)) {
    if (std::binary_search(ids->begin(), ids->end(), text)) return text;
  }
  std::optional<Error> first_unreadable;
  std::optional<std::string> named;
  const std::string_view name = reference.starts_with('/') ? reference.substr(1) : reference;
  if (!name.empty()) {
    for (const std::string& id : *ids) {
      auto container = store.container(id);
      if (container && container->name == name) {
        if (named)
          return corrupt("container name " + std::string(name),
                         "held by two containers, " + named->substr(0, 12) + " and " + id.substr(0, 12));
        named = id;
      }
      if (!container && !first_unreadable) first_unreadable = container.error();
    }
  }
  if (named) return *named;
  if (is_hex_prefix(reference)) {
    auto by_prefix = find_by_prefix(*ids, text, text, "container");
    if (by_prefix || !first_unreadable || by_prefix.error().problem != "no such container") return by_prefix;
  }
  if (first_unreadable) {
    unreadable = true;
    return *first_unreadable;
  }
  return not_found(text, "no such container");
}

}  // namespace

Result<std::string> find_container_id(const ImageStore& store, std::string_view reference) {
  bool unreadable = false;
  return find_container_id(store, reference, unreadable);
}

Result<Stack> resolve_container(const ImageStore& store, std::string_view reference) {
  auto id = find_container_id(store, reference);
  if (!id) return id.error();
  auto container = store.container(*id);
  if (!container) return container.error();
  auto own = store.container_layers(*id);
  if (!own) return own.error();
  auto stack = image_stack(store, reference, container->image_id.substr(7));
  if (!stack) return stack.error();
  if (stack->layers.back().chain_id != own->parent_chain_id)
    return corrupt("container " + *id, "its layer sits on " + own->parent_chain_id +
                                           ", not on the top layer of its image " + stack->layers.back().chain_id);
  const size_t total = stack->layers.size() + (own->init ? 2 : 1);
  if (total > max_layers)
    return corrupt("container " + *id, "has " + std::to_string(total) + " layers; overlayfs stacks at most " +
                                           std::to_string(max_layers));
  stack->kind = SourceKind::container;
  if (own->init) stack->layers.push_back(std::move(*own->init));
  stack->layers.push_back(std::move(own->writable));
  stack->container = std::move(*container);
  return stack;
}

Result<Stack> resolve_any(const ImageStore& store, std::string_view reference) {
  bool unreadable = false;
  auto id = find_container_id(store, reference, unreadable);
  if (id) return resolve_container(store, *id);
  const bool no_container = id.error().code == ExitCode::not_found && id.error().problem == "no such container";
  if (!no_container && !unreadable) return id.error();
  auto image = resolve_image(store, reference);
  if (image || image.error().code != ExitCode::not_found || image.error().problem != "no such image") return image;
  return id.error();
}

}  // namespace ovlmount
