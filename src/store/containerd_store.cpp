// Why: see containerd_store.hpp. Paths used here (relative to the containerd root):
//   io.containerd.metadata.v1.bolt/meta.db              v1/<ns>/{images,content,snapshots,containers}
//   io.containerd.content.v1.content/blobs/sha256/<hex>  manifests, indexes, configs, layer blobs
//   io.containerd.snapshotter.v1.overlayfs/metadata.db  v1/snapshots/<ns>/<seq>/<key> -> id, kind, parent
//   io.containerd.snapshotter.v1.overlayfs/snapshots/<id>/fs   a layer's files
// A store holds 100,000 images and one command wants one of them, so the store reads by key:
// images/<name>, content/blob/<digest>, snapshots/overlayfs/<chainID> in meta.db and
// v1/snapshots/<key> in the snapshotter's file, all through one open BoltFile per file and
// BoltFile::pinned(), so every lookup of a command reads the same transaction while the file
// stands still. What was read is memoized (records, blob listings, resolved images by name and
// ID), so nothing is read twice; only listings walk whole buckets. Every cross-reference of
// what is used is checked as before: a blob must be listed in the namespace and hash to its
// digest, a snapshot id must be a number, the meta.db chain and the snapshotter's chain must
// agree level by level, and the chain must match the config's chainIDs. Records no command
// touches are checked by the listings that read them. Nothing is ever opened for writing or locked.
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

// Image record `name` of namespace `ns`, whose element in v1/<ns>/images is `entry`.
Result<ImageRecord> parse_image(const BoltFile& f, const std::string& ns, std::string_view name,
                                const std::optional<BoltBucket>& entry) {
  const std::string& db = f.display_name();
  ImageRecord image;
  image.name = std::string(name);
  const std::string where = "v1/" + ns + "/images/" + image.name;
  if (!entry) return corrupt(db, where + " is not a bucket");
  auto target = f.bucket(*entry, "target");
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
  return image;
}

// Snapshot `key` of v1/<ns>/snapshots/overlayfs, whose element there is `entry`.
Result<MetaSnapshot> parse_meta_snapshot(const BoltFile& f, const std::string& ns, std::string_view key,
                                         const std::optional<BoltBucket>& entry) {
  const std::string& db = f.display_name();
  const std::string where = "v1/" + ns + "/snapshots/overlayfs/" + std::string(key);
  if (!entry) return corrupt(db, where + " is not a bucket");
  MetaSnapshot snapshot;
  auto name = string_value(f, *entry, "name");
  if (!name) return name.error();
  if (name->empty()) return corrupt(db, where + " has no name");
  auto parent = string_value(f, *entry, "parent");
  if (!parent) return parent.error();
  snapshot.name = std::move(*name);
  snapshot.parent = std::move(*parent);
  return snapshot;
}

// Snapshot `key` of the snapshotter's v1/snapshots, whose element there is `entry`.
Result<SnapshotRecord> parse_snapshot_record(const BoltFile& f, std::string_view key,
                                             const std::optional<BoltBucket>& entry) {
  const std::string& db = f.display_name();
  const std::string where = "v1/snapshots/" + std::string(key);
  if (!entry) return corrupt(db, where + " is not a bucket");
  SnapshotRecord record;
  auto id = f.get(*entry, "id");
  if (!id) return id.error();
  const auto number = *id ? decode_uvarint(**id) : std::nullopt;
  if (!number) return corrupt(db, where + ": \"id\" is missing or not an unsigned varint");
  record.id = *number;
  auto kind = f.get(*entry, "kind");
  if (!kind) return kind.error();
  if (!*kind || (*kind)->size() != 1 || (**kind)[0] < 1 || (**kind)[0] > 3)
    return corrupt(db, where + ": \"kind\" is not 1 (View), 2 (Active) or 3 (Committed)");
  record.kind = static_cast<SnapshotKind>((**kind)[0]);
  auto parent = string_value(f, *entry, "parent");
  if (!parent) return parent.error();
  record.parent = std::move(*parent);
  auto size = f.get(*entry, "size");
  if (!size) return size.error();
  if (*size) {
    const auto decoded = decode_varint(**size);
    if (decoded && *decoded >= 0) record.size = *decoded;
  }
  return record;
}

