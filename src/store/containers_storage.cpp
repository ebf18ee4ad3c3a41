// Why: see containers_storage.hpp. Paths used here (relative to the graph root):
//   overlay-images/images.json              [{id, names, layer, digest, digests, big-data-names}]
//   overlay-images/<image>/=<base64 key>    big-data items; the config is "sha256:<digest>"
//   overlay-layers/layers.json              [{id, parent, diff-digest, diff-size}]
//   overlay-layers/<layer>.tar-split.gz     the layer's tar-split (Docker's format)
//   overlay-containers/containers.json      [{id, names, image, layer, created, metadata}]
//   overlay/<layer>/diff                    the layer's files
//   libpod/bolt_state.db                    podman's state and volumes (libpod_state.hpp)
// Each catalogue is checked whole before any of it is used: a malformed entry anywhere is a
// corrupt store naming the file and the entry, never a silently skipped image. A catalogue is
// streamed (json_catalogue.hpp), keeping only the members named above.
#include "ovlmount/store/containers_storage.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/json_input.hpp"
#include "ovlmount/store/image_config.hpp"
#include "ovlmount/store/json_catalogue.hpp"
#include "ovlmount/store/libpod_state.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <deque>
#include <set>

namespace ovlmount {
namespace {

namespace json = boost::json;

constexpr std::string_view images_dir = "overlay-images";
constexpr std::string_view images_file = "overlay-images/images.json";
constexpr std::string_view layers_dir = "overlay-layers";
constexpr std::string_view layers_file = "overlay-layers/layers.json";
constexpr std::string_view containers_file = "overlay-containers/containers.json";
constexpr size_t max_config_size = 64 << 20;
constexpr size_t max_chain_depth = 500;

// The repository part of a full name: "docker.io/library/x" of "docker.io/library/x:tag" or
// of "docker.io/library/x@sha256:..".
std::string repository_of(std::string_view name) {
  if (const size_t at = name.find('@'); at != std::string_view::npos) return std::string(name.substr(0, at));
  const size_t colon = name.rfind(':');
  const size_t slash = name.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash))
    return std::string(name.substr(0, colon));
  return std::string(name);
}

// The repositories a user's reference may be stored under, most specific first.
std::vector<std::string> candidate_repositories(const ImageRef& ref) {
  std::vector<std::string> repositories{ref.domain + "/" + ref.path};
  if (ref.domain == "docker.io") {
    const std::string_view path = ref.path;
    repositories.push_back("localhost/" + std::string(path.starts_with("library/") ? path.substr(8) : path));
  }
  return repositories;
}

std::string base64(std::string_view bytes) {
  constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t left = std::min<size_t>(3, bytes.size() - i);
    std::uint32_t group = 0;
    for (size_t j = 0; j < 3; ++j)
      group = (group << 8) | (j < left ? static_cast<unsigned char>(bytes[i + j]) : 0u);
    for (size_t j = 0; j < 4; ++j)
      out += j <= left ? alphabet[(group >> (18 - 6 * j)) & 0x3f] : '=';
  }
  return out;
}

}  // namespace

std::string big_data_file_name(std::string_view key) {
  const bool plain = std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '.';
  });
  return plain ? std::string(key) : "=" + base64(key);
}

Result<ContainersStorage> ContainersStorage::open(const RootDir& graphroot) {
  for (const std::string_view dir : {images_dir, layers_dir}) {
    auto kind = graphroot.kind(dir);
    if (!kind) return kind.error();
    if (*kind != EntryKind::directory) {
      auto vfs = graphroot.kind("vfs-images");
      if (vfs && *vfs == EntryKind::directory)
        return not_found(graphroot.path(), "this containers-storage graph root uses the vfs driver, not overlay");
      return not_found(graphroot.path(), "not an overlay containers-storage graph root (" + std::string(dir) +
                                             "/ is missing)");
    }
  }
  return ContainersStorage(graphroot);
}

