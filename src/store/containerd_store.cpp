// Why: see containerd_store.hpp. Paths used here (relative to the containerd root):
//   io.containerd.metadata.v1.bolt/meta.db              v1/<ns>/{images,content,snapshots,containers}
//   io.containerd.content.v1.content/blobs/sha256/<hex>  manifests, indexes, configs, layer blobs
//   io.containerd.snapshotter.v1.overlayfs/metadata.db  v1/snapshots/<ns>/<seq>/<key> -> id, kind, parent
//   io.containerd.snapshotter.v1.overlayfs/snapshots/<id>/fs   a layer's files
// Each bolt file is read whole (what a call needs of it) in one consistent() walk into plain
// maps, and every cross-reference is then checked on those maps: a blob must be listed in
// the namespace and hash to its digest, a snapshot id must be a number, the meta.db chain and
// the snapshotter's chain must agree level by level, and the chain must match the config's
// chainIDs. Nothing is ever opened for writing or locked.
#include "ovlmount/store/containerd_store.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/json_input.hpp"
#include "ovlmount/store/bolt.hpp"
#include "ovlmount/store/image_config.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>

namespace ovlmount {
namespace {

namespace json = boost::json;

constexpr std::string_view meta_db = "io.containerd.metadata.v1.bolt/meta.db";
constexpr std::string_view blobs_dir = "io.containerd.content.v1.content/blobs/sha256";
constexpr std::string_view snapshot_db = "io.containerd.snapshotter.v1.overlayfs/metadata.db";
constexpr std::string_view snapshots_dir = "io.containerd.snapshotter.v1.overlayfs/snapshots";
constexpr std::string_view snapshotter = "overlayfs";
constexpr std::string_view dangling_prefix = "moby-dangling@";
constexpr size_t max_json_blob = 64 << 20;
constexpr size_t max_chain_depth = 500;
constexpr int max_index_depth = 4;
constexpr size_t max_identifier = 76;

constexpr std::string_view oci_index = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr std::string_view oci_manifest = "application/vnd.oci.image.manifest.v1+json";
constexpr std::string_view docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";

enum class SnapshotKind { view = 1, active = 2, committed = 3 };

struct ImageRecord {
  std::string name;
  std::string digest;
  std::string media_type;
  std::int64_t size = -1;
};

struct MetaSnapshot {
  std::string name;    // the snapshotter's key "<ns>/<seq>/<key>"
  std::string parent;  // the parent's key in meta.db; "" for a base
};

struct ContainerRecord {
  std::string image;
  std::string snapshot_key;
  std::string snapshotter;
  std::string created;
};

// What one call needs of meta.db's namespace bucket, read in one transaction.
struct NamespaceData {
  std::vector<ImageRecord> images;
  std::set<std::string> blobs;
  std::map<std::string, MetaSnapshot> snapshots;
  std::map<std::string, ContainerRecord> containers;
};

struct SnapshotRecord {
  std::uint64_t id = 0;
  SnapshotKind kind = SnapshotKind::committed;
  std::string parent;  // the parent's snapshotter key; "" for a base
  std::int64_t size = -1;
};

// What ovlmount uses of an image manifest.
struct Manifest {
  std::string config_digest;               // "sha256:<hex>"
  std::vector<std::string> layer_digests;  // "sha256:<hex>" each, bottom first
};

// An image name resolved to its platform manifest, and the ID it has in this store.
struct ResolvedImage {
  const ImageRecord* record = nullptr;
  Manifest manifest;
  std::string id;  // 64 hex: the config digest or the target digest (ContainerdOptions::identity)
  std::optional<Error> problem;  // why its manifest could not be read (then `manifest` is empty)
};

// Go's RFC3339Nano of a decoded time.
std::string rfc3339(const GoTime& time) {
  const std::int64_t local = time.unix_seconds + std::int64_t{time.offset_minutes} * 60;
  const std::time_t seconds = static_cast<std::time_t>(local);
  std::tm parts{};
  if (!::gmtime_r(&seconds, &parts)) return {};
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
  std::string result = text;
  if (time.nanoseconds != 0) {
    char fraction[16];
    std::snprintf(fraction, sizeof fraction, ".%09d", static_cast<int>(time.nanoseconds));
    std::string digits = fraction;
    while (digits.back() == '0') digits.pop_back();
    result += digits;
  }
  if (time.utc || time.offset_minutes == 0) return result + "Z";
  const int offset = time.offset_minutes;
  char zone[16];
  std::snprintf(zone, sizeof zone, "%c%02d:%02d", offset < 0 ? '-' : '+', std::abs(offset) / 60, std::abs(offset) % 60);
  return result + zone;
}

Result<BoltFile> open_bolt(const RootDir& root, std::string_view relative) {
  auto fd = root.open_file(relative);
  if (!fd) return fd.error();
  return BoltFile::open(std::move(*fd), root.absolute(relative));
}

// The string value `key` of `bucket`; "" when absent.
Result<std::string> string_value(const BoltFile& file, const BoltBucket& bucket, std::string_view key) {
  auto value = file.get(bucket, key);
  if (!value) return value.error();
  return value->value_or(std::string());
}

Result<std::vector<std::string>> read_namespaces(const RootDir& root) {
  auto kind = root.kind(meta_db);
  if (!kind) return kind.error();
  if (*kind == EntryKind::missing)
    return not_found(root.path(), "no such containerd metadata database (" + std::string(meta_db) + ")");
  auto file = open_bolt(root, meta_db);
  if (!file) return file.error();
  return file->consistent([](const BoltFile& f) -> Result<std::vector<std::string>> {
    std::vector<std::string> names;
    auto v1 = f.bucket({"v1"});
    if (!v1) return v1.error();
    if (!*v1) return names;
    auto walked = f.for_each(**v1, [&](const BoltItem& item) -> Result<void> {
      if (!item.bucket) return {};
      if (!is_containerd_identifier(item.key))
        return corrupt(f.display_name(), "v1 holds a namespace whose name is not a containerd identifier: \"" +
                                             std::string(item.key) + "\"");
      names.emplace_back(item.key);
      return {};
    });
    if (!walked) return walked.error();
    return names;
  });
}

Result<NamespaceData> read_namespace(const RootDir& root, const std::string& ns) {
  auto file = open_bolt(root, meta_db);
  if (!file) return file.error();
  return file->consistent([&](const BoltFile& f) -> Result<NamespaceData> {
    NamespaceData data;
    const std::string& db = f.display_name();
    auto top = f.bucket({"v1", ns});
    if (!top) return top.error();
    if (!*top) return not_found("containerd namespace " + ns, "no such namespace in " + db);
    const auto sub = [&](std::string_view name) { return f.bucket(**top, name); };

    auto images = sub("images");
    if (!images) return images.error();
    if (*images) {
      auto walked = f.for_each(**images, [&](const BoltItem& item) -> Result<void> {
        ImageRecord image;
        image.name = std::string(item.key);
        const std::string where = "v1/" + ns + "/images/" + image.name;
        if (!item.bucket) return corrupt(db, where + " is not a bucket");
        auto target = f.bucket(*item.bucket, "target");
        if (!target) return target.error();
        if (!*target) return corrupt(db, where + " has no target");
        auto digest = string_value(f, **target, "digest");
        if (!digest) return digest.error();
        auto media_type = string_value(f, **target, "mediatype");
        if (!media_type) return media_type.error();
        auto size = f.get(**target, "size");
        if (!size) return size.error();
        if (*size) {
          const auto decoded = decode_varint(**size);
          if (!decoded || *decoded < 0) return corrupt(db, where + "/target/size is not a byte count");
          image.size = *decoded;
        }
        image.digest = std::move(*digest);
        image.media_type = std::move(*media_type);
        data.images.push_back(std::move(image));
        return {};
      });
      if (!walked) return walked.error();
    }

    auto content = f.bucket({"v1", ns, "content", "blob"});
    if (!content) return content.error();
    if (*content) {
      auto walked = f.for_each(**content, [&](const BoltItem& item) -> Result<void> {
        data.blobs.emplace(item.key);
        return {};
      });
      if (!walked) return walked.error();
    }

    auto snapshots = f.bucket({"v1", ns, "snapshots", snapshotter});
    if (!snapshots) return snapshots.error();
    if (*snapshots) {
      auto walked = f.for_each(**snapshots, [&](const BoltItem& item) -> Result<void> {
        const std::string key(item.key);
        const std::string where = "v1/" + ns + "/snapshots/overlayfs/" + key;
        if (!item.bucket) return corrupt(db, where + " is not a bucket");
        MetaSnapshot snapshot;
        auto name = string_value(f, *item.bucket, "name");
        if (!name) return name.error();
        if (name->empty()) return corrupt(db, where + " has no name");
        auto parent = string_value(f, *item.bucket, "parent");
        if (!parent) return parent.error();
        snapshot.name = std::move(*name);
        snapshot.parent = std::move(*parent);
        data.snapshots.emplace(key, std::move(snapshot));
        return {};
      });
      if (!walked) return walked.error();
    }

    auto containers = sub("containers");
    if (!containers) return containers.error();
    if (*containers) {
      auto walked = f.for_each(**containers, [&](const BoltItem& item) -> Result<void> {
        const std::string id(item.key);
        if (!is_containerd_identifier(id))
          return corrupt(db, "v1/" + ns + "/containers holds an ID that is not a containerd identifier: \"" + id + "\"");
        if (!item.bucket) return corrupt(db, "v1/" + ns + "/containers/" + id + " is not a bucket");
        ContainerRecord container;
        for (auto [key, out] : {std::pair<std::string_view, std::string*>{"image", &container.image},
                                {"snapshotKey", &container.snapshot_key},
                                {"snapshotter", &container.snapshotter}}) {
          auto value = string_value(f, *item.bucket, key);
          if (!value) return value.error();
          *out = std::move(*value);
        }
        auto created = f.get(*item.bucket, "createdat");
        if (!created) return created.error();
        if (*created) {
          const auto time = decode_go_time(**created);
          if (!time) return corrupt(db, "v1/" + ns + "/containers/" + id + "/createdat is not a Go time");
          container.created = rfc3339(*time);
        }
        data.containers.emplace(id, std::move(container));
        return {};
      });
      if (!walked) return walked.error();
    }
    return data;
  });
}

Result<std::map<std::string, SnapshotRecord>> read_snapshots(const RootDir& root) {
  auto file = open_bolt(root, snapshot_db);
  if (!file) return file.error();
  return file->consistent([](const BoltFile& f) -> Result<std::map<std::string, SnapshotRecord>> {
    std::map<std::string, SnapshotRecord> records;
    const std::string& db = f.display_name();
    auto snapshots = f.bucket({"v1", "snapshots"});
    if (!snapshots) return snapshots.error();
    if (!*snapshots) return records;
    auto walked = f.for_each(**snapshots, [&](const BoltItem& item) -> Result<void> {
      const std::string key(item.key);
      const std::string where = "v1/snapshots/" + key;
      if (!item.bucket) return corrupt(db, where + " is not a bucket");
      SnapshotRecord record;
      auto id = f.get(*item.bucket, "id");
      if (!id) return id.error();
      const auto number = *id ? decode_uvarint(**id) : std::nullopt;
      if (!number) return corrupt(db, where + ": \"id\" is missing or not an unsigned varint");
      record.id = *number;
      auto kind = f.get(*item.bucket, "kind");
      if (!kind) return kind.error();
      if (!*kind || (*kind)->size() != 1 || (**kind)[0] < 1 || (**kind)[0] > 3)
        return corrupt(db, where + ": \"kind\" is not 1 (View), 2 (Active) or 3 (Committed)");
      record.kind = static_cast<SnapshotKind>((**kind)[0]);
      auto parent = string_value(f, *item.bucket, "parent");
      if (!parent) return parent.error();
      record.parent = std::move(*parent);
      auto size = f.get(*item.bucket, "size");
      if (!size) return size.error();
      if (*size) {
        const auto decoded = decode_varint(**size);
        if (decoded && *decoded >= 0) record.size = *decoded;
      }
      records.emplace(key, std::move(record));
      return {};
    });
    if (!walked) return walked.error();
    return records;
  });
}

const json::string* string_member(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value ? value->if_string() : nullptr;
}

// A descriptor of a manifest or index: its digest, media type and size (-1 when absent).
struct Descriptor {
  std::string digest;
  std::string media_type;
  std::int64_t size = -1;
};

Result<Descriptor> descriptor_of(const json::object& object, const std::string& where, const std::string& file) {
  Descriptor descriptor;
  const json::string* digest = string_member(object, "digest");
  if (!digest || !is_sha256_digest(*digest)) return corrupt(file, where + " has no digest sha256:<64 hex>");
  descriptor.digest = std::string(*digest);
  if (const json::string* media_type = string_member(object, "mediaType")) descriptor.media_type = std::string(*media_type);
  if (const json::value* size = object.if_contains("size")) {
    if (const auto* value = size->if_int64(); value && *value >= 0) descriptor.size = *value;
    else if (const auto* unsigned_value = size->if_uint64(); unsigned_value && *unsigned_value <= INT64_MAX)
      descriptor.size = static_cast<std::int64_t>(*unsigned_value);
    else return corrupt(file, where + " has a size that is not a byte count");
  }
  return descriptor;
}

}  // namespace

bool is_containerd_identifier(std::string_view text) {
  if (text.empty() || text.size() > max_identifier) return false;
  bool after_separator = true;
  for (const char c : text) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum) {
      after_separator = false;
    } else if (c == '.' || c == '_' || c == '-') {
      if (after_separator) return false;
      after_separator = true;
    } else {
      return false;
    }
  }
  return !after_separator;
}

