// Why: see docker_store.hpp. Paths used here (relative to the data root):
//   image/overlay2/repositories.json                      names -> image IDs
//   image/overlay2/imagedb/content/sha256/<id>            image config, sha256(bytes) == id
//   image/overlay2/layerdb/sha256/<chain>/{diff,cache-id,parent}
//   image/overlay2/layerdb/mounts/<container>/{mount-id,init-id,parent}
//   containers/<container>/config.v2.json                 name, image, state, mount points
//   overlay2/<cache-id>/diff                              the layer's files (a container's:
//                                                         <mount-id> and <mount-id>-init)
//   volumes/<name>/_data                                  a local named volume
#include "ovlmount/store/docker_store.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/store/image_config.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

namespace ovlmount {
namespace {

namespace json = boost::json;

constexpr std::string_view image_dir = "image/overlay2";
constexpr std::string_view repositories_file = "image/overlay2/repositories.json";
constexpr std::string_view config_dir = "image/overlay2/imagedb/content/sha256";
constexpr std::string_view layerdb_dir = "image/overlay2/layerdb/sha256";
constexpr std::string_view mounts_dir = "image/overlay2/layerdb/mounts";
constexpr std::string_view containers_dir = "containers";
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

// The names in `dir` that are IDs (64 hex), sorted; none when `dir` does not exist.
Result<std::vector<std::string>> ids_in(const RootDir& root, std::string_view dir) {
  auto names = root.list_dir(dir);
  if (!names) {
    if (names.error().code == ExitCode::not_found) return std::vector<std::string>();
    return names.error();
  }
  std::vector<std::string> ids;
  for (auto& name : *names)
    if (is_hex64(name)) ids.push_back(std::move(name));
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::int64_t parse_size(std::string_view text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string_view::npos) return -1;
  return std::stoll(std::string(text));
}

// The string member `key` of `object`, or "" when it is absent or not a string.
std::string member_string(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value && value->is_string() ? std::string(value->get_string()) : std::string();
}

bool member_true(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value && value->is_bool() && value->get_bool();
}

// Docker's names for containers and volumes: [a-zA-Z0-9][a-zA-Z0-9_.-]+.
bool is_layer_dir_name(std::string_view name) {
  return is_hex64(name.substr(0, 64)) && (name.size() == 64 || name.substr(64) == "-init");
}

bool is_docker_name(std::string_view name) {
  if (name.size() < 2 || name.size() > 255 || !std::isalnum(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}


// Docker's State.StateString().
std::string state_string(const json::object& state) {
  if (member_true(state, "Running")) {
    if (member_true(state, "Paused")) return "paused";
    if (member_true(state, "Restarting")) return "restarting";
    return "running";
  }
  if (member_true(state, "RemovalInProgress")) return "removing";
  if (member_true(state, "Dead")) return "dead";
  const std::string started = member_string(state, "StartedAt");
  if (started.empty() || started.starts_with("0001-01-01T00:00:00")) return "created";
  return "exited";
}

Result<VolumeMount> volume_mount(const json::object& point, std::string destination, const std::string& object) {
  VolumeMount mount;
  mount.destination = std::move(destination);
  if (mount.destination.empty() || mount.destination.front() != '/')
    return corrupt(object, "mount point \"" + mount.destination + "\" is not an absolute path");
  mount.type = member_string(point, "Type");
  mount.name = member_string(point, "Name");
  mount.read_write = member_true(point, "RW");
  const std::string driver = member_string(point, "Driver");
  if (mount.type == "volume" && (driver.empty() || driver == "local")) {
    if (!is_docker_name(mount.name) && !is_hex64(mount.name))
      return corrupt(object, "volume name \"" + mount.name + "\" is not a valid name");
    mount.source = "volumes/" + mount.name + "/_data";
    mount.in_store = true;
  } else {
    mount.source = member_string(point, "Source");
  }
  return mount;
}

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

Result<std::optional<json::object>> DockerStore::repositories() const {
  const std::string object = root_.absolute(repositories_file);
  auto kind = root_.kind(repositories_file);
  if (!kind) return kind.error();
  if (*kind == EntryKind::missing) return std::optional<json::object>();
  auto text = root_.read_file(repositories_file, max_json_size);
  if (!text) return text.error();
  auto document = parse_json(*text, object);
  if (!document) return document.error();
  json::object* top = document->if_object();
  json::value* repositories = top ? top->if_contains("Repositories") : nullptr;
  if (!repositories || !repositories->is_object()) return corrupt(object, "no \"Repositories\" object");
  for (const auto& [name, repository] : repositories->get_object()) {
    if (!repository.is_object()) return corrupt(object, "entry \"" + std::string(name) + "\" is not an object");
    for (const auto& [key, id] : repository.get_object()) {
      const json::string* id_text = id.if_string();
      if (!id_text || !is_sha256_digest(*id_text))
        return corrupt(object, "entry \"" + std::string(key) + "\" is not a sha256 image ID");
    }
  }
  return std::optional<json::object>(std::move(repositories->get_object()));
}

Result<std::optional<std::string>> DockerStore::lookup_name(const ImageRef& ref) const {
  auto repositories = this->repositories();
  if (!repositories) return repositories.error();
  if (!*repositories) return std::optional<std::string>();
  const json::value* repository = (*repositories)->if_contains(ref.familiar_name());
  if (!repository) return std::optional<std::string>();
  const json::value* id = repository->get_object().if_contains(ref.store_key());
  if (!id) return std::optional<std::string>();
  return std::optional<std::string>(std::string(id->get_string().subview(7)));
}

Result<std::map<std::string, std::vector<std::string>>> DockerStore::references() const {
  auto repositories = this->repositories();
  if (!repositories) return repositories.error();
  std::map<std::string, std::vector<std::string>> by_id;
  if (!*repositories) return by_id;
  for (const auto& [name, repository] : **repositories)
    for (const auto& [key, id] : repository.get_object())
      by_id[std::string(id.get_string().subview(7))].emplace_back(key);
  for (auto& [id, keys] : by_id) std::sort(keys.begin(), keys.end());
  return by_id;
}

Result<std::vector<std::string>> DockerStore::image_ids() const { return ids_in(root_, config_dir); }

Result<bool> DockerStore::has_image(const std::string& id) const {
  if (!is_hex64(id)) return false;
  auto kind = root_.kind(config_path(id));
  if (!kind) return kind.error();
  return *kind != EntryKind::missing;
}

Result<ImageConfig> DockerStore::image_config(const std::string& id) const {
  const std::string object = "image sha256:" + id;
  if (!is_hex64(id)) return corrupt(object, "invalid image ID");
  auto config = root_.read_file(config_path(id), max_json_size);
  if (!config) return config.error();
  if (const std::string actual = sha256_hex(*config); actual != id)
    return corrupt(object, "config digest mismatch: " + root_.absolute(config_path(id)) +
                               " hashes to sha256:" + actual);
  auto document = parse_json(*config, object + " config");
  if (!document) return document.error();

  return parse_image_config(*document, object);
}

Result<std::string> DockerStore::read_id_file(const std::string& relative) const {
  auto text = root_.read_file(relative, max_id_file_size);
  if (!text) return text.error();
  return std::string(trim(*text));
}

Result<std::vector<Layer>> DockerStore::image_layers(const std::string&, const ImageConfig& config) const {
  const auto chain = chain_ids(config.diff_ids);
  std::vector<Layer> layers;
  layers.reserve(chain.size());
  for (size_t i = 0; i < chain.size(); ++i) {
    auto found = layer(chain[i], config.diff_ids[i], i ? chain[i - 1] : std::string());
    if (!found) return found.error();
    layers.push_back(std::move(*found));
  }
  return layers;
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

  auto layer = layer_dir(*cache_id, LayerRole::image, object);
  if (!layer) return layer.error();
  layer->diff_id = diff_id;
  layer->chain_id = chain_id;
  layer->tar_split = dir + "/tar-split.json.gz";
  auto size_kind = root_.kind(dir + "/size");
  if (!size_kind) return size_kind.error();
  if (*size_kind != EntryKind::missing) {
    auto size = read_id_file(dir + "/size");
    if (!size) return size.error();
    layer->size = parse_size(*size);
    if (layer->size < 0) return corrupt(object, "layerdb size \"" + *size + "\" is not a byte count");
  }
  return layer;
}

Result<Layer> DockerStore::layer_dir(std::string cache_id, LayerRole role, const std::string& object) const {
  Layer layer;
  layer.dir = "overlay2/" + cache_id + "/diff";
  layer.cache_id = std::move(cache_id);
  layer.role = role;
  auto content_kind = root_.kind(layer.dir);
  if (!content_kind) return content_kind.error();
  if (*content_kind != EntryKind::directory)
    return not_found(object, "layer directory " + root_.absolute(layer.dir) + " is missing");
  return layer;
}

std::string DockerStore::link_name(const std::string& dir_name) const {
  const std::string file = "overlay2/" + dir_name + "/link";
  auto kind = root_.kind(file);
  if (!kind || *kind != EntryKind::regular) return {};
  auto text = read_id_file(file);
  return text ? *text : std::string();
}

Result<std::optional<std::string>> DockerStore::dir_of_link(const std::string& link) const {
  auto names = root_.list_dir("overlay2");
  if (!names) return names.error();
  std::sort(names->begin(), names->end());
  for (const std::string& name : *names)
    if (is_layer_dir_name(name) && link_name(name) == link)
      return std::optional<std::string>(name);
  return std::optional<std::string>();
}

Result<std::vector<std::string>> DockerStore::container_ids() const { return ids_in(root_, containers_dir); }

Result<Container> DockerStore::container(const std::string& id) const {
  const std::string object = "container " + id;
  if (!is_hex64(id)) return corrupt(object, "invalid container ID");
  const std::string path = std::string(containers_dir) + "/" + id + "/config.v2.json";
  auto text = root_.read_file(path, max_json_size);
  if (!text) return text.error();
  auto document = parse_json(*text, root_.absolute(path));
  if (!document) return document.error();
  const json::object* top = document->if_object();
  if (!top) return corrupt(root_.absolute(path), "not a JSON object");

  Container container;
  container.id = id;
  if (member_string(*top, "ID") != id) return corrupt(root_.absolute(path), "\"ID\" is not " + id);
  const std::string name = member_string(*top, "Name");
  container.name = name.starts_with('/') ? name.substr(1) : name;
  if (!is_docker_name(container.name))
    return corrupt(root_.absolute(path), "\"Name\" \"" + name + "\" is not a valid container name");
  container.image_id = member_string(*top, "Image");
  if (!is_sha256_digest(container.image_id))
    return corrupt(root_.absolute(path), "\"Image\" is not sha256:<64 hex>");
  if (const json::value* config = top->if_contains("Config"); config && config->is_object())
    container.image_name = member_string(config->get_object(), "Image");
  container.created = member_string(*top, "Created");
  const json::value* state = top->if_contains("State");
  if (!state || !state->is_object()) return corrupt(root_.absolute(path), "no \"State\" object");
  container.state = state_string(state->get_object());
  if (const std::string driver = member_string(*top, "Driver"); driver != "overlay2")
    return corrupt(object, "uses storage driver \"" + driver + "\", not overlay2");

  if (const json::value* points = top->if_contains("MountPoints"); points && !points->is_null()) {
    if (!points->is_object()) return corrupt(root_.absolute(path), "\"MountPoints\" is not an object");
    for (const auto& [destination, point] : points->get_object()) {
      if (!point.is_object()) return corrupt(root_.absolute(path), "a mount point is not an object");
      auto mount = volume_mount(point.get_object(), std::string(destination), root_.absolute(path));
      if (!mount) return mount.error();
      container.mounts.push_back(std::move(*mount));
    }
    std::sort(container.mounts.begin(), container.mounts.end(),
              [](const VolumeMount& a, const VolumeMount& b) { return a.destination < b.destination; });
  }
  return container;
}

Result<ContainerLayers> DockerStore::container_layers(const std::string& id) const {
  const std::string object = "container " + id;
  if (!is_hex64(id)) return corrupt(object, "invalid container ID");
  const std::string dir = std::string(mounts_dir) + "/" + id;
  auto dir_kind = root_.kind(dir);
  if (!dir_kind) return dir_kind.error();
  if (*dir_kind != EntryKind::directory)
    return not_found(object, "has no layer (" + root_.absolute(dir) + " is missing)");

  ContainerLayers layers;
  auto mount_id = read_id_file(dir + "/mount-id");
  if (!mount_id) return mount_id.error();
  if (!is_hex64(*mount_id)) return corrupt(object, "invalid mount-id \"" + *mount_id + "\" (want 64 lowercase hex)");
  layers.mount_id = *mount_id;
  auto init_id = read_id_file(dir + "/init-id");
  if (!init_id) return init_id.error();
  if (*init_id != *mount_id + "-init")
    return corrupt(object, "init-id \"" + *init_id + "\" is not \"<mount-id>-init\"");
  auto parent = read_id_file(dir + "/parent");
  if (!parent) return parent.error();
  if (!is_sha256_digest(*parent)) return corrupt(object, "layer parent \"" + *parent + "\" is not sha256:<64 hex>");
  layers.parent_chain_id = *parent;

  auto init = layer_dir(*init_id, LayerRole::init, object);
  if (!init) return init.error();
  layers.init = std::move(*init);
  auto writable = layer_dir(*mount_id, LayerRole::writable, object);
  if (!writable) return writable.error();
  layers.writable = std::move(*writable);
  return layers;
}

}  // namespace ovlmount