Result<const ContainersStorage::ImageCatalogue*> ContainersStorage::images() const {
  if (!images_) {
    static constexpr std::string_view keys[] = {"id", "names", "layer", "digest", "digests", "big-data-names"};
    const std::string file = root_.absolute(images_file);
    ImageCatalogue catalogue;
    const EntrySink sink = [&](EntryContext& context, const Members& members) -> std::optional<Error> {
      ImageEntry entry;
      auto id = id_member(members, 0, "id", true, context);
      if (!id) return id.error();
      entry.id = *hash_of(*id);
      context.set_id(std::string(*id));
      auto names = optional_strings(members, 1, "names", context);
      if (!names) return names.error();
      entry.names = std::move(*names);
      auto top = id_member(members, 2, "layer", false, context);
      if (!top) return top.error();
      entry.top_layer = hash_of(*top);
      auto digest = optional_string(members, 3, "digest", context);
      if (!digest) return digest.error();
      auto digests = optional_strings(members, 4, "digests", context);
      if (!digests) return digests.error();
      std::vector<std::string> all;
      if (!digest->empty()) all.emplace_back(*digest);
      for (std::string& each : *digests)
        if (std::find(all.begin(), all.end(), each) == all.end()) all.push_back(std::move(each));
      for (const std::string& each : all) {
        if (!is_sha256_digest(each)) return context.corrupt_entry("digest \"" + each + "\" is not sha256:<64 hex>");
        entry.digests.push_back(*hash_of(std::string_view(each).substr(7)));
      }
      auto big_data = optional_strings(members, 5, "big-data-names", context);
      if (!big_data) return big_data.error();
      if (std::find(big_data->begin(), big_data->end(), "sha256:" + std::string(*id)) != big_data->end()) {
        entry.config = entry.id;
      } else if (std::count_if(big_data->begin(), big_data->end(), [](const auto& n) { return is_sha256_digest(n); }) ==
                 1) {
        const auto named = std::find_if(big_data->begin(), big_data->end(), [](const auto& n) { return is_sha256_digest(n); });
        entry.config = hash_of(std::string_view(*named).substr(7));
      }
      catalogue.entries.push_back(std::move(entry));
      return std::nullopt;
    };
    auto read = read_catalogue(root_, images_file, keys, sink);
    auto repeated = first_repeated(catalogue.entries, catalogue.by_id, [](const ImageEntry& e) -> const Hash& { return e.id; });
    if (!read) {
      images_ = Result<ImageCatalogue>(read.error());
    } else if (repeated) {
      EntryContext context(file, *repeated);
      context.set_id(hex_of(catalogue.entries[*repeated].id));
      images_ = Result<ImageCatalogue>(context.corrupt_entry("the image ID is listed twice"));
    } else if (read->first) {
      images_ = Result<ImageCatalogue>(*read->first);
    } else {
      images_ = Result<ImageCatalogue>(std::move(catalogue));
    }
  }
  if (!*images_) return images_->error();
  return &**images_;
}

Result<const ContainersStorage::ImageEntry*> ContainersStorage::image(const std::string& id) const {
  auto catalogue = images();
  if (!catalogue) return catalogue.error();
  const auto hash = hash_of(id);
  if (!hash) return nullptr;
  const auto& entries = (*catalogue)->entries;
  const auto& by_id = (*catalogue)->by_id;
  const auto found = std::lower_bound(by_id.begin(), by_id.end(), *hash,
                                      [&](std::uint32_t i, const Hash& wanted) { return entries[i].id < wanted; });
  if (found == by_id.end() || entries[*found].id != *hash) return nullptr;
  return &entries[*found];
}

Result<const ContainersStorage::LayerCatalogue*> ContainersStorage::layers() const {
  if (!layers_) {
    static constexpr std::string_view keys[] = {"id", "parent", "diff-digest", "diff-size"};
    const std::string file = root_.absolute(layers_file);
    std::deque<LayerEntry> entries;
    const EntrySink sink = [&](EntryContext& context, const Members& members) -> std::optional<Error> {
      LayerEntry entry;
      auto id = id_member(members, 0, "id", true, context);
      if (!id) return id.error();
      entry.id = *hash_of(*id);
      context.set_id(std::string(*id));
      auto parent = id_member(members, 1, "parent", false, context);
      if (!parent) return parent.error();
      entry.parent = hash_of(*parent);
      auto diff_digest = optional_string(members, 2, "diff-digest", context);
      if (!diff_digest) return diff_digest.error();
      if (!diff_digest->empty()) {
        if (diff_digest->size() == 71 && diff_digest->starts_with("sha256:"))
          entry.diff_digest = hash_of(diff_digest->substr(7));
        if (!entry.diff_digest)
          return context.corrupt_entry("\"diff-digest\" \"" + std::string(*diff_digest) + "\" is not sha256:<64 hex>");
      }
      const Member& size = members[3];
      if (size.type == Member::Type::count) entry.size = size.count;
      else if (size.type != Member::Type::absent && size.type != Member::Type::null)
        return context.corrupt_entry("\"diff-size\" is not a byte count");
      entries.push_back(entry);
      return std::nullopt;
    };
    auto read = read_catalogue(root_, layers_file, keys, sink);
    std::vector<std::uint32_t> order;
    auto repeated = first_repeated(entries, order, [](const LayerEntry& e) -> const Hash& { return e.id; });
    if (!read) {
      layers_ = Result<LayerCatalogue>(read.error());
    } else if (repeated) {
      EntryContext context(file, *repeated);
      context.set_id(hex_of(entries[*repeated].id));
      layers_ = Result<LayerCatalogue>(context.corrupt_entry("the layer ID is listed twice"));
    } else if (read->first) {
      layers_ = Result<LayerCatalogue>(*read->first);
    } else {
      permute(entries, order);
      LayerCatalogue catalogue;
      catalogue.entries = std::move(entries);
      layers_ = Result<LayerCatalogue>(std::move(catalogue));
    }
  }
  if (!*layers_) return layers_->error();
  return &**layers_;
}