struct ContainerdStore::State {
  const RootDir* root = nullptr;
  std::string ns;
  ContainerdOptions options;

  // What the namespace holds, read once per process: a command works on one consistent
  // reading of each bolt file, and resolving a name, its config and its layers needs all
  // three several times.
  mutable std::optional<NamespaceData> data_cache;
  mutable std::optional<std::map<std::string, SnapshotRecord>> records_cache;
  mutable std::optional<std::vector<ResolvedImage>> resolved_cache;

  Result<const NamespaceData*> namespace_data() const {
    if (!data_cache) {
      auto data = read_namespace(*root, ns);
      if (!data) return data.error();
      data_cache = std::move(*data);
    }
    return &*data_cache;
  }

  Result<const std::map<std::string, SnapshotRecord>*> snapshot_records() const {
    if (!records_cache) {
      auto records = read_snapshots(*root);
      if (!records) return records.error();
      records_cache = std::move(*records);
    }
    return &*records_cache;
  }

  // resolve_all of the namespace, once.
  Result<const std::vector<ResolvedImage>*> resolved_images() const {
    if (!resolved_cache) {
      auto data = namespace_data();
      if (!data) return data.error();
      auto resolved = resolve_all(**data);
      if (!resolved) return resolved.error();
      resolved_cache = std::move(*resolved);
    }
    return &*resolved_cache;
  }