// The containers of v1/<ns>/containers (`containers`, when the bucket exists), by ID.
Result<std::map<std::string, ContainerRecord>> read_containers(const BoltFile& f, const std::string& ns,
                                                               const std::optional<BoltBucket>& containers) {
  const std::string& db = f.display_name();
  std::map<std::string, ContainerRecord> result;
  if (!containers) return result;
  auto walked = f.for_each(*containers, [&](const BoltItem& item) -> Result<void> {
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
    result.emplace(id, std::move(container));
    return {};
  });
  if (!walked) return walked.error();
  return result;
}

// The buckets of one bolt file a store keeps going back to, found once per transaction.
class BucketCache {
 public:
  // The bucket at `path` (as BoltFile::bucket) in f's current transaction.
  Result<std::optional<BoltBucket>> at(const BoltFile& f, const std::vector<std::string_view>& path) {
    if (txid_ != f.txid()) {
      buckets_.clear();
      txid_ = f.txid();
    }
    std::string joined;
    for (const std::string_view name : path) joined.append(name).push_back('/');
    if (const auto found = buckets_.find(joined); found != buckets_.end()) return found->second;
    auto bucket = f.bucket(path);
    if (!bucket) return bucket.error();
    buckets_.emplace(joined, *bucket);
    return std::move(*bucket);
  }