Result<const std::vector<ContainersStorage::ContainerEntry>*> ContainersStorage::containers() const {
  if (!containers_) {
    static constexpr std::string_view keys[] = {"id", "names", "image", "layer", "created", "metadata"};
    std::vector<ContainerEntry> entries;
    std::set<std::string> seen;
    const EntrySink sink = [&](EntryContext& context, const Members& members) -> std::optional<Error> {
      ContainerEntry entry;
      auto id = id_member(members, 0, "id", true, context);
      if (!id) return id.error();
      entry.id = std::string(*id);
      context.set_id(entry.id);
      if (!seen.insert(entry.id).second) return context.corrupt_entry("the container ID is listed twice");
      auto names = optional_strings(members, 1, "names", context);
      if (!names) return names.error();
      entry.names = std::move(*names);
      auto image = id_member(members, 2, "image", false, context);
      if (!image) return image.error();
      entry.image = std::string(*image);
      auto layer = id_member(members, 3, "layer", true, context);
      if (!layer) return layer.error();
      entry.layer = std::string(*layer);
      auto created = optional_string(members, 4, "created", context);
      if (!created) return created.error();
      entry.created = std::string(*created);
      auto metadata = optional_string(members, 5, "metadata", context);
      if (!metadata) return metadata.error();
      if (!metadata->empty()) {
        boost::system::error_code ec;
        const json::value parsed = parse_untrusted_json(*metadata, ec);
        if (!ec && parsed.is_object())
          if (const json::value* name = parsed.get_object().if_contains("image-name"); name && name->is_string())
            entry.image_name = name->get_string();
      }
      entries.push_back(std::move(entry));
      return std::nullopt;
    };
    auto read = read_catalogue(root_, containers_file, keys, sink);
    if (!read || read->first) {
      containers_ = Result<std::vector<ContainerEntry>>(read ? *read->first : read.error());
    } else {
      std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
      containers_ = Result<std::vector<ContainerEntry>>(std::move(entries));
    }
  }
  if (!*containers_) return containers_->error();
  return &**containers_;
}

Result<std::optional<std::string>> ContainersStorage::lookup_name(const ImageRef& ref) const {
  auto catalogue = images();
  if (!catalogue) return catalogue.error();
  const auto& entries = (*catalogue)->entries;
  const auto digest = is_sha256_digest(ref.digest) ? hash_of(std::string_view(ref.digest).substr(7)) : std::nullopt;
  for (const std::string& repository : candidate_repositories(ref)) {
    const std::string wanted = repository + (ref.digest.empty() ? ":" + (ref.tag.empty() ? "latest" : ref.tag)
                                                                : "@" + ref.digest);
    for (const ImageEntry& entry : entries) {
      if (std::find(entry.names.begin(), entry.names.end(), wanted) != entry.names.end()) {
        for (const ImageEntry& other : entries)
          if (other.id != entry.id && std::find(other.names.begin(), other.names.end(), wanted) != other.names.end())
            return corrupt(root_.absolute(images_file),
                           "name " + wanted + " is held by two images, " + hex_of(entry.id).substr(0, 12) + " and " +
                               hex_of(other.id).substr(0, 12));
        return std::optional<std::string>(hex_of(entry.id));
      }
      if (!digest) continue;
      const bool has_digest = std::find(entry.digests.begin(), entry.digests.end(), *digest) != entry.digests.end();
      const bool in_repository = std::any_of(entry.names.begin(), entry.names.end(),
                                             [&](const std::string& name) { return repository_of(name) == repository; });
      if (has_digest && in_repository) return std::optional<std::string>(hex_of(entry.id));
    }
  }
  return std::optional<std::string>();
}