  std::string object(const std::string& what) const { return "containerd/" + ns + " " + what; }

  // The verified bytes of blob `digest` of this namespace, `size` bytes when size >= 0.
  Result<std::string> read_blob(const NamespaceData& data, const std::string& digest, std::int64_t size,
                                const std::string& what) const {
    if (!is_sha256_digest(digest)) return corrupt(object(what), "digest \"" + digest + "\" is not sha256:<64 hex>");
    if (!data.blobs.contains(digest))
      return not_found(object(what), "blob " + digest + " is not in the namespace's content (v1/" + ns +
                                         "/content/blob in " + root->absolute(meta_db) + ")");
    const std::string path = std::string(blobs_dir) + "/" + digest.substr(7);
    auto bytes = root->read_file(path, max_json_blob);
    if (!bytes) return bytes.error();
    if (const std::string actual = "sha256:" + sha256_hex(*bytes); actual != digest)
      return corrupt(root->absolute(path), "blob digest mismatch: hashes to " + actual + ", not " + digest);
    if (size >= 0 && bytes->size() != static_cast<std::uint64_t>(size))
      return corrupt(root->absolute(path), "blob is " + std::to_string(bytes->size()) + " bytes, its descriptor says " +
                                               std::to_string(size));
    return bytes;
  }

