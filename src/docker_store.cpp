// Why: see docker_store.hpp. Paths used here (relative to the data root):
//   image/overlay2/repositories.json                      names -> image IDs
//   image/overlay2/imagedb/content/sha256/<id>            image config, sha256(bytes) == id
//   image/overlay2/layerdb/sha256/<chain>/{diff,cache-id,parent}
//   overlay2/<cache-id>/diff                              the layer's files
#include "ovlmount/docker_store.hpp"

#include "ovlmount/digest.hpp"

#include <boost/json.hpp>

namespace ovlmount {
namespace {

namespace json = boost::json;

constexpr std::string_view image_dir = "image/overlay2";
constexpr std::string_view repositories_file = "image/overlay2/repositories.json";
constexpr std::string_view config_dir = "image/overlay2/imagedb/content/sha256";
constexpr std::string_view layerdb_dir = "image/overlay2/layerdb/sha256";
constexpr size_t max_json_size = 64 << 20;
constexpr size_t max_id_file_size = 4096;

std::string_view trim(std::string_view s) {
  constexpr std::string_view space = " \t\r\n";
  const size_t first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(space) - first + 1);
}

Result<json::value> parse_json(const std::string& text, const std::string& object) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) return corrupt(object, "malformed JSON: " + ec.message());
  return value;
}

std::string config_path(const std::string& id) { return std::string(config_dir) + "/" + id; }

}  // namespace

Result<DockerStore> DockerStore::open(const RootDir& root) {
  auto images = root.kind(image_dir);
  if (!images) return images.error();
  if (*images == EntryKind::directory) return DockerStore(root);
  auto containerd = root.kind("containerd");
  if (containerd && *containerd == EntryKind::directory)
    return not_found(root.path(),
                     "no overlay2 image store (image/overlay2 is missing); this data root looks like "
                     "Docker's containerd image store, which ovlmount does not read yet");
  return not_found(root.path(), "not a Docker overlay2 data root (image/overlay2 is missing)");
}

Result<std::optional<std::string>> DockerStore::lookup_name(const ImageRef& ref) const {
  const std::string object = root_.absolute(repositories_file);
  auto kind = root_.kind(repositories_file);
  if (!kind) return kind.error();
  if (*kind == EntryKind::missing) return std::optional<std::string>();
  auto text = root_.read_file(repositories_file, max_json_size);
  if (!text) return text.error();
  auto document = parse_json(*text, object);
  if (!document) return document.error();

  const json::object* top = document->if_object();
  const json::value* repositories = top ? top->if_contains("Repositories") : nullptr;
  if (!repositories || !repositories->is_object())
    return corrupt(object, "no \"Repositories\" object");
  const json::value* repository = repositories->get_object().if_contains(ref.familiar_name());
  if (!repository) return std::optional<std::string>();
  if (!repository->is_object())
    return corrupt(object, "entry \"" + ref.familiar_name() + "\" is not an object");
  const json::value* id = repository->get_object().if_contains(ref.store_key());
  if (!id) return std::optional<std::string>();
  const json::string* id_text = id->if_string();
  if (!id_text || !is_sha256_digest(*id_text))
    return corrupt(object, "entry \"" + ref.store_key() + "\" is not a sha256 image ID");
  return std::optional<std::string>(std::string(id_text->subview(7)));
}

Result<std::vector<std::string>> DockerStore::image_ids() const {
  auto names = root_.list_dir(config_dir);
  if (!names) {
    if (names.error().code == ExitCode::not_found) return std::vector<std::string>();
    return names.error();
  }
  std::vector<std::string> ids;
  for (auto& name : *names)
    if (is_hex64(name)) ids.push_back(std::move(name));
  return ids;
}

Result<bool> DockerStore::has_image(const std::string& id) const {
  if (!is_hex64(id)) return false;
  auto kind = root_.kind(config_path(id));
  if (!kind) return kind.error();
  return *kind != EntryKind::missing;
}