Result<std::map<std::string, std::vector<std::string>>> ContainersStorage::references() const {
  auto catalogue = images();
  if (!catalogue) return catalogue.error();
  std::map<std::string, std::vector<std::string>> by_id;
  for (const ImageEntry& entry : (*catalogue)->entries) {
    std::set<std::string> references(entry.names.begin(), entry.names.end());
    for (const std::string& name : entry.names)
      for (const Hash& digest : entry.digests) references.insert(repository_of(name) + "@sha256:" + hex_of(digest));
    if (!references.empty()) by_id[hex_of(entry.id)].assign(references.begin(), references.end());
  }
  return by_id;
}

Result<std::vector<std::string>> ContainersStorage::image_ids() const {
  auto catalogue = images();
  if (!catalogue) return catalogue.error();
  std::vector<std::string> ids;
  ids.reserve((*catalogue)->by_id.size());
  for (const std::uint32_t i : (*catalogue)->by_id) ids.push_back(hex_of((*catalogue)->entries[i].id));
  return ids;
}

Result<bool> ContainersStorage::has_image(const std::string& id) const {
  if (!is_hex64(id)) return false;
  auto entry = image(id);
  if (!entry) return entry.error();
  return *entry != nullptr;
}

Result<ImageConfig> ContainersStorage::image_config(const std::string& id) const {
  const std::string object = "image sha256:" + id;
  if (!is_hex64(id)) return corrupt(object, "invalid image ID");
  auto entry = image(id);
  if (!entry) return entry.error();
  if (!*entry) return not_found(object, "no such image");
  if (!(*entry)->config) return corrupt(object, "images.json names no config (no big-data item \"sha256:<digest>\")");
  const std::string key = "sha256:" + hex_of(*(*entry)->config);
  const std::string path = std::string(images_dir) + "/" + id + "/" + big_data_file_name(key);
  auto config = root_.read_file(path, max_config_size);
  if (!config) return config.error();
  if (const std::string actual = sha256_hex(*config); "sha256:" + actual != key)
    return corrupt(object, "config digest mismatch: " + root_.absolute(path) + " hashes to sha256:" + actual +
                               ", not " + key);

  boost::system::error_code ec;
  json::value document = parse_untrusted_json(*config, ec);
  if (ec) return corrupt(object + " config", "malformed JSON: " + ec.message());
  return parse_image_config(document, object);
}