  // The manifest of image record `image`: through an index (options.platform) to a manifest.
  // Its layer digests are left empty when its layers array is malformed (mounting never needs them).
  Result<Manifest> manifest_of(const NamespaceData& data, const ImageRecord& image) const {
    Descriptor current{image.digest, image.media_type, image.size};
    const Platform& wanted = options.platform;
    for (int depth = 0; depth <= max_index_depth; ++depth) {
      const std::string what = "image " + image.name;
      auto bytes = read_blob(data, current.digest, current.size, what);
      if (!bytes) return bytes.error();
      const std::string file = root->absolute(std::string(blobs_dir) + "/" + current.digest.substr(7));
      boost::system::error_code ec;
      json::value document = parse_untrusted_json(*bytes, ec);
      if (ec || !document.is_object()) return corrupt(file, "not a JSON object" + (ec ? ": " + ec.message() : ""));
      const json::object& top = document.get_object();
      std::string media_type = current.media_type;
      if (const json::string* inner = string_member(top, "mediaType")) media_type = std::string(*inner);
      const bool is_index = media_type == oci_index || media_type == docker_list ||
                            (media_type.empty() && top.contains("manifests"));
      if (!is_index) {
        if (!media_type.empty() && media_type != oci_manifest && media_type != docker_manifest)
          return failure(object(what), "unsupported media type \"" + media_type + "\"");
        const json::value* config = top.if_contains("config");
        if (!config || !config->is_object()) return corrupt(file, "manifest has no config descriptor");
        auto descriptor = descriptor_of(config->get_object(), "config", file);
        if (!descriptor) return descriptor.error();
        Manifest manifest{descriptor->digest, {}};
        if (const json::value* layers = top.if_contains("layers"); layers && layers->is_array()) {
          for (const json::value& layer : layers->get_array()) {
            auto layer_descriptor = layer.is_object() ? descriptor_of(layer.get_object(), "layer", file)
                                                      : Result<Descriptor>(corrupt(file, "layer is not an object"));
            if (!layer_descriptor) {
              manifest.layer_digests.clear();
              break;
            }
            manifest.layer_digests.push_back(std::move(layer_descriptor->digest));
          }
        }
        return manifest;
      }
      const json::value* manifests = top.if_contains("manifests");
      if (!manifests || !manifests->is_array()) return corrupt(file, "index has no manifests array");
      std::optional<Descriptor> chosen;
      int chosen_score = -1;
      const auto& list = manifests->get_array();
      for (size_t i = 0; i < list.size(); ++i) {
        if (!list[i].is_object()) return corrupt(file, "manifests[" + std::to_string(i) + "] is not an object");
        const json::object& entry = list[i].get_object();
        auto descriptor = descriptor_of(entry, "manifests[" + std::to_string(i) + "]", file);
        if (!descriptor) return descriptor.error();
        int score = 0;
        if (const json::value* platform = entry.if_contains("platform"); platform && platform->is_object()) {
          const json::string* os = string_member(platform->get_object(), "os");
          const json::string* architecture = string_member(platform->get_object(), "architecture");
          const json::string* entry_variant = string_member(platform->get_object(), "variant");
          if (!os || *os != wanted.os || !architecture || *architecture != wanted.architecture) continue;
          score = 2;
          if (!entry_variant || entry_variant->empty() || *entry_variant == wanted.variant) score = 3;
        } else if (list.size() != 1) {
          continue;
        }
        if (!data.blobs.contains(descriptor->digest)) continue;
        if (score > chosen_score) {
          chosen = *descriptor;
          chosen_score = score;
        }
      }
      if (!chosen)
        return not_found(object(what), "holds no manifest for " + wanted.name() + " whose content is in the namespace");
      current = std::move(*chosen);
    }
    return corrupt(object("image " + image.name), "indexes nested deeper than " + std::to_string(max_index_depth));
  }