 private:
  std::uint64_t txid_ = 0;
  std::map<std::string, std::optional<BoltBucket>> buckets_;
};

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

  // Both bolt files, opened once: every lookup of a command reads one transaction of each
  // (BoltFile::pinned), and each record, blob listing and resolution is memoized here, so a
  // command asks each file for each key at most once and resolving one image reads only the
  // keys and blobs of that image.
  mutable std::optional<BoltFile> meta_file;
  mutable std::optional<BoltFile> snap_file;
  mutable BucketCache meta_buckets;
  mutable BucketCache snap_buckets;

  mutable std::map<std::string, std::optional<ImageRecord>, std::less<>> image_records;  // nullopt: no such name
  mutable std::optional<std::vector<const ImageRecord*>> all_images;                    // name order
  mutable std::optional<std::vector<std::string>> all_names;                             // name order
  mutable std::map<std::string, bool, std::less<>> blob_listed;
  mutable bool all_blobs_listed = false;  // blob_listed holds every blob of the namespace
  mutable std::map<std::string, std::optional<MetaSnapshot>, std::less<>> meta_snapshots;
  mutable std::map<std::string, std::optional<SnapshotRecord>, std::less<>> snapshot_records;
  mutable std::optional<std::map<std::string, ContainerRecord>> containers_cache;

  // The outcome of resolving each image name, and the first name that resolved to each ID.
  struct Outcome {
    std::optional<ResolvedImage> image;
    std::optional<Error> error;
  };
  mutable std::map<std::string, Outcome, std::less<>> resolved_by_name;
  mutable std::map<std::string, std::string, std::less<>> name_by_id;
  mutable std::optional<std::vector<ResolvedImage>> resolved_cache;
  mutable std::vector<UnidentifiedImage> unidentified;  // filled with resolved_cache
  mutable std::map<std::string, ImageConfig, std::less<>> configs;  // by image ID

  std::string object(const std::string& what) const { return "containerd/" + ns + " " + what; }

  Result<BoltFile*> meta() const {
    if (!meta_file) {
      auto file = open_bolt(*root, meta_db);
      if (!file) return file.error();
      if (auto whole = file->check_length(); !whole) return whole.error();
      meta_file.emplace(std::move(*file));
    }
    return &*meta_file;
  }

  Result<BoltFile*> snapshotter_db() const {
    if (!snap_file) {
      auto file = open_bolt(*root, snapshot_db);
      if (!file) return file.error();
      if (auto whole = file->check_length(); !whole) return whole.error();
      snap_file.emplace(std::move(*file));
    }
    return &*snap_file;
  }

  // v1/<ns>/<path...> of meta.db in f's transaction.
  Result<std::optional<BoltBucket>> ns_bucket(const BoltFile& f, std::vector<std::string_view> path) const {
    path.insert(path.begin(), {"v1", ns});
    return meta_buckets.at(f, path);
  }

  // Whether the namespace bucket is there (open() checks it).
  Result<bool> namespace_exists() const {
    auto file = meta();
    if (!file) return file.error();
    return (*file)->pinned([&](const BoltFile& f) -> Result<bool> {
      auto top = ns_bucket(f, {});
      if (!top) return top.error();
      return top->has_value();
    });
  }

  // Image record `name`; nullptr when the namespace has no image of that name.
  Result<const ImageRecord*> image_record(const std::string& name) const {
    if (const auto found = image_records.find(name); found != image_records.end())
      return found->second ? &*found->second : nullptr;
    if (all_images) return nullptr;
    auto file = meta();
    if (!file) return file.error();
    auto record = (*file)->pinned([&](const BoltFile& f) -> Result<std::optional<ImageRecord>> {
      auto images = ns_bucket(f, {"images"});
      if (!images) return images.error();
      if (!*images) return std::nullopt;
      auto entry = f.entry(**images, name);
      if (!entry) return entry.error();
      if (!*entry) return std::nullopt;
      auto image = parse_image(f, ns, name, (*entry)->bucket);
      if (!image) return image.error();
      return std::move(*image);
    });
    if (!record) return record.error();
    auto& slot = image_records[name];
    slot = std::move(*record);
    return slot ? &*slot : nullptr;
  }

  // Every image record of the namespace, in name order (listings).
  Result<const std::vector<const ImageRecord*>*> images() const {
    if (all_images) return &*all_images;
    auto file = meta();
    if (!file) return file.error();
    auto names = (*file)->pinned([&](const BoltFile& f) -> Result<std::vector<std::string>> {
      std::vector<std::string> listed;
      auto images = ns_bucket(f, {"images"});
      if (!images) return images.error();
      if (!*images) return listed;
      auto walked = f.for_each(**images, [&](const BoltItem& item) -> Result<void> {
        listed.emplace_back(item.key);
        if (const auto known = image_records.find(item.key); known != image_records.end() && known->second) return {};
        auto image = parse_image(f, ns, item.key, item.bucket);
        if (!image) return image.error();
        image_records[std::string(item.key)] = std::move(*image);
        return {};
      });
      if (!walked) return walked.error();
      return listed;
    });
    if (!names) return names.error();
    std::vector<const ImageRecord*> records;
    for (const std::string& name : *names) records.push_back(&*image_records.at(name));
    all_images = std::move(records);
    return &*all_images;
  }

  // The image names of the namespace in order, without reading their records.
  Result<const std::vector<std::string>*> image_names() const {
    if (all_names) return &*all_names;
    auto file = meta();
    if (!file) return file.error();
    auto names = (*file)->pinned([&](const BoltFile& f) -> Result<std::vector<std::string>> {
      std::vector<std::string> listed;
      auto images = ns_bucket(f, {"images"});
      if (!images) return images.error();
      if (!*images) return listed;
      auto walked = f.for_each(**images, [&](const BoltItem& item) -> Result<void> {
        listed.emplace_back(item.key);
        return {};
      });
      if (!walked) return walked.error();
      return listed;
    });
    if (!names) return names.error();
    all_names = std::move(*names);
    return &*all_names;
  }

  // Whether blob `digest` is listed in the namespace's content (v1/<ns>/content/blob).
  Result<bool> has_blob(const std::string& digest) const {
    if (const auto found = blob_listed.find(digest); found != blob_listed.end()) return found->second;
    if (all_blobs_listed) return false;
    auto prefetched = prefetch_blobs({digest});
    if (!prefetched) return prefetched.error();
    return blob_listed.at(digest);
  }

  // Looks up the blobs `digests` not looked up yet, in one pinned reading.
  Result<void> prefetch_blobs(const std::vector<std::string>& digests) const {
    std::vector<std::string> wanted;
    for (const std::string& digest : digests)
      if (!all_blobs_listed && !blob_listed.contains(digest)) wanted.push_back(digest);
    if (wanted.empty()) return {};
    auto file = meta();
    if (!file) return file.error();
    auto listed = (*file)->pinned([&](const BoltFile& f) -> Result<std::vector<bool>> {
      std::vector<bool> found(wanted.size(), false);
      auto blobs = ns_bucket(f, {"content", "blob"});
      if (!blobs) return blobs.error();
      if (!*blobs) return found;
      for (size_t i = 0; i < wanted.size(); ++i) {
        auto entry = f.entry(**blobs, wanted[i]);
        if (!entry) return entry.error();
        found[i] = entry->has_value();
      }
      return found;
    });
    if (!listed) return listed.error();
    for (size_t i = 0; i < wanted.size(); ++i) blob_listed[wanted[i]] = (*listed)[i];
    return {};
  }

  // Every blob of the namespace's content, in one walk (listings that resolve every image).
  Result<void> list_all_blobs() const {
    if (all_blobs_listed) return {};
    auto file = meta();
    if (!file) return file.error();
    auto listed = (*file)->pinned([&](const BoltFile& f) -> Result<std::vector<std::string>> {
      std::vector<std::string> keys;
      auto blobs = ns_bucket(f, {"content", "blob"});
      if (!blobs) return blobs.error();
      if (!*blobs) return keys;
      auto walked = f.for_each(**blobs, [&](const BoltItem& item) -> Result<void> {
        keys.emplace_back(item.key);
        return {};
      });
      if (!walked) return walked.error();
      return keys;
    });
    if (!listed) return listed.error();
    for (auto& [digest, present] : blob_listed) present = false;
    for (std::string& key : *listed) blob_listed[std::move(key)] = true;
    all_blobs_listed = true;
    return {};
  }

  // meta.db's snapshot `key` (v1/<ns>/snapshots/overlayfs/<key>); nullptr when absent. Only
  // after prefetch_meta_chain() for a chain holding `key`, or a lookup of its own.
  Result<const MetaSnapshot*> meta_snapshot(const std::string& key) const {
    if (const auto found = meta_snapshots.find(key); found == meta_snapshots.end()) {
      if (auto prefetched = prefetch_meta_chain(key, 1); !prefetched) return prefetched.error();
    }
    const auto& slot = meta_snapshots.at(key);
    return slot ? &*slot : nullptr;
  }

  // Reads meta.db's snapshots from `key` down its parents (up to `levels` of them, stopping
  // at a missing one, a base or a loop), in one pinned reading.
  Result<void> prefetch_meta_chain(const std::string& key, size_t levels) const {
    auto file = meta();
    if (!file) return file.error();
    return prefetch_chain(
        **file, meta_snapshots, key, levels, [&](const BoltFile& f) { return ns_bucket(f, {"snapshots", snapshotter}); },
        [&](const BoltFile& f, const std::string& name, const auto& bucket) {
          return parse_meta_snapshot(f, ns, name, bucket);
        });
  }

  // The snapshotter's record `key` (v1/snapshots/<key>); nullptr when absent.
  Result<const SnapshotRecord*> snapshot_record(const std::string& key) const {
    if (const auto found = snapshot_records.find(key); found == snapshot_records.end()) {
      if (auto prefetched = prefetch_snapshot_chain(key, 1); !prefetched) return prefetched.error();
    }
    const auto& slot = snapshot_records.at(key);
    return slot ? &*slot : nullptr;
  }

  // As prefetch_meta_chain, in the snapshotter's metadata.db.
  Result<void> prefetch_snapshot_chain(const std::string& key, size_t levels) const {
    auto file = snapshotter_db();
    if (!file) return file.error();
    return prefetch_chain(
        **file, snapshot_records, key, levels, [&](const BoltFile& f) { return snap_buckets.at(f, {"v1", "snapshots"}); },
        [&](const BoltFile& f, const std::string& name, const auto& bucket) {
          return parse_snapshot_record(f, name, bucket);
        });
  }

  // Reads the records of `file` from `key` down their parents into `cache` (up to `levels`,
  // stopping at a missing one, a base or a loop) in one pinned reading: `records` finds the
  // bucket that holds them, `parse` reads one.
  template <typename Record, typename Records, typename Parse>
  static Result<void> prefetch_chain(BoltFile& file, std::map<std::string, std::optional<Record>, std::less<>>& cache,
                                     const std::string& key, size_t levels, Records records, Parse parse) {
    return file.pinned([&](const BoltFile& f) -> Result<void> {
      auto bucket = records(f);
      if (!bucket) return bucket.error();
      std::string next = key;
      std::set<std::string> seen;
      for (size_t level = 0; level < levels && !next.empty() && seen.insert(next).second; ++level) {
        auto known = cache.find(next);
        if (known == cache.end()) {
          std::optional<Record> record;
          if (*bucket) {
            auto entry = f.entry(**bucket, next);
            if (!entry) return entry.error();
            if (*entry) {
              auto parsed = parse(f, next, (*entry)->bucket);
              if (!parsed) return parsed.error();
              record = std::move(*parsed);
            }
          }
          known = cache.emplace(next, std::move(record)).first;
        }
        if (!known->second) break;
        next = known->second->parent;
      }
      return {};
    });
  }

  // The namespace's containers (v1/<ns>/containers), read once.
  Result<const std::map<std::string, ContainerRecord>*> containers() const {
    if (!containers_cache) {
      auto file = meta();
      if (!file) return file.error();
      auto read = (*file)->pinned([&](const BoltFile& f) -> Result<std::map<std::string, ContainerRecord>> {
        auto bucket = ns_bucket(f, {"containers"});
        if (!bucket) return bucket.error();
        return read_containers(f, ns, *bucket);
      });
      if (!read) return read.error();
      containers_cache = std::move(*read);
    }
    return &*containers_cache;
  }

  // Every image whose manifest can be found, in name order. With ImageIdentity::target an image
  // whose manifest is missing or corrupt is kept (its ID needs no manifest) with its problem, so
  // listings can show it; with ImageIdentity::config one whose content is missing goes to
  // `unidentified`.
  Result<const std::vector<ResolvedImage>*> resolved_images() const {
    if (resolved_cache) return &*resolved_cache;
    auto records = images();
    if (!records) return records.error();
    if (auto listed = list_all_blobs(); !listed) return listed.error();
    std::vector<ResolvedImage> resolved;
    for (const ImageRecord* image : **records) {
      auto resolved_image = resolve(*image);
      if (!resolved_image) {
        if (options.identity == ImageIdentity::target && is_sha256_digest(image->digest)) {
          resolved.push_back({image, {}, image->digest.substr(7), resolved_image.error()});
          continue;
        }
        if (resolved_image.error().code != ExitCode::not_found) return resolved_image.error();
        std::vector<std::string> names;
        if (!image->name.starts_with(dangling_prefix)) names.push_back(image->name);
        unidentified.push_back({std::move(names), resolved_image.error()});
        continue;
      }
      resolved.push_back(**resolved_image);
    }
    resolved_cache = std::move(resolved);
    return &*resolved_cache;
  }

  // The verified bytes of blob `digest` of this namespace, `size` bytes when size >= 0.
  Result<std::string> read_blob(const std::string& digest, std::int64_t size, const std::string& what) const {
    if (!is_sha256_digest(digest)) return corrupt(object(what), "digest \"" + digest + "\" is not sha256:<64 hex>");
    auto listed = has_blob(digest);
    if (!listed) return listed.error();
    if (!*listed)
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
  Result<Manifest> manifest_of(const ImageRecord& image) const {
    Descriptor current{image.digest, image.media_type, image.size};
    const Platform& wanted = options.platform;
    for (int depth = 0; depth <= max_index_depth; ++depth) {
      const std::string what = "image " + image.name;
      auto bytes = read_blob(current.digest, current.size, what);
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
        auto listed = has_blob(descriptor->digest);
        if (!listed) return listed.error();
        if (!*listed) continue;
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

  // Image record `image` resolved to its manifest and ID, once per name.
  Result<const ResolvedImage*> resolve(const ImageRecord& image) const {
    auto known = resolved_by_name.find(image.name);
    if (known == resolved_by_name.end()) {
      Outcome outcome;
      auto manifest = manifest_of(image);
      if (manifest) {
        ResolvedImage resolved{&image, std::move(*manifest), {}, {}};
        resolved.id = id_of(image, resolved.manifest);
        name_by_id.emplace(resolved.id, image.name);
        outcome.image = std::move(resolved);
      } else {
        outcome.error = manifest.error();
      }
      known = resolved_by_name.emplace(image.name, std::move(outcome)).first;
    }
    if (known->second.error) return *known->second.error;
    return &*known->second.image;
  }

  // The image with ID `id`: the one a name resolved to in this process, else the first in
  // name order (as a listing would find it); nullopt when none, its problem when its manifest
  // could not be read. With ImageIdentity::target only the images whose target is `id` are
  // resolved; with ImageIdentity::config the scan stops at the first match, and an ID whose
  // config blob the namespace does not list names no image.
  Result<std::optional<ResolvedImage>> find(const std::string& id) const {
    if (const auto named = name_by_id.find(id); named != name_by_id.end())
      return *resolved_by_name.at(named->second).image;
    if (resolved_cache) {
      for (const ResolvedImage& image : *resolved_cache) {
        if (image.id != id) continue;
        if (image.problem) return *image.problem;
        return image;
      }
      return std::nullopt;
    }
    const std::string digest = "sha256:" + id;
    if (options.identity == ImageIdentity::config) {
      auto listed = has_blob(digest);
      if (!listed) return listed.error();
      if (!*listed) return std::nullopt;
    }
    if (options.identity == ImageIdentity::config) return first_with_config(id);
    auto records = images();
    if (!records) return records.error();
    for (const ImageRecord* image : **records) {
      if (image->digest != digest) continue;
      auto resolved = resolve(*image);
      if (!resolved) {
        if (resolved.error().code == ExitCode::not_found) continue;
        return resolved.error();
      }
      if ((*resolved)->id == id) return **resolved;
    }
    return std::nullopt;
  }

  // find() with ImageIdentity::config: resolves the images in name order, reading each record
  // only when reached, up to the first whose config is `id`.
  Result<std::optional<ResolvedImage>> first_with_config(const std::string& id) const {
    auto names = image_names();
    if (!names) return names.error();
    for (const std::string& name : **names) {
      auto image = image_record(name);
      if (!image) return image.error();
      if (!*image) continue;
      auto resolved = resolve(**image);
      if (!resolved) {
        if (resolved.error().code == ExitCode::not_found) continue;
        return resolved.error();
      }
      if ((*resolved)->id == id) return **resolved;
    }
    return std::nullopt;
  }

  // find(), with none as not_found.
  Result<ResolvedImage> image(const std::string& id) const {
    auto found = find(id);
    if (!found) return found.error();
    if (!*found) return not_found(object("image sha256:" + id), "no such image");
    return std::move(**found);
  }

  // Whether an image has ID `id`; with ImageIdentity::target, also one whose manifest is
  // unreadable (its ID needs none), as listings show it.
  Result<bool> has(const std::string& id) const {
    if (name_by_id.contains(id)) return true;
    if (options.identity == ImageIdentity::target) {
      if (resolved_cache)
        return std::any_of(resolved_cache->begin(), resolved_cache->end(),
                           [&](const ResolvedImage& image) { return image.id == id; });
      auto records = images();
      if (!records) return records.error();
      for (const ImageRecord* image : **records) {
        if (image->digest != "sha256:" + id) continue;
        auto resolved = resolve(*image);
        if (resolved || resolved.error().code != ExitCode::not_found) return true;
      }
      return false;
    }
    auto found = find(id);
    if (!found) return found.error();
    return found->has_value();
  }

  // The meta.db chain below snapshot `key` and the snapshotter's, level by level, base first.
  struct ChainLevel {
    std::string meta_key;
    const MetaSnapshot* meta = nullptr;
    const SnapshotRecord* record = nullptr;
  };
  Result<std::vector<ChainLevel>> chain_below(const std::string& key, const std::string& what) const {
    const std::string meta_file_name = root->absolute(meta_db);
    const std::string snap_file_name = root->absolute(snapshot_db);
    if (auto prefetched = prefetch_meta_chain(key, max_chain_depth + 1); !prefetched) return prefetched.error();
    auto first = meta_snapshot(key);
    if (!first) return first.error();
    if (!*first)
      return not_found(object(what), "snapshot " + key + " is not in v1/" + ns + "/snapshots/overlayfs of " +
                                         meta_file_name + " (image not unpacked in this namespace?)");
    if (auto prefetched = prefetch_snapshot_chain((*first)->name, max_chain_depth + 1); !prefetched)
      return prefetched.error();
    std::vector<ChainLevel> chain;
    std::set<std::string> visited;
    std::string meta_key = key;
    std::string snap_key = (*first)->name;
    while (true) {
      if (!visited.insert(snap_key).second) return corrupt(snap_file_name, "parent loop through snapshot " + snap_key);
      if (chain.size() == max_chain_depth)
        return corrupt(snap_file_name,
                       "snapshot chain below " + key + " is deeper than " + std::to_string(max_chain_depth));
      auto meta = meta_snapshot(meta_key);
      if (!meta) return meta.error();
      if (!*meta)
        return corrupt(meta_file_name, "snapshot " + meta_key + " (a parent below " + key + ") is not in v1/" + ns +
                                           "/snapshots/overlayfs");
      if ((*meta)->name != snap_key)
        return corrupt(meta_file_name, "snapshot " + meta_key + " is named " + (*meta)->name +
                                           ", but the snapshotter's chain has " + snap_key + " there");
      auto record = snapshot_record(snap_key);
      if (!record) return record.error();
      if (!*record) return corrupt(snap_file_name, "snapshot " + snap_key + " is not in v1/snapshots");
      chain.push_back({meta_key, *meta, *record});
      const std::string& snap_parent = (*record)->parent;
      const std::string& meta_parent = (*meta)->parent;
      if (snap_parent.empty() != meta_parent.empty())
        return corrupt(snap_file_name, "snapshot " + snap_key + " has " + (snap_parent.empty() ? "no parent" : "a parent") +
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
  auto kind = root.kind(meta_db);
  if (!kind) return kind.error();
  if (*kind == EntryKind::missing)
    return not_found(root.path(), "no such containerd metadata database (" + std::string(meta_db) + ")");
  auto state = std::make_unique<State>();
  state->root = &root;
  state->ns = ns;
  state->options = std::move(options);
  auto exists = is_containerd_identifier(ns) ? state->namespace_exists() : Result<bool>(false);
  if (!exists) return exists.error();
  if (!*exists) return not_found("containerd namespace " + ns, "no such namespace in " + root.absolute(meta_db));
  return ContainerdStore(std::move(state));
}

const RootDir& ContainerdStore::root() const { return *state_->root; }

Result<std::optional<std::string>> ContainerdStore::lookup_name(const ImageRef& ref) const {
  const std::string repository = ref.domain + "/" + ref.path;
  const std::string exact =
      ref.digest.empty() ? repository + ":" + (ref.tag.empty() ? "latest" : ref.tag) : repository + "@" + ref.digest;
  auto found = state_->image_record(exact);
  if (!found) return found.error();
  if (!*found && !ref.digest.empty()) {
    auto records = state_->images();
    if (!records) return records.error();
    for (const ImageRecord* image : **records) {
      const auto cut = image->name.find_first_of("@");
      const std::string name_repository =
          cut != std::string::npos ? image->name.substr(0, cut)
                                   : image->name.substr(0, image->name.rfind(':') > image->name.rfind('/')
                                                               ? image->name.rfind(':')
                                                               : image->name.size());
      if (image->digest == ref.digest && name_repository == repository) {
        *found = image;
        break;
      }
    }
  }
  if (!*found) return std::optional<std::string>();
  auto resolved = state_->resolve(**found);
  if (!resolved) return resolved.error();
  return std::optional<std::string>((*resolved)->id);
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

Result<std::vector<UnidentifiedImage>> ContainerdStore::unidentified_images() const {
  auto resolved = state_->resolved_images();
  if (!resolved) return resolved.error();
  return state_->unidentified;
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
  return state_->has(id);
}

Result<ImageConfig> ContainerdStore::image_config(const std::string& id) const {
  const std::string object = state_->object("image sha256:" + id);
  if (!is_hex64(id)) return corrupt(object, "invalid image ID");
  if (const auto known = state_->configs.find(id); known != state_->configs.end()) return known->second;
  auto image = state_->image(id);
  if (!image) return image.error();
  const std::string& digest = image->manifest.config_digest;
  auto config = state_->read_blob(digest, -1, "image sha256:" + id + " config");
  if (!config) return config.error();

  boost::system::error_code ec;
  json::value document = parse_untrusted_json(*config, ec);
  if (ec) return corrupt(object + " config", "malformed JSON: " + ec.message());
  auto parsed = parse_image_config(document, object);
  if (!parsed) return parsed.error();
  state_->configs.emplace(id, *parsed);
  return parsed;
}

Result<std::vector<Layer>> ContainerdStore::image_layers(const std::string& id, const ImageConfig& config) const {
  const std::string what = "image sha256:" + id;
  if (!is_hex64(id)) return corrupt(state_->object(what), "invalid image ID");
  if (config.diff_ids.empty()) return std::vector<Layer>();
  auto image = state_->image(id);
  if (!image) return image.error();
  const auto chain = chain_ids(config.diff_ids);
  auto levels = state_->chain_below(chain.back(), what);
  if (!levels) return levels.error();
  const std::string meta_file = state_->root->absolute(meta_db);
  std::vector<std::string> blob_digests;
  if (image->manifest.layer_digests.size() == chain.size()) blob_digests = std::move(image->manifest.layer_digests);
  if (auto prefetched = state_->prefetch_blobs(blob_digests); !prefetched) return prefetched.error();
  std::vector<Layer> result;
  size_t next = 0;
  for (const auto& level : *levels) {
    const SnapshotRecord& record = *level.record;
    const std::string& snap_key = level.meta->name;
    if (record.kind != SnapshotKind::committed)
      return corrupt(state_->root->absolute(snapshot_db), "snapshot " + snap_key + " below image sha256:" + id +
                                                              " is not committed");
    auto layer = state_->layer_of(record, snap_key, LayerRole::image);
    if (!layer) return layer.error();
    if (next < chain.size() && level.meta_key == chain[next]) {
      layer->diff_id = config.diff_ids[next];
      layer->chain_id = chain[next];
      if (next < blob_digests.size()) {
        auto listed = state_->has_blob(blob_digests[next]);
        if (!listed) return listed.error();
        const std::string blob = std::string(blobs_dir) + "/" + blob_digests[next].substr(7);
        if (auto kind = *listed ? state_->root->kind(blob) : Result<EntryKind>(EntryKind::missing);
            kind && *kind == EntryKind::regular) {
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
  auto containers = state_->containers();
  if (!containers) return containers.error();
  std::vector<std::string> ids;
  for (const auto& [id, container] : **containers) ids.push_back(id);
  return ids;
}

Result<Container> ContainerdStore::container(const std::string& id) const {
  const std::string object = state_->object("container " + id);
  if (!is_containerd_identifier(id)) return not_found(object, "no such container");
  auto containers = state_->containers();
  if (!containers) return containers.error();
  const auto found = (*containers)->find(id);
  if (found == (*containers)->end()) return not_found(object, "no such container");
  Container container;
  container.id = id;
  container.name = id;
  container.image_name = found->second.image;
  container.state = "unknown";
  container.created = found->second.created;
  if (!found->second.image.empty()) {
    auto image = state_->image_record(found->second.image);
    if (!image) return image.error();
    if (*image) {
      auto resolved = state_->resolve(**image);
      if (!resolved && resolved.error().code != ExitCode::not_found) return resolved.error();
      if (resolved) container.image_id = "sha256:" + (*resolved)->id;
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
  auto containers = state_->containers();
  if (!containers) return containers.error();
  const ContainerRecord& record = (*containers)->at(id);
  if (record.snapshotter != snapshotter)
    return failure(object, "uses snapshotter \"" + record.snapshotter + "\"; only overlayfs is read");
  if (record.snapshot_key.empty()) return failure(object, "has no snapshot (snapshotKey is empty)");
  return snapshot_layers(record.snapshot_key, what, InitSnapshot::none);
}

Result<ContainerLayers> ContainerdStore::snapshot_layers(const std::string& key, const std::string& what,
                                                         InitSnapshot init) const {
  const std::string object = state_->object(what);
  auto levels = state_->chain_below(key, what);
  if (!levels) return levels.error();
  const auto level_name = [&](size_t from_top) { return (*levels)[levels->size() - 1 - from_top].meta->name; };
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
