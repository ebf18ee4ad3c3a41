// Why: see catalog.hpp. Each entry is resolved on its own, exactly as a mount would resolve
// it, so "listed without a problem" means "mountable and verified at the metadata level".
#include "ovlmount/cli/catalog.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/json_output.hpp"
#include "ovlmount/store/resolver.hpp"
#include "ovlmount/store/stores.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <ostream>

namespace ovlmount {
namespace {

namespace json = boost::json;

// Docker's human-readable size: decimal units, three significant digits ("2.36MB").
std::string human_size(std::int64_t bytes) {
  static const char* const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  double size = static_cast<double>(bytes);
  size_t unit = 0;
  while (size >= 1000 && unit + 1 < std::size(units)) {
    size /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.3g%s", size, units[unit]);
  return text;
}

// Keeps the first problem of a listing: main reports it once, the rows show every one.
void note_problem(const Error& problem, std::optional<Error>& first) {
  if (!first) first = problem;
}

Result<void> first_or_ok(const std::optional<Error>& first) {
  if (first) return *first;
  return {};
}

// overlay2's <64 hex>[-init], a containers-storage layer ID (64 hex), or a containerd snapshot number.
bool is_layer_dir_name(std::string_view name) {
  const bool snapshot_number = !name.empty() && name.size() <= 20 && name.front() != '0' &&
                               name.find_first_not_of("0123456789") == std::string_view::npos;
  return snapshot_number || (is_hex64(name.substr(0, 64)) && (name.size() == 64 || name.substr(64) == "-init"));
}

bool is_link_name(std::string_view name) {
  return name.size() == 26 &&
         std::all_of(name.begin(), name.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'); });
}

// One row of `images` for image `id` ("" for an image without one) named `names`, whose stack
// is `stack` (or its problem): appended to `rows` when given, else printed on `out` (with the
// store's `label` when `show_label`).
void image_row(const std::string& id, const std::vector<std::string>& names, const Result<Stack>& stack,
               const std::string& label, bool show_label, json::array* rows, std::ostream& out) {
  std::int64_t size = 0;
  if (stack)
    for (const Layer& layer : stack->layers) size += std::max<std::int64_t>(layer.size, 0);
  if (rows) {
    json::array refs;
    for (const auto& name : names) refs.emplace_back(name);
    rows->push_back(json::object{{"id", id.empty() ? json::value(nullptr) : json::value("sha256:" + id)},
                                 {"store", label},
                                 {"references", std::move(refs)},
                                 {"layers", stack ? stack->layers.size() : 0},
                                 {"size", size},
                                 {"created", stack ? string_or_null(stack->created) : json::value(nullptr)},
                                 {"problem", stack ? json::value(nullptr) : json::value(stack.error().message())}});
    return;
  }
  std::string refs;
  for (const auto& name : names) refs.append(refs.empty() ? "" : ",").append(escape(name));
  out << (id.empty() ? "-" : id.substr(0, 12)) << "  " << (stack ? std::to_string(stack->layers.size()) : "-") << "  "
      << (stack ? human_size(size) : "-") << "  " << (stack && !stack->created.empty() ? escape(stack->created) : "-")
      << "  " << (refs.empty() ? "<none>" : refs) << (show_label ? "  " + label : "")
      << (stack ? "" : "  BROKEN: " + stack.error().message()) << "\n";
}

}  // namespace

Result<void> run_images(const Stores& stores, bool json, std::ostream& out) {
  std::optional<Error> first;
  json::array rows;
  for (const StoreEntry& entry : stores.entries()) {
    const ImageStore& store = *entry.store;
    auto ids = store.image_ids();
    if (!ids) return ids.error();
    std::sort(ids->begin(), ids->end());
    auto references = store.references();
    if (!references) return references.error();
    for (const auto& [id, names] : *references)
      if (!std::binary_search(ids->begin(), ids->end(), id)) ids->insert(std::upper_bound(ids->begin(), ids->end(), id), id);

    for (const std::string& id : *ids) {
      std::vector<std::string> names;
      if (const auto found = references->find(id); found != references->end()) names = found->second;
      auto stored = store.has_image(id);
      auto stack = !stored    ? Result<Stack>(stored.error())
                   : *stored ? resolve_image(store, id)
                             : Result<Stack>(not_found("image sha256:" + id, "is named, but its config is missing from the image store"));
      if (!stack) note_problem(stack.error(), first);
      image_row(id, names, stack, entry.label, stores.entries().size() > 1, json ? &rows : nullptr, out);
    }
    auto unidentified = store.unidentified_images();
    if (!unidentified) return unidentified.error();
    for (const UnidentifiedImage& image : *unidentified) {
      note_problem(image.problem, first);
      image_row("", image.references, image.problem, entry.label, stores.entries().size() > 1, json ? &rows : nullptr, out);
    }
  }
  if (json) out << json::serialize(rows) << "\n";
  return first_or_ok(first);
}

Result<void> run_containers(const Stores& stores, bool json, std::ostream& out) {
  std::optional<Error> first;
  json::array rows;
  for (const StoreEntry& entry : stores.entries()) {
    const ImageStore& store = *entry.store;
    auto ids = store.container_ids();
    if (!ids) return ids.error();
    for (const std::string& id : *ids) {
      auto container = store.container(id);
      Result<ContainerLayers> layers = container ? store.container_layers(id) : Result<ContainerLayers>(container.error());
      if (!layers) note_problem(layers.error(), first);
      if (json) {
        json::object row{{"id", id}, {"store", entry.label}};
        if (container) {
          row["name"] = container->name;
          row["image_id"] = container->image_id;
          row["image"] = container->image_name;
          row["state"] = container->state;
          row["created"] = container->created;
        }
        row["mount_id"] = layers ? json::value(layers->mount_id) : json::value(nullptr);
        row["problem"] = layers ? json::value(nullptr) : json::value(layers.error().message());
        rows.push_back(std::move(row));
        continue;
      }
      out << id.substr(0, 12) << "  ";
      if (container)
        out << escape(container->name) << "  "
            << (container->image_name.empty() ? container->image_id.substr(7, 12) : escape(container->image_name))
            << "  " << container->state << "  " << escape(container->created);
      else
        out << "-  -  -  -";
      out << (stores.entries().size() > 1 ? "  " + entry.label : "")
          << (layers ? "" : "  BROKEN: " + layers.error().message()) << "\n";
    }
  }
  if (json) out << json::serialize(rows) << "\n";
  return first_or_ok(first);
}

Result<void> run_owner(const Stores& stores, const std::string& layer_dir, bool json, std::ostream& out) {
  const bool by_link = is_link_name(layer_dir);
  if (!by_link && !is_layer_dir_name(layer_dir))
    return usage_error(layer_dir, "not a layer directory name (64 hex, <64 hex>-init, a 26-character link name, or a containerd snapshot number)");
  json::array rows;
  size_t users = 0;
  for (const StoreEntry& entry : stores.entries()) {
    const ImageStore& store = *entry.store;
    std::string dir = layer_dir;
    if (by_link) {
      auto found = store.dir_of_link(layer_dir);
      if (!found) return found.error();
      if (!*found) continue;
      dir = **found;
    }
    auto image_ids = store.image_ids();
    if (!image_ids) return image_ids.error();
    std::sort(image_ids->begin(), image_ids->end());
    auto references = store.references();
    if (!references) return references.error();
    for (const std::string& id : *image_ids) {
      auto stack = resolve_image(store, id);
      if (!stack) continue;
      for (size_t i = 0; i < stack->layers.size(); ++i) {
        if (stack->layers[i].cache_id != dir) continue;
        ++users;
        std::vector<std::string> names;
        if (const auto refs = references->find(id); refs != references->end()) names = refs->second;
        if (json) {
          json::array refs;
          for (const auto& name : names) refs.emplace_back(name);
          rows.push_back(json::object{{"kind", "image"}, {"store", entry.label}, {"id", "sha256:" + id},
                                      {"references", std::move(refs)}, {"index", i + 1}, {"role", "image"}});
        } else {
          std::string list;
          for (const auto& name : names) list.append(list.empty() ? "" : ",").append(escape(name));
          out << "image sha256:" << id << " " << (list.empty() ? "<none>" : list) << " layer " << i + 1 << "\n";
        }
      }
    }
    auto container_ids = store.container_ids();
    if (!container_ids) return container_ids.error();
    for (const std::string& id : *container_ids) {
      auto stack = resolve_container(store, id);
      if (!stack) continue;
      for (size_t i = 0; i < stack->layers.size(); ++i) {
        const Layer& layer = stack->layers[i];
        if (layer.cache_id != dir) continue;
        ++users;
        if (json)
          rows.push_back(json::object{{"kind", "container"}, {"store", entry.label}, {"id", id},
                                      {"name", stack->container->name}, {"index", i + 1}, {"role", role_name(layer.role)}});
        else
          out << "container " << id << " " << escape(stack->container->name) << " " << role_name(layer.role) << "\n";
      }
    }
  }
  if (json) out << json::serialize(rows) << "\n";
  if (users == 0) return not_found(layer_dir, "no image or container uses this layer directory");
  return {};
}

}  // namespace ovlmount