  // The ID image record `image` has in this store, given its manifest.
  std::string id_of(const ImageRecord& image, const Manifest& manifest) const {
    const std::string& digest = options.identity == ImageIdentity::target ? image.digest : manifest.config_digest;
    return digest.substr(7);
  }

  // Every image whose manifest can be found; images without their content are left out. With
  // ImageIdentity::target an image whose manifest is corrupt is kept (its ID needs no manifest)
  // with its problem, so listings can show it.
  Result<std::vector<ResolvedImage>> resolve_all(const NamespaceData& data) const {
    std::vector<ResolvedImage> resolved;
    for (const ImageRecord& image : data.images) {
      auto resolved_image = resolve(data, image);
      if (!resolved_image) {
        if (resolved_image.error().code == ExitCode::not_found) continue;
        if (options.identity != ImageIdentity::target || !is_sha256_digest(image.digest)) return resolved_image.error();
        resolved.push_back({&image, {}, image.digest.substr(7), resolved_image.error()});
        continue;
      }
      resolved.push_back(std::move(*resolved_image));
    }
    return resolved;
  }

  Result<ResolvedImage> resolve(const NamespaceData& data, const ImageRecord& image) const {
    auto manifest = manifest_of(data, image);
    if (!manifest) return manifest.error();
    ResolvedImage resolved{&image, std::move(*manifest), {}, {}};
    resolved.id = id_of(image, resolved.manifest);
    return resolved;
  }

  // The first image with ID `id`; not_found when none.
  Result<ResolvedImage> find(const std::string& id) const {
    auto resolved = resolved_images();
    if (!resolved) return resolved.error();
    for (const ResolvedImage& image : **resolved) {
      if (image.id != id) continue;
      if (image.problem) return *image.problem;
      return image;
    }
    return not_found(object("image sha256:" + id), "no such image");
  }

