// Why: see docker_store.hpp. Paths used here (relative to the data root):
//   image/overlay2/repositories.json                      names -> image IDs
//   image/overlay2/imagedb/content/sha256/<id>            image config, sha256(bytes) == id
//   image/overlay2/layerdb/sha256/<chain>/{diff,cache-id,parent}
//   image/overlay2/layerdb/mounts/<container>/{mount-id,init-id,parent}
//   containers/<container>/config.v2.json                 see docker_container.hpp
//   overlay2/<cache-id>/diff                              the layer's files (a container's:
//                                                         <mount-id> and <mount-id>-init)
// Each layer's layerdb files are read with one lookup of its directory, and a deep stack's
// layers are read on all cores: reading a 125-layer stack is some 4,000 system calls.
#include "ovlmount/store/docker_store.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/json_input.hpp"
#include "ovlmount/core/parallel.hpp"
#include "ovlmount/store/docker_container.hpp"
#include "ovlmount/store/image_config.hpp"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <algorithm>

namespace ovlmount {
namespace {

namespace json = boost::json;

constexpr std::string_view image_dir = "image/overlay2";
constexpr std::string_view repositories_file = "image/overlay2/repositories.json";
constexpr std::string_view config_dir = "image/overlay2/imagedb/content/sha256";
constexpr std::string_view layerdb_dir = "image/overlay2/layerdb/sha256";
constexpr std::string_view mounts_dir = "image/overlay2/layerdb/mounts";
constexpr size_t max_json_size = 64 << 20;
constexpr size_t max_id_file_size = 4096;
// A layer's metadata takes some 30 system calls; a thread is worth starting for this many.
constexpr size_t min_layers_per_thread = 16;

std::string_view trim(std::string_view s) {
  constexpr std::string_view space = " \t\r\n";
  const size_t first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(space) - first + 1);
}

Result<json::value> parse_json(const std::string& text, const std::string& object) {
  boost::system::error_code ec;
  json::value value = parse_untrusted_json(text, ec);
  if (ec) return corrupt(object, "malformed JSON: " + ec.message());
  return value;
}

std::string config_path(const std::string& id) { return std::string(config_dir) + "/" + id; }

bool is_layer_dir_name(std::string_view name) {
  return is_hex64(name.substr(0, 64)) && (name.size() == 64 || name.substr(64) == "-init");
}

// Docker's overlay2 link names: 26 characters of base32 (A-Z, 2-7). Anything else in a `link`
// file is not shown or used, so a crafted one cannot name a path.
bool is_overlay2_link_name(std::string_view name) {
  return name.size() == 26 &&
         std::all_of(name.begin(), name.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'); });
}

// The tags object of repositories.json's entry for repository `name`.
Result<const json::object*> tags_of(const json::value& repository, std::string_view name, const std::string& object) {
  const json::object* tags = repository.if_object();
  if (!tags) return corrupt(object, "entry \"" + std::string(name) + "\" is not an object");
  return tags;
}

// The image ID (64 hex) of tag `key`'s value `id`.
Result<std::string> image_id_of(const json::value& id, std::string_view key, const std::string& object) {
  const json::string* text = id.if_string();
  if (!text || !is_sha256_digest(*text)) return corrupt(object, "entry \"" + std::string(key) + "\" is not a sha256 image ID");
  return std::string(text->subview(7));
}

// The events of basic_parser over repositories.json when one reference is looked up: what
// repositories() and lookup_name would find in the parsed document, without building it (a
// store of 100,000 images has a 12 MB file). Depth 1 is the top object, depth 2 "Repositories",
// depth 3 a repository's tags. A repeated key counts as its last occurrence, as boost::json
// (and Docker's Go) keep it. Values are counted against json_max_memory as parse_untrusted_json
// would hold them, so the lookup refuses what the listing refuses.
class RepositoryLookup : public StreamingJsonHandler {
 public:
  // What the last occurrence of a wanted key held.
  enum class Found { absent, object, string, other };

  RepositoryLookup(std::string_view name, std::string_view key) : name_(name), key_(key) {}

  // Whether the document is an object whose last "Repositories" is an object.
  bool has_repositories() const { return top_is_object_ && repositories_ == Found::object; }
  // The last entry of the repository `name`: absent, an object, or something else.
  Found repository() const { return repository_; }
  // The last value of tag `key` in that entry, and the string when it is one (at most 71 bytes
  // kept: a longer one is no image ID).
  Found tag() const { return tag_; }
  const std::string& tag_text() const { return tag_text_; }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_array_begin(boost::system::error_code& ec) {
    value(Found::other);
    ++depth_;
    return charge(ec);
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    --depth_;
    return true;
  }
  bool on_object_begin(boost::system::error_code& ec) {
    if (depth_ == 0) top_is_object_ = true;
    value(Found::object);
    ++depth_;
    return charge(ec);
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    --depth_;
    in_repositories_ = depth_ >= 2 && in_repositories_;
    in_repository_ = depth_ >= 3 && in_repository_;
    return true;
  }
  bool on_string_part(json::string_view part, std::size_t, boost::system::error_code& ec) {
    if (wants_tag_) keep_tag(part);
    return charge(ec, part.size());
  }
  bool on_string(json::string_view part, std::size_t, boost::system::error_code& ec) {
    if (wants_tag_) keep_tag(part);
    value(Found::string);
    return charge(ec, part.size() + sizeof(json::value));
  }
  bool on_key_part(json::string_view part, std::size_t, boost::system::error_code& ec) {
    key_part(part);
    return charge(ec, part.size());
  }
  bool on_key(json::string_view part, std::size_t, boost::system::error_code& ec) {
    key_part(part);
    const std::string_view wanted = wanted_key();
    const bool counts = depth_ == 1 || (depth_ == 2 && in_repositories_) || (depth_ == 3 && in_repository_);
    pending_ = counts && key_matches_ && key_size_ == wanted.size() ? depth_ : 0;
    if (pending_ == 3) tag_text_.clear();
    wants_tag_ = pending_ == 3;
    key_matches_ = true;
    key_size_ = 0;
    return charge(ec, part.size());
  }
  bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, boost::system::error_code& ec) { return scalar(ec); }
  bool on_uint64(std::uint64_t, json::string_view, boost::system::error_code& ec) { return scalar(ec); }
  bool on_double(double, json::string_view, boost::system::error_code& ec) { return scalar(ec); }
  bool on_bool(bool, boost::system::error_code& ec) { return scalar(ec); }
  bool on_null(boost::system::error_code& ec) { return scalar(ec); }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }

 private:
  bool scalar(boost::system::error_code& ec) {
    value(Found::other);
    return charge(ec);
  }
  // A value begins at the current depth: what the pending wanted key (if any) holds.
  void value(Found found) {
    if (pending_ == 0 || pending_ != depth_) return;
    if (pending_ == 1) {
      repositories_ = found;
      repository_ = Found::absent;
      tag_ = Found::absent;
      in_repositories_ = found == Found::object;
    } else if (pending_ == 2) {
      repository_ = found;
      tag_ = Found::absent;
      in_repository_ = found == Found::object;
    } else {
      tag_ = found;
    }
    pending_ = 0;
    wants_tag_ = false;
  }
  // The key wanted at the current depth: "Repositories", then the repository, then the tag.
  std::string_view wanted_key() const { return depth_ == 1 ? std::string_view("Repositories") : depth_ == 2 ? name_ : key_; }
  void key_part(json::string_view part) {
    const std::string_view wanted = wanted_key();
    key_matches_ = key_matches_ && key_size_ + part.size() <= wanted.size() &&
                   wanted.substr(key_size_, part.size()) == std::string_view(part.data(), part.size());
    key_size_ += part.size();
  }
  void keep_tag(json::string_view part) {
    tag_text_.append(part.data(), std::min(part.size(), 72 - std::min<size_t>(72, tag_text_.size())));
  }