Result<std::vector<const ContainersStorage::LayerEntry*>> ContainersStorage::chain_down(const LayerCatalogue& layers,
                                                                                        const Hash& top,
                                                                                        const std::string& object) const {
  const std::string file = root_.absolute(layers_file);
  std::vector<const LayerEntry*> chain;
  std::optional<Hash> id = top;
  while (id) {
    const auto found = std::lower_bound(layers.entries.begin(), layers.entries.end(), *id,
                                        [](const LayerEntry& entry, const Hash& wanted) { return entry.id < wanted; });
    if (found == layers.entries.end() || found->id != *id)
      return corrupt(object, "layer " + hex_of(*id) + " is not in " + file);
    if (std::any_of(chain.begin(), chain.end(), [&](const LayerEntry* seen) { return seen == &*found; }))
      return corrupt(file, "parent loop through layer " + hex_of(*id));
    if (chain.size() == max_chain_depth)
      return corrupt(file, "layer chain below " + hex_of(top) + " is deeper than " + std::to_string(max_chain_depth));
    chain.push_back(&*found);
    id = found->parent;
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

Result<std::vector<Layer>> ContainersStorage::image_layers(const std::string& id, const ImageConfig& config) const {
  const std::string object = "image sha256:" + id;
  if (!is_hex64(id)) return corrupt(object, "invalid image ID");
  auto entry = image(id);
  if (!entry) return entry.error();
  if (!*entry) return not_found(object, "no such image");
  auto layers = this->layers();
  if (!layers) return layers.error();
  std::vector<const LayerEntry*> chain;
  if ((*entry)->top_layer) {
    auto below = chain_down(**layers, *(*entry)->top_layer, object);
    if (!below) return below.error();
    chain = std::move(*below);
  }
  if (chain.size() != config.diff_ids.size())
    return corrupt(object, "has " + std::to_string(chain.size()) + " layers in " + root_.absolute(layers_file) +
                               ", its config lists " + std::to_string(config.diff_ids.size()) + " diff_ids");
  const auto chain_id = chain_ids(config.diff_ids);
  std::vector<Layer> result;
  result.reserve(chain.size());
  for (size_t i = 0; i < chain.size(); ++i) {
    const LayerEntry& stored = *chain[i];
    const std::string stored_id = hex_of(stored.id);
    const std::string diff_digest = stored.diff_digest ? "sha256:" + hex_of(*stored.diff_digest) : std::string();
    if (diff_digest != config.diff_ids[i])
      return corrupt(root_.absolute(layers_file), "layer " + stored_id + ": diff-digest is \"" + diff_digest +
                                                      "\", the config of image sha256:" + id + " says " +
                                                      config.diff_ids[i]);
    auto layer = layer_dir(stored_id, LayerRole::image, "layer " + stored_id);
    if (!layer) return layer.error();
    layer->diff_id = config.diff_ids[i];
    layer->chain_id = chain_id[i];
    layer->tar_split = std::string(layers_dir) + "/" + stored_id + ".tar-split.gz";
    layer->size = stored.size;
    result.push_back(std::move(*layer));
  }
  return result;
}

Result<Layer> ContainersStorage::layer_dir(const std::string& id, LayerRole role, const std::string& object) const {
  if (!is_hex64(id)) return corrupt(object, "invalid layer ID");
  Layer layer;
  layer.cache_id = id;
  layer.dir = "overlay/" + id + "/diff";
  layer.role = role;
  auto kind = root_.kind(layer.dir);
  if (!kind) return kind.error();
  if (*kind == EntryKind::missing)
    return not_found(object, "layer directory " + root_.absolute(layer.dir) + " is missing");
  if (*kind != EntryKind::directory)
    return corrupt(object, "layer directory " + root_.absolute(layer.dir) + " is not a directory");
  return layer;
}

Result<std::vector<std::string>> ContainersStorage::container_ids() const {
  auto entries = containers();
  if (!entries) return entries.error();
  std::vector<std::string> ids;
  for (const ContainerEntry& entry : **entries) ids.push_back(entry.id);
  return ids;
}

Result<Container> ContainersStorage::container(const std::string& id) const {
  const std::string object = "container " + id;
  if (!is_hex64(id)) return corrupt(object, "invalid container ID");
  auto entries = containers();
  if (!entries) return entries.error();
  const auto found = std::find_if((*entries)->begin(), (*entries)->end(), [&](const auto& e) { return e.id == id; });
  if (found == (*entries)->end()) return not_found(object, "no such container");
  if (found->image.empty()) return corrupt(object, "was not created from an image (no \"image\" in containers.json)");
  Container container;
  container.id = id;
  container.name = found->names.empty() ? std::string() : found->names.front();
  container.image_id = "sha256:" + found->image;
  container.image_name = found->image_name;
  container.state = "unknown";
  container.created = found->created;
  auto libpod = read_libpod_container(root_, id);
  if (!libpod) return libpod.error();
  if (*libpod) {
    container.state = std::move((*libpod)->state);
    container.mounts = std::move((*libpod)->mounts);
  }
  return container;
}

Result<ContainerLayers> ContainersStorage::container_layers(const std::string& id) const {
  const std::string object = "container " + id;
  if (!is_hex64(id)) return corrupt(object, "invalid container ID");
  auto entries = containers();
  if (!entries) return entries.error();
  const auto found = std::find_if((*entries)->begin(), (*entries)->end(), [&](const auto& e) { return e.id == id; });
  if (found == (*entries)->end()) return not_found(object, "no such container");
  auto layers = this->layers();
  if (!layers) return layers.error();
  const Hash layer_hash = *hash_of(found->layer);
  const auto& all = (*layers)->entries;
  const auto writable_entry = std::lower_bound(all.begin(), all.end(), layer_hash,
                                               [](const LayerEntry& entry, const Hash& wanted) { return entry.id < wanted; });
  if (writable_entry == all.end() || writable_entry->id != layer_hash)
    return corrupt(object, "its layer " + found->layer + " is not in " + root_.absolute(layers_file));

  ContainerLayers result;
  result.mount_id = found->layer;
  if (const std::optional<Hash>& parent = writable_entry->parent) {
    auto below = chain_down(**layers, *parent, object);
    if (!below) return below.error();
    std::vector<std::string> diff_ids;
    for (const LayerEntry* layer : *below) {
      if (!layer->diff_digest)
        return corrupt(root_.absolute(layers_file), "layer " + hex_of(layer->id) + " below container " + id +
                                                        " has no diff-digest");
      diff_ids.push_back("sha256:" + hex_of(*layer->diff_digest));
    }
    result.parent_chain_id = chain_ids(diff_ids).back();
    auto image = this->image(found->image);
    if (!image) return image.error();
    if (*image && (*image)->top_layer != parent)
      return corrupt(object, "its layer sits on layer " + hex_of(*parent) + ", not on the top layer " +
                                 hex_of((*image)->top_layer) + " of its image");
  }
  auto writable = layer_dir(found->layer, LayerRole::writable, object);
  if (!writable) return writable.error();
  result.writable = std::move(*writable);
  return result;
}

}  // namespace ovlmount