  // The meta.db chain below snapshot `key` and the snapshotter's, level by level, base first.
  struct ChainLevel {
    std::string meta_key;
    const SnapshotRecord* record = nullptr;
  };
  Result<std::vector<ChainLevel>> chain_below(const NamespaceData& data,
                                              const std::map<std::string, SnapshotRecord>& records,
                                              const std::string& key, const std::string& what) const {
    const std::string meta_file = root->absolute(meta_db);
    const std::string snap_file = root->absolute(snapshot_db);
    std::vector<ChainLevel> chain;
    std::set<std::string> visited;
    std::string meta_key = key;
    const auto first = data.snapshots.find(key);
    if (first == data.snapshots.end())
      return not_found(object(what), "snapshot " + key + " is not in v1/" + ns + "/snapshots/overlayfs of " + meta_file +
                                         " (image not unpacked in this namespace?)");
    std::string snap_key = first->second.name;
    while (true) {
      if (!visited.insert(snap_key).second) return corrupt(snap_file, "parent loop through snapshot " + snap_key);
      if (chain.size() == max_chain_depth)
        return corrupt(snap_file, "snapshot chain below " + key + " is deeper than " + std::to_string(max_chain_depth));
      const auto meta = data.snapshots.find(meta_key);
      if (meta == data.snapshots.end())
        return corrupt(meta_file, "snapshot " + meta_key + " (a parent below " + key + ") is not in v1/" + ns +
                                      "/snapshots/overlayfs");
      if (meta->second.name != snap_key)
        return corrupt(meta_file, "snapshot " + meta_key + " is named " + meta->second.name +
                                      ", but the snapshotter's chain has " + snap_key + " there");
      const auto record = records.find(snap_key);
      if (record == records.end()) return corrupt(snap_file, "snapshot " + snap_key + " is not in v1/snapshots");
      chain.push_back({meta_key, &record->second});
      const std::string& snap_parent = record->second.parent;
      const std::string& meta_parent = meta->second.parent;
      if (snap_parent.empty() != meta_parent.empty())
        return corrupt(snap_file, "snapshot " + snap_key + " has " + (snap_parent.empty() ? "no parent" : "a parent") +
                                      ", its meta.db record " + meta_key + " says otherwise");
      if (snap_parent.empty()) break;
      snap_key = snap_parent;
      meta_key = meta_parent;
    }
    std::reverse(chain.begin(), chain.end());
    return chain;
  }

  Result<Layer> layer_of(const SnapshotRecord& record, const std::string& snap_key, LayerRole role) const {
    Layer layer;
    layer.cache_id = std::to_string(record.id);
    layer.dir = std::string(snapshots_dir) + "/" + layer.cache_id + "/fs";
    layer.role = role;
    layer.size = record.size;
    auto kind = root->kind(layer.dir);
    if (!kind) return kind.error();
    if (*kind == EntryKind::missing)
      return not_found(object("snapshot " + snap_key), "layer directory " + root->absolute(layer.dir) + " is missing");
    if (*kind != EntryKind::directory)
      return corrupt(object("snapshot " + snap_key), "layer directory " + root->absolute(layer.dir) + " is not a directory");
    return layer;
  }
};

ContainerdStore::ContainerdStore(std::unique_ptr<State> state) : state_(std::move(state)) {}
ContainerdStore::ContainerdStore(ContainerdStore&&) noexcept = default;
ContainerdStore::~ContainerdStore() = default;

Result<std::vector<std::string>> ContainerdStore::namespaces(const RootDir& root) {
  auto names = read_namespaces(root);
  if (!names) return names.error();
  std::sort(names->begin(), names->end());
  return names;
}

Result<ContainerdStore> ContainerdStore::open(const RootDir& root, const std::string& ns, ContainerdOptions options) {
  auto names = namespaces(root);
  if (!names) return names.error();
  if (!std::binary_search(names->begin(), names->end(), ns))
    return not_found("containerd namespace " + ns, "no such namespace in " + root.absolute(meta_db));
  auto state = std::make_unique<State>();
  state->root = &root;
  state->ns = ns;
  state->options = std::move(options);
  return ContainerdStore(std::move(state));
}

const RootDir& ContainerdStore::root() const { return *state_->root; }

Result<std::optional<std::string>> ContainerdStore::lookup_name(const ImageRef& ref) const {
  auto loaded = state_->namespace_data();
  if (!loaded) return loaded.error();
  const NamespaceData& data = **loaded;
  const std::string repository = ref.domain + "/" + ref.path;
  const ImageRecord* found = nullptr;
  for (const ImageRecord& image : data.images) {
    if (ref.digest.empty()) {
      if (image.name == repository + ":" + (ref.tag.empty() ? "latest" : ref.tag)) found = &image;
    } else if (image.name == repository + "@" + ref.digest) {
      found = &image;
    }
    if (found) break;
  }
  if (!found && !ref.digest.empty()) {
    for (const ImageRecord& image : data.images) {
      const auto cut = image.name.find_first_of("@");
      const std::string name_repository =
          cut != std::string::npos ? image.name.substr(0, cut)
                                   : image.name.substr(0, image.name.rfind(':') > image.name.rfind('/')
                                                              ? image.name.rfind(':')
                                                              : image.name.size());
      if (image.digest == ref.digest && name_repository == repository) {
        found = &image;
        break;
      }
    }
  }
  if (!found) return std::optional<std::string>();
  auto resolved = state_->resolve(data, *found);
  if (!resolved) return resolved.error();
  return std::optional<std::string>(resolved->id);
}

