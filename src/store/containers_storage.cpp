// Why: see containers_storage.hpp. Paths used here (relative to the graph root):
//   overlay-images/images.json              [{id, names, layer, digest, digests, big-data-names}]
//   overlay-images/<image>/=<base64 key>    big-data items; the config is "sha256:<digest>"
//   overlay-layers/layers.json              [{id, parent, diff-digest, diff-size}]
//   overlay-layers/<layer>.tar-split.gz     the layer's tar-split (Docker's format)
//   overlay-containers/containers.json      [{id, names, image, layer, created, metadata}]
//   overlay/<layer>/diff                    the layer's files
//   libpod/bolt_state.db                    podman's state and volumes (libpod_state.hpp)
// Each catalogue is checked whole before any of it is used: a malformed entry anywhere is a
// corrupt store naming the file and the entry, never a silently skipped image.
#include "ovlmount/store/containers_storage.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/json_input.hpp"
#include "ovlmount/store/image_config.hpp"
#include "ovlmount/store/libpod_state.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <set>

namespace ovlmount {
namespace {

namespace json = boost::json;

constexpr std::string_view images_dir = "overlay-images";
constexpr std::string_view images_file = "overlay-images/images.json";
constexpr std::string_view layers_dir = "overlay-layers";
constexpr std::string_view layers_file = "overlay-layers/layers.json";
constexpr std::string_view containers_file = "overlay-containers/containers.json";
constexpr size_t max_json_size = 64 << 20;
constexpr size_t max_config_size = 64 << 20;
constexpr size_t max_chain_depth = 500;

// One entry of a catalogue, for messages: `file`: entry `index` (`id` when known).
class EntryContext {
 public:
  EntryContext(std::string file, size_t index) : file_(std::move(file)), index_(index) {}
  void set_id(std::string id) { id_ = std::move(id); }
  Error corrupt_entry(const std::string& problem) const {
    return corrupt(file_, "entry " + std::to_string(index_) + (id_.empty() ? "" : " (" + id_ + ")") + ": " + problem);
  }