  std::string_view name_;
  std::string_view key_;
  size_t depth_ = 0;
  size_t pending_ = 0;  // the depth whose wanted key was just read, else 0
  bool key_matches_ = true;
  size_t key_size_ = 0;
  bool wants_tag_ = false;
  bool top_is_object_ = false;
  bool in_repositories_ = false;
  bool in_repository_ = false;
  Found repositories_ = Found::absent;
  Found repository_ = Found::absent;
  Found tag_ = Found::absent;
  std::string tag_text_;
};

std::int64_t parse_size(std::string_view text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string_view::npos) return -1;
  return std::stoll(std::string(text));
}

}  // namespace

Result<DockerStore> DockerStore::open(const RootDir& root) {
  auto images = root.kind(image_dir);
  if (!images) return images.error();
  if (*images == EntryKind::directory) return DockerStore(root);
  return not_found(root.path(), "not a Docker overlay2 data root (image/overlay2 is missing)");
}

Result<std::optional<json::object>> DockerStore::repositories() const {
  const std::string object = root_.absolute(repositories_file);
  auto text = root_.read_file(repositories_file, max_json_size);
  if (!text && text.error().code == ExitCode::not_found) return std::optional<json::object>();
  if (!text) return text.error();
  auto document = parse_json(*text, object);
  if (!document) return document.error();
  json::object* top = document->if_object();
  json::value* repositories = top ? top->if_contains("Repositories") : nullptr;
  if (!repositories || !repositories->is_object()) return corrupt(object, "no \"Repositories\" object");
  return std::optional<json::object>(std::move(repositories->get_object()));
}

Result<std::optional<std::string>> DockerStore::lookup_name(const ImageRef& ref) const {
  const std::string object = root_.absolute(repositories_file);
  auto text = root_.read_file(repositories_file, max_json_size);
  if (!text && text.error().code == ExitCode::not_found) return std::optional<std::string>();
  if (!text) return text.error();
  const std::string name = ref.familiar_name();
  const std::string key = ref.store_key();
  json::parse_options options;
  options.max_depth = json_max_depth;
  json::basic_parser<RepositoryLookup> parser(options, name, key);
  boost::system::error_code ec;
  const size_t used = parser.write_some(false, text->data(), text->size(), ec);
  if (parser.handler().over_budget())
    return corrupt(object, "malformed JSON: needs more memory to parse than one store document may take");
  if (!ec && used < text->size()) ec = json::error::extra_data;
  if (ec) return corrupt(object, "malformed JSON: " + ec.message());
  const RepositoryLookup& found = parser.handler();
  if (!found.has_repositories()) return corrupt(object, "no \"Repositories\" object");
  if (found.repository() == RepositoryLookup::Found::absent) return std::optional<std::string>();
  if (found.repository() != RepositoryLookup::Found::object)
    return corrupt(object, "entry \"" + name + "\" is not an object");
  if (found.tag() == RepositoryLookup::Found::absent) return std::optional<std::string>();
  if (found.tag() != RepositoryLookup::Found::string || !is_sha256_digest(found.tag_text()))
    return corrupt(object, "entry \"" + key + "\" is not a sha256 image ID");
  return std::optional<std::string>(found.tag_text().substr(7));
}

Result<std::map<std::string, std::vector<std::string>>> DockerStore::references() const {
  auto repositories = this->repositories();
  if (!repositories) return repositories.error();
  std::map<std::string, std::vector<std::string>> by_id;
  if (!*repositories) return by_id;
  const std::string object = root_.absolute(repositories_file);
  for (const auto& [name, repository] : **repositories) {
    auto tags = tags_of(repository, name, object);
    if (!tags) return tags.error();
    for (const auto& [key, id] : **tags) {
      auto image_id = image_id_of(id, key, object);
      if (!image_id) return image_id.error();
      by_id[*image_id].emplace_back(key);
    }
  }
  for (auto& [id, keys] : by_id) std::sort(keys.begin(), keys.end());
  return by_id;
}