Result<std::map<std::string, std::vector<std::string>>> ContainerdStore::references() const {
  auto resolved = state_->resolved_images();
  if (!resolved) return resolved.error();
  std::map<std::string, std::vector<std::string>> by_id;
  for (const ResolvedImage& image : **resolved) {
    std::vector<std::string>& names = by_id[image.id];
    if (!image.record->name.starts_with(dangling_prefix)) names.push_back(image.record->name);
  }
  for (auto& [id, names] : by_id) std::sort(names.begin(), names.end());
  return by_id;
}

Result<std::vector<std::string>> ContainerdStore::image_ids() const {
  auto resolved = state_->resolved_images();
  if (!resolved) return resolved.error();
  std::set<std::string> ids;
  for (const ResolvedImage& image : **resolved) ids.insert(image.id);
  return std::vector<std::string>(ids.begin(), ids.end());
}

Result<bool> ContainerdStore::has_image(const std::string& id) const {
  if (!is_hex64(id)) return false;
  auto ids = image_ids();
  if (!ids) return ids.error();
  return std::binary_search(ids->begin(), ids->end(), id);
}

Result<ImageConfig> ContainerdStore::image_config(const std::string& id) const {
  const std::string object = state_->object("image sha256:" + id);
  if (!is_hex64(id)) return corrupt(object, "invalid image ID");
  auto loaded = state_->namespace_data();
  if (!loaded) return loaded.error();
  const NamespaceData& data = **loaded;
  auto image = state_->find(id);
  if (!image) return image.error();
  const std::string& digest = image->manifest.config_digest;
  auto config = state_->read_blob(data, digest, -1, "image sha256:" + id + " config");
  if (!config) return config.error();

  boost::system::error_code ec;
  json::value document = parse_untrusted_json(*config, ec);
  if (ec) return corrupt(object + " config", "malformed JSON: " + ec.message());
  return parse_image_config(document, object);
}

Result<std::vector<Layer>> ContainerdStore::image_layers(const std::string& id, const ImageConfig& config) const {
  const std::string what = "image sha256:" + id;
  if (!is_hex64(id)) return corrupt(state_->object(what), "invalid image ID");
  if (config.diff_ids.empty()) return std::vector<Layer>();
  auto loaded = state_->namespace_data();
  if (!loaded) return loaded.error();
  const NamespaceData& data = **loaded;
  auto image = state_->find(id);
  if (!image) return image.error();
  auto loaded_records = state_->snapshot_records();
  if (!loaded_records) return loaded_records.error();
  const auto& records = **loaded_records;
  const auto chain = chain_ids(config.diff_ids);
  auto levels = state_->chain_below(data, records, chain.back(), what);
  if (!levels) return levels.error();
  const std::string meta_file = state_->root->absolute(meta_db);
  std::vector<std::string> blob_digests;
  if (image->manifest.layer_digests.size() == chain.size()) blob_digests = std::move(image->manifest.layer_digests);
  std::vector<Layer> result;
  size_t next = 0;
  for (const auto& level : *levels) {
    const SnapshotRecord& record = *level.record;
    const std::string& snap_key = data.snapshots.at(level.meta_key).name;
    if (record.kind != SnapshotKind::committed)
      return corrupt(state_->root->absolute(snapshot_db), "snapshot " + snap_key + " below image sha256:" + id +
                                                              " is not committed");
    auto layer = state_->layer_of(record, snap_key, LayerRole::image);
    if (!layer) return layer.error();
    if (next < chain.size() && level.meta_key == chain[next]) {
      layer->diff_id = config.diff_ids[next];
      layer->chain_id = chain[next];
      if (next < blob_digests.size() && data.blobs.contains(blob_digests[next])) {
        const std::string blob = std::string(blobs_dir) + "/" + blob_digests[next].substr(7);
        if (auto kind = state_->root->kind(blob); kind && *kind == EntryKind::regular) {
          layer->blob = blob;
          layer->blob_digest = blob_digests[next];
        }
      }
      ++next;
    } else if (is_sha256_digest(level.meta_key)) {
      return corrupt(meta_file, "snapshot " + level.meta_key + " in the chain of image sha256:" + id +
                                    " is not the chainID expected there (" +
                                    (next < chain.size() ? chain[next] : std::string("none")) + ")");
    }
    result.push_back(std::move(*layer));
  }
  if (next != chain.size())
    return corrupt(meta_file, "the snapshot chain of image sha256:" + id + " holds " + std::to_string(next) + " of its " +
                                  std::to_string(chain.size()) + " chainIDs");
  return result;
}