 private:
  std::string file_;
  size_t index_;
  std::string id_;
};

// The catalogue at `relative` as a JSON array; an empty array when the file is missing or
// empty (containers-storage creates them lazily).
Result<json::array> read_catalogue(const RootDir& root, std::string_view relative) {
  auto kind = root.kind(relative);
  if (!kind) return kind.error();
  if (*kind == EntryKind::missing) return json::array();
  auto text = root.read_file(relative, max_json_size);
  if (!text) return text.error();
  if (text->find_first_not_of(" \t\r\n") == std::string::npos) return json::array();
  boost::system::error_code ec;
  json::value document = parse_untrusted_json(*text, ec);
  if (ec) return corrupt(root.absolute(relative), "malformed JSON: " + ec.message());
  if (!document.is_array()) return corrupt(root.absolute(relative), "not a JSON array");
  return std::move(document.get_array());
}

// Member `key` of `entry` as a string: "" when absent or null, an error when of another type.
Result<std::string> optional_string(const json::object& entry, std::string_view key, const EntryContext& context) {
  const json::value* value = entry.if_contains(key);
  if (!value || value->is_null()) return std::string();
  if (!value->is_string()) return context.corrupt_entry("\"" + std::string(key) + "\" is not a string");
  return std::string(value->get_string());
}

// Member `key` of `entry` as an array of strings: empty when absent or null.
Result<std::vector<std::string>> optional_strings(const json::object& entry, std::string_view key,
                                                  const EntryContext& context) {
  std::vector<std::string> strings;
  const json::value* value = entry.if_contains(key);
  if (!value || value->is_null()) return strings;
  if (!value->is_array()) return context.corrupt_entry("\"" + std::string(key) + "\" is not an array");
  for (const json::value& item : value->get_array()) {
    if (!item.is_string()) return context.corrupt_entry("\"" + std::string(key) + "\" holds a non-string");
    strings.emplace_back(item.get_string());
  }
  return strings;
}

// Member `key` of `entry`: a 64-hex ID, or "" when absent and `required` is false.
Result<std::string> id_member(const json::object& entry, std::string_view key, bool required,
                              const EntryContext& context) {
  auto text = optional_string(entry, key, context);
  if (!text) return text.error();
  if (text->empty() && !required) return text;
  if (!is_hex64(*text))
    return context.corrupt_entry("\"" + std::string(key) + "\" \"" + *text + "\" is not 64 lowercase hex");
  return text;
}

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

Result<std::vector<ContainersStorage::ImageEntry>> ContainersStorage::images() const {
  auto catalogue = read_catalogue(root_, images_file);
  if (!catalogue) return catalogue.error();
  const std::string file = root_.absolute(images_file);
  std::vector<ImageEntry> entries;
  std::set<std::string> seen;
  for (size_t i = 0; i < catalogue->size(); ++i) {
    EntryContext context(file, i);
    const json::object* object = (*catalogue)[i].if_object();
    if (!object) return context.corrupt_entry("not a JSON object");
    ImageEntry entry;
    auto id = id_member(*object, "id", true, context);
    if (!id) return id.error();
    entry.id = std::move(*id);
    context.set_id(entry.id);
    if (!seen.insert(entry.id).second) return context.corrupt_entry("the image ID is listed twice");
    auto names = optional_strings(*object, "names", context);
    if (!names) return names.error();
    entry.names = std::move(*names);
    auto top = id_member(*object, "layer", false, context);
    if (!top) return top.error();
    entry.top_layer = std::move(*top);
    auto digest = optional_string(*object, "digest", context);
    if (!digest) return digest.error();
    auto digests = optional_strings(*object, "digests", context);
    if (!digests) return digests.error();
    if (!digest->empty()) entry.digests.push_back(std::move(*digest));
    for (std::string& each : *digests)
      if (std::find(entry.digests.begin(), entry.digests.end(), each) == entry.digests.end())
        entry.digests.push_back(std::move(each));
    for (const std::string& each : entry.digests)
      if (!is_sha256_digest(each)) return context.corrupt_entry("digest \"" + each + "\" is not sha256:<64 hex>");
    auto big_data = optional_strings(*object, "big-data-names", context);
    if (!big_data) return big_data.error();
    entry.big_data_names = std::move(*big_data);
    entries.push_back(std::move(entry));
  }
  return entries;
}

Result<std::optional<ContainersStorage::ImageEntry>> ContainersStorage::image(const std::string& id) const {
  auto entries = images();
  if (!entries) return entries.error();
  for (ImageEntry& entry : *entries)
    if (entry.id == id) return std::optional<ImageEntry>(std::move(entry));
  return std::optional<ImageEntry>();
}

Result<std::map<std::string, ContainersStorage::LayerEntry>> ContainersStorage::layers() const {
  auto catalogue = read_catalogue(root_, layers_file);
  if (!catalogue) return catalogue.error();
  const std::string file = root_.absolute(layers_file);
  std::map<std::string, LayerEntry> entries;
  for (size_t i = 0; i < catalogue->size(); ++i) {
    EntryContext context(file, i);
    const json::object* object = (*catalogue)[i].if_object();
    if (!object) return context.corrupt_entry("not a JSON object");
    LayerEntry entry;
    auto id = id_member(*object, "id", true, context);
    if (!id) return id.error();
    entry.id = std::move(*id);
    context.set_id(entry.id);
    auto parent = id_member(*object, "parent", false, context);
    if (!parent) return parent.error();
    entry.parent = std::move(*parent);
    auto diff_digest = optional_string(*object, "diff-digest", context);
    if (!diff_digest) return diff_digest.error();
    if (!diff_digest->empty() && !is_sha256_digest(*diff_digest))
      return context.corrupt_entry("\"diff-digest\" \"" + *diff_digest + "\" is not sha256:<64 hex>");
    entry.diff_digest = std::move(*diff_digest);
    if (const json::value* size = object->if_contains("diff-size"); size && !size->is_null()) {
      if (const auto* value = size->if_int64(); value && *value >= 0) entry.size = *value;
      else if (const auto* unsigned_value = size->if_uint64(); unsigned_value && *unsigned_value <= INT64_MAX)
        entry.size = static_cast<std::int64_t>(*unsigned_value);
      else return context.corrupt_entry("\"diff-size\" is not a byte count");
    }
    const std::string key = entry.id;
    if (!entries.emplace(key, std::move(entry)).second) return context.corrupt_entry("the layer ID is listed twice");
  }
  return entries;
}

Result<std::vector<ContainersStorage::ContainerEntry>> ContainersStorage::containers() const {
  auto catalogue = read_catalogue(root_, containers_file);
  if (!catalogue) return catalogue.error();
  const std::string file = root_.absolute(containers_file);
  std::vector<ContainerEntry> entries;
  std::set<std::string> seen;
  for (size_t i = 0; i < catalogue->size(); ++i) {
    EntryContext context(file, i);
    const json::object* object = (*catalogue)[i].if_object();
    if (!object) return context.corrupt_entry("not a JSON object");
    ContainerEntry entry;
    auto id = id_member(*object, "id", true, context);
    if (!id) return id.error();
    entry.id = std::move(*id);
    context.set_id(entry.id);
    if (!seen.insert(entry.id).second) return context.corrupt_entry("the container ID is listed twice");
    auto names = optional_strings(*object, "names", context);
    if (!names) return names.error();
    entry.names = std::move(*names);
    auto image = id_member(*object, "image", false, context);
    if (!image) return image.error();
    entry.image = std::move(*image);
    auto layer = id_member(*object, "layer", true, context);
    if (!layer) return layer.error();
    entry.layer = std::move(*layer);
    auto created = optional_string(*object, "created", context);
    if (!created) return created.error();
    entry.created = std::move(*created);
    auto metadata = optional_string(*object, "metadata", context);
    if (!metadata) return metadata.error();
    if (!metadata->empty()) {
      boost::system::error_code ec;
      const json::value parsed = parse_untrusted_json(*metadata, ec);
      if (!ec && parsed.is_object())
        if (const json::value* name = parsed.get_object().if_contains("image-name"); name && name->is_string())
          entry.image_name = name->get_string();
    }
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return entries;
}

Result<std::optional<std::string>> ContainersStorage::lookup_name(const ImageRef& ref) const {
  auto entries = images();
  if (!entries) return entries.error();
  for (const std::string& repository : candidate_repositories(ref)) {
    const std::string wanted = repository + (ref.digest.empty() ? ":" + (ref.tag.empty() ? "latest" : ref.tag)
                                                                : "@" + ref.digest);
    for (const ImageEntry& entry : *entries) {
      if (std::find(entry.names.begin(), entry.names.end(), wanted) != entry.names.end()) {
        for (const ImageEntry& other : *entries)
          if (other.id != entry.id && std::find(other.names.begin(), other.names.end(), wanted) != other.names.end())
            return corrupt(root_.absolute(images_file),
                           "name " + wanted + " is held by two images, " + entry.id.substr(0, 12) + " and " +
                               other.id.substr(0, 12));
        return std::optional<std::string>(entry.id);
      }
      if (ref.digest.empty()) continue;
      const bool has_digest = std::find(entry.digests.begin(), entry.digests.end(), ref.digest) != entry.digests.end();
      const bool in_repository = std::any_of(entry.names.begin(), entry.names.end(),
                                             [&](const std::string& name) { return repository_of(name) == repository; });
      if (has_digest && in_repository) return std::optional<std::string>(entry.id);
    }
  }
  return std::optional<std::string>();
}

Result<std::map<std::string, std::vector<std::string>>> ContainersStorage::references() const {
  auto entries = images();
  if (!entries) return entries.error();
  std::map<std::string, std::vector<std::string>> by_id;
  for (const ImageEntry& entry : *entries) {
    std::set<std::string> references(entry.names.begin(), entry.names.end());
    for (const std::string& name : entry.names)
      for (const std::string& digest : entry.digests) references.insert(repository_of(name) + "@" + digest);
    if (!references.empty()) by_id[entry.id].assign(references.begin(), references.end());
  }
  return by_id;
}

Result<std::vector<std::string>> ContainersStorage::image_ids() const {
  auto entries = images();
  if (!entries) return entries.error();
  std::vector<std::string> ids;
  for (const ImageEntry& entry : *entries) ids.push_back(entry.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<bool> ContainersStorage::has_image(const std::string& id) const {
  if (!is_hex64(id)) return false;
  auto entry = image(id);
  if (!entry) return entry.error();
  return entry->has_value();
}

Result<ImageConfig> ContainersStorage::image_config(const std::string& id) const {
  const std::string object = "image sha256:" + id;
  if (!is_hex64(id)) return corrupt(object, "invalid image ID");
  auto entry = image(id);
  if (!entry) return entry.error();
  if (!*entry) return not_found(object, "no such image");

  std::string key = "sha256:" + id;
  if (std::find((*entry)->big_data_names.begin(), (*entry)->big_data_names.end(), key) ==
      (*entry)->big_data_names.end()) {
    std::vector<std::string> digest_named;
    std::copy_if((*entry)->big_data_names.begin(), (*entry)->big_data_names.end(), std::back_inserter(digest_named),
                 [](const std::string& name) { return is_sha256_digest(name); });
    if (digest_named.size() != 1)
      return corrupt(object, "images.json names no config (no big-data item \"sha256:<digest>\")");
    key = digest_named.front();
  }
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

Result<std::vector<const ContainersStorage::LayerEntry*>> ContainersStorage::chain_down(
    const std::map<std::string, LayerEntry>& layers, const std::string& top, const std::string& object) const {
  const std::string file = root_.absolute(layers_file);
  std::vector<const LayerEntry*> chain;
  std::set<std::string> visited;
  for (std::string id = top; !id.empty();) {
    const auto found = layers.find(id);
    if (found == layers.end())
      return corrupt(object, "layer " + id + " is not in " + file);
    if (!visited.insert(id).second) return corrupt(file, "parent loop through layer " + id);
    if (chain.size() == max_chain_depth)
      return corrupt(file, "layer chain below " + top + " is deeper than " + std::to_string(max_chain_depth));
    chain.push_back(&found->second);
    id = found->second.parent;
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
  auto chain = chain_down(*layers, (*entry)->top_layer, object);
  if (!chain) return chain.error();
  if (chain->size() != config.diff_ids.size())
    return corrupt(object, "has " + std::to_string(chain->size()) + " layers in " + root_.absolute(layers_file) +
                               ", its config lists " + std::to_string(config.diff_ids.size()) + " diff_ids");
  const auto chain_id = chain_ids(config.diff_ids);
  std::vector<Layer> result;
  result.reserve(chain->size());
  for (size_t i = 0; i < chain->size(); ++i) {
    const LayerEntry& stored = *(*chain)[i];
    if (stored.diff_digest != config.diff_ids[i])
      return corrupt(root_.absolute(layers_file), "layer " + stored.id + ": diff-digest is \"" + stored.diff_digest +
                                                      "\", the config of image sha256:" + id + " says " +
                                                      config.diff_ids[i]);
    auto layer = layer_dir(stored.id, LayerRole::image, "layer " + stored.id);
    if (!layer) return layer.error();
    layer->diff_id = config.diff_ids[i];
    layer->chain_id = chain_id[i];
    layer->tar_split = std::string(layers_dir) + "/" + stored.id + ".tar-split.gz";
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
  for (const ContainerEntry& entry : *entries) ids.push_back(entry.id);
  return ids;
}

Result<Container> ContainersStorage::container(const std::string& id) const {
  const std::string object = "container " + id;
  if (!is_hex64(id)) return corrupt(object, "invalid container ID");
  auto entries = containers();
  if (!entries) return entries.error();
  const auto found = std::find_if(entries->begin(), entries->end(), [&](const auto& e) { return e.id == id; });
  if (found == entries->end()) return not_found(object, "no such container");
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
  const auto found = std::find_if(entries->begin(), entries->end(), [&](const auto& e) { return e.id == id; });
  if (found == entries->end()) return not_found(object, "no such container");
  auto layers = this->layers();
  if (!layers) return layers.error();
  const auto writable_entry = layers->find(found->layer);
  if (writable_entry == layers->end())
    return corrupt(object, "its layer " + found->layer + " is not in " + root_.absolute(layers_file));

  ContainerLayers result;
  result.mount_id = found->layer;
  if (const std::string& parent = writable_entry->second.parent; !parent.empty()) {
    auto below = chain_down(*layers, parent, object);
    if (!below) return below.error();
    std::vector<std::string> diff_ids;
    for (const LayerEntry* layer : *below) {
      if (layer->diff_digest.empty())
        return corrupt(root_.absolute(layers_file), "layer " + layer->id + " below container " + id +
                                                        " has no diff-digest");
      diff_ids.push_back(layer->diff_digest);
    }
    result.parent_chain_id = chain_ids(diff_ids).back();
    auto image = this->image(found->image);
    if (!image) return image.error();
    if (*image && (*image)->top_layer != parent)
      return corrupt(object, "its layer sits on layer " + parent + ", not on the top layer " + (*image)->top_layer +
                                 " of its image");
  }
  auto writable = layer_dir(found->layer, LayerRole::writable, object);
  if (!writable) return writable.error();
  result.writable = std::move(*writable);
  return result;
}

}  // namespace ovlmount