Result<std::vector<std::string>> DockerStore::image_ids() const { return hex_id_names(root_, config_dir); }

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
  std::vector<std::optional<Result<Layer>>> found(chain.size());
  const unsigned threads = chain.size() >= min_layers_per_thread * 2 ? worker_count(chain.size() / min_layers_per_thread) : 1;
  for_each_index(chain.size(), threads, [&](size_t i) {
    found[i] = layer(chain[i], config.diff_ids[i], i ? chain[i - 1] : std::string());
  });
  std::vector<Layer> layers;
  layers.reserve(chain.size());
  for (std::optional<Result<Layer>>& one : found) {
    if (!*one) return one->error();
    layers.push_back(std::move(**one));
  }
  return layers;
}

Result<Layer> DockerStore::layer(const std::string& chain_id, const std::string& diff_id,
                                 const std::string& parent_chain_id) const {
  const std::string object = "layer " + chain_id;
  if (!is_sha256_digest(chain_id)) return corrupt(object, "invalid chain ID");
  const std::string dir = std::string(layerdb_dir) + "/" + chain_id.substr(7);
  auto files = root_.read_files(dir, {"diff", "parent", "cache-id", "size"}, max_id_file_size);
  if (!files) {
    auto dir_kind = root_.kind(dir);
    if (dir_kind && *dir_kind == EntryKind::missing)
      return not_found(object, "not in the layer store (" + root_.absolute(dir) + " is missing)");
    if (dir_kind && *dir_kind != EntryKind::directory) return corrupt(object, root_.absolute(dir) + " is not a directory");
    return files.error();
  }
  const auto text = [&](size_t index) { return std::string(trim((*files)[index].value_or(""))); };
  if (!(*files)[0]) return not_found(root_.absolute(dir + "/diff"), "no such file or directory");
  if (!(*files)[2]) return not_found(root_.absolute(dir + "/cache-id"), "no such file or directory");

  if (text(0) != diff_id)
    return corrupt(object, "layerdb diff is \"" + text(0) + "\", the image config says " + diff_id);
  if (text(1) != parent_chain_id)
    return corrupt(object, "layerdb parent is \"" + text(1) + "\", expected \"" + parent_chain_id + "\"");
  const std::string cache_id = text(2);
  if (!is_hex64(cache_id)) return corrupt(object, "invalid cache-id \"" + cache_id + "\" (want 64 lowercase hex)");

  auto layer = layer_dir(cache_id, LayerRole::image, object);
  if (!layer) return layer.error();
  layer->diff_id = diff_id;
  layer->chain_id = chain_id;
  layer->tar_split = dir + "/tar-split.json.gz";
  if (const std::string size = text(3); (*files)[3]) {
    layer->size = parse_size(size);
    if (layer->size < 0) return corrupt(object, "layerdb size \"" + size + "\" is not a byte count");
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
  if (*content_kind == EntryKind::missing)
    return not_found(object, "layer directory " + root_.absolute(layer.dir) + " is missing");
  if (*content_kind != EntryKind::directory)
    return corrupt(object, "layer directory " + root_.absolute(layer.dir) + " is not a directory");
  return layer;
}

std::string DockerStore::link_name(const std::string& dir_name) const {
  const std::string file = "overlay2/" + dir_name + "/link";
  auto kind = root_.kind(file);
  if (!kind || *kind != EntryKind::regular) return {};
  auto text = read_id_file(file);
  return text && is_overlay2_link_name(*text) ? *text : std::string();
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

Result<std::vector<std::string>> DockerStore::container_ids() const { return docker_container_ids(root_); }

Result<Container> DockerStore::container(const std::string& id) const {
  return read_docker_container(root_, id, "overlay2");
}

Result<ContainerLayers> DockerStore::container_layers(const std::string& id) const {
  const std::string object = "container " + id;
  if (!is_hex64(id)) return corrupt(object, "invalid container ID");
  const std::string dir = std::string(mounts_dir) + "/" + id;
  auto dir_kind = root_.kind(dir);
  if (!dir_kind) return dir_kind.error();
  if (*dir_kind == EntryKind::missing)
    return not_found(object, "has no layer (" + root_.absolute(dir) + " is missing)");
  if (*dir_kind != EntryKind::directory) return corrupt(object, root_.absolute(dir) + " is not a directory");

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