Result<std::vector<std::string>> ContainerdStore::container_ids() const {
  auto loaded = state_->namespace_data();
  if (!loaded) return loaded.error();
  const NamespaceData& data = **loaded;
  std::vector<std::string> ids;
  for (const auto& [id, container] : data.containers) ids.push_back(id);
  return ids;
}

Result<Container> ContainerdStore::container(const std::string& id) const {
  const std::string object = state_->object("container " + id);
  if (!is_containerd_identifier(id)) return not_found(object, "no such container");
  auto loaded = state_->namespace_data();
  if (!loaded) return loaded.error();
  const NamespaceData& data = **loaded;
  const auto found = data.containers.find(id);
  if (found == data.containers.end()) return not_found(object, "no such container");
  Container container;
  container.id = id;
  container.name = id;
  container.image_name = found->second.image;
  container.state = "unknown";
  container.created = found->second.created;
  if (!found->second.image.empty()) {
    const auto image = std::find_if(data.images.begin(), data.images.end(),
                                    [&](const ImageRecord& record) { return record.name == found->second.image; });
    if (image != data.images.end()) {
      auto resolved = state_->resolve(data, *image);
      if (!resolved && resolved.error().code != ExitCode::not_found) return resolved.error();
      if (resolved) container.image_id = "sha256:" + resolved->id;
    }
  }
  return container;
}

Result<ContainerLayers> ContainerdStore::container_layers(const std::string& id) const {
  const std::string what = "container " + id;
  const std::string object = state_->object(what);
  auto container = this->container(id);
  if (!container) return container.error();
  if (container->image_id.empty())
    return not_found(object, "its image \"" + container->image_name + "\" is no longer in the namespace");
  auto loaded = state_->namespace_data();
  if (!loaded) return loaded.error();
  const NamespaceData& data = **loaded;
  const ContainerRecord& record = data.containers.at(id);
  if (record.snapshotter != snapshotter)
    return failure(object, "uses snapshotter \"" + record.snapshotter + "\"; only overlayfs is read");
  if (record.snapshot_key.empty()) return failure(object, "has no snapshot (snapshotKey is empty)");
  return snapshot_layers(record.snapshot_key, what, InitSnapshot::none);
}

Result<ContainerLayers> ContainerdStore::snapshot_layers(const std::string& key, const std::string& what,
                                                         InitSnapshot init) const {
  const std::string object = state_->object(what);
  auto loaded = state_->namespace_data();
  if (!loaded) return loaded.error();
  const NamespaceData& data = **loaded;
  auto loaded_records = state_->snapshot_records();
  if (!loaded_records) return loaded_records.error();
  const auto& records = **loaded_records;
  auto levels = state_->chain_below(data, records, key, what);
  if (!levels) return levels.error();
  const auto level_name = [&](size_t from_top) { return data.snapshots.at((*levels)[levels->size() - 1 - from_top].meta_key).name; };
  const auto& top = levels->back();
  if (top.record->kind != SnapshotKind::active)
    return failure(object, "its snapshot " + key + " is not an active (writable) snapshot");
  auto writable = state_->layer_of(*top.record, level_name(0), LayerRole::writable);
  if (!writable) return writable.error();
  ContainerLayers result;
  result.mount_id = writable->cache_id;
  result.writable = std::move(*writable);
  size_t below = 1;
  if (init == InitSnapshot::docker) {
    const std::string init_key = key + "-init";
    if (levels->size() < 2 || (*levels)[levels->size() - 2].meta_key != init_key)
      return corrupt(state_->root->absolute(meta_db), "snapshot " + key + " does not sit on " + init_key);
    const auto& level = (*levels)[levels->size() - 2];
    if (level.record->kind != SnapshotKind::committed)
      return corrupt(state_->root->absolute(snapshot_db), "snapshot " + level_name(1) + " is not committed");
    auto init_layer = state_->layer_of(*level.record, level_name(1), LayerRole::init);
    if (!init_layer) return init_layer.error();
    result.init = std::move(*init_layer);
    below = 2;
  }
  if (levels->size() > below) result.parent_chain_id = (*levels)[levels->size() - 1 - below].meta_key;
  return result;
}

}  // namespace ovlmount