Result<std::vector<std::string>> DockerStore::diff_ids(const std::string& id) const {
  const std::string object = "image sha256:" + id;
  if (!is_hex64(id)) return corrupt(object, "invalid image ID");
  auto config = root_.read_file(config_path(id), max_json_size);
  if (!config) return config.error();
  if (const std::string actual = sha256_hex(*config); actual != id)
    return corrupt(object, "config digest mismatch: " + root_.absolute(config_path(id)) +
                               " hashes to sha256:" + actual);
  auto document = parse_json(*config, object + " config");
  if (!document) return document.error();

  const json::object* top = document->if_object();
  const json::value* rootfs = top ? top->if_contains("rootfs") : nullptr;
  const json::object* rootfs_object = rootfs ? rootfs->if_object() : nullptr;
  if (!rootfs_object) return corrupt(object, "config has no rootfs object");
  const json::value* type = rootfs_object->if_contains("type");
  if (!type || !type->is_string() || type->get_string() != "layers")
    return corrupt(object, "config rootfs.type is not \"layers\"");
  const json::value* list = rootfs_object->if_contains("diff_ids");
  if (list && list->is_null()) return std::vector<std::string>();
  if (!list || !list->is_array()) return corrupt(object, "config has no rootfs.diff_ids array");

  std::vector<std::string> result;
  for (const json::value& entry : list->get_array()) {
    const json::string* diff_id = entry.if_string();
    if (!diff_id || !is_sha256_digest(*diff_id))
      return corrupt(object, "config rootfs.diff_ids holds an entry that is not sha256:<64 hex>");
    result.emplace_back(*diff_id);
  }
  return result;
}

Result<std::string> DockerStore::read_id_file(const std::string& relative) const {
  auto text = root_.read_file(relative, max_id_file_size);
  if (!text) return text.error();
  return std::string(trim(*text));
}

Result<Layer> DockerStore::layer(const std::string& chain_id, const std::string& diff_id,
                                 const std::string& parent_chain_id) const {
  const std::string object = "layer " + chain_id;
  if (!is_sha256_digest(chain_id)) return corrupt(object, "invalid chain ID");
  const std::string dir = std::string(layerdb_dir) + "/" + chain_id.substr(7);
  auto dir_kind = root_.kind(dir);
  if (!dir_kind) return dir_kind.error();
  if (*dir_kind != EntryKind::directory)
    return not_found(object, "not in the layer store (" + root_.absolute(dir) + " is missing)");

  auto stored_diff = read_id_file(dir + "/diff");
  if (!stored_diff) return stored_diff.error();
  if (*stored_diff != diff_id)
    return corrupt(object, "layerdb diff is \"" + *stored_diff + "\", the image config says " + diff_id);

  auto stored_parent = root_.kind(dir + "/parent");
  if (!stored_parent) return stored_parent.error();
  std::string parent;
  if (*stored_parent != EntryKind::missing) {
    auto parent_text = read_id_file(dir + "/parent");
    if (!parent_text) return parent_text.error();
    parent = std::move(*parent_text);
  }
  if (parent != parent_chain_id)
    return corrupt(object, "layerdb parent is \"" + parent + "\", expected \"" + parent_chain_id + "\"");

  auto cache_id = read_id_file(dir + "/cache-id");
  if (!cache_id) return cache_id.error();
  if (!is_hex64(*cache_id))
    return corrupt(object, "invalid cache-id \"" + *cache_id + "\" (want 64 lowercase hex)");

  Layer layer{diff_id, chain_id, *cache_id, "overlay2/" + *cache_id + "/diff"};
  auto content_kind = root_.kind(layer.dir);
  if (!content_kind) return content_kind.error();
  if (*content_kind != EntryKind::directory)
    return not_found(object, "layer directory " + root_.absolute(layer.dir) + " is missing");
  return layer;
}

}  // namespace ovlmount
