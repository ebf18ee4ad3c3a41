// Why: unit tests drive the store, resolver and commands without a real data root or
// kernel: an in-memory RootDir, a Mounter that records calls, and a settable mount table.
#pragma once

#include "fake_root_dir.hpp"
#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/root_dir.hpp"
#include "ovlmount/mount/mount_table.hpp"
#include "ovlmount/mount/mounter.hpp"
#include "ovlmount/store/docker_store.hpp"
#include "ovlmount/store/stores.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ovlmount::test {

// Builds a Docker overlay2 store in a FakeRootDir, the way dockerd lays it out.
class FakeDockerStore {
 public:
  FakeRootDir root;

  FakeDockerStore() { root.add_dir("image/overlay2/imagedb/content/sha256"); }

  // Adds an image whose layers have the given diff IDs (bottom first) and returns its ID
  // (64 hex). Layer directories and layerdb entries are created for each layer.
  std::string add_image(const std::vector<std::string>& diff_ids, const std::string& extra = "") {
    std::string config = R"({"architecture":"amd64",)" + extra + R"("rootfs":{"type":"layers","diff_ids":[)";
    for (size_t i = 0; i < diff_ids.size(); ++i) config += (i ? ",\"" : "\"") + diff_ids[i] + "\"";
    config += "]}}";
    const std::string id = sha256_hex(config);
    root.add_file("image/overlay2/imagedb/content/sha256/" + id, config);
    const auto chain = chain_ids(diff_ids);
    for (size_t i = 0; i < chain.size(); ++i) {
      const std::string layer = "image/overlay2/layerdb/sha256/" + chain[i].substr(7);
      const std::string cache_id = sha256_hex("cache" + chain[i]);
      root.add_file(layer + "/diff", diff_ids[i]);
      root.add_file(layer + "/cache-id", cache_id);
      root.add_file(layer + "/size", "0");
      if (i) root.add_file(layer + "/parent", chain[i - 1]);
      root.add_dir("overlay2/" + cache_id + "/diff");
    }
    if (!chain.empty()) top_chains_[id] = chain.back();
    return id;
  }

  // Adds a stopped container of image `image_id` (64 hex) named `name` with its own layers
  // and the given MountPoints JSON; returns its ID (64 hex).
  std::string add_container(const std::string& name, const std::string& image_id,
                            const std::string& mount_points = "{}") {
    const std::string id = sha256_hex("container " + name);
    const std::string mount_id = sha256_hex("mount " + name);
    root.add_file("containers/" + id + "/config.v2.json",
                  R"({"ID":")" + id + R"(","Name":"/)" + name + R"(","Image":"sha256:)" + image_id +
                      R"(","Created":"2026-01-02T03:04:05Z","Driver":"overlay2","Config":{"Image":"app"},)"
                      R"("State":{"Running":false,"StartedAt":"2026-01-02T03:04:06Z"},"MountPoints":)" +
                      mount_points + "}");
    const std::string layers = "image/overlay2/layerdb/mounts/" + id;
    root.add_file(layers + "/mount-id", mount_id);
    root.add_file(layers + "/init-id", mount_id + "-init");
    root.add_file(layers + "/parent", top_chain_id(image_id));
    root.add_dir("overlay2/" + mount_id + "/diff");
    root.add_dir("overlay2/" + mount_id + "-init/diff");
    return id;
  }

  // The top chainID of image `image_id` as add_image made it.
  std::string top_chain_id(const std::string& image_id) const { return top_chains_.at(image_id); }

  // Writes repositories.json with `entries` as {familiar name: {key: "sha256:<id>"}}.
  void set_repositories(const std::map<std::string, std::map<std::string, std::string>>& entries) {
    std::string json = R"({"Repositories":{)";
    bool first_name = true;
    for (const auto& [name, refs] : entries) {
      json += (first_name ? "\"" : ",\"") + name + "\":{";
      first_name = false;
      bool first_ref = true;
      for (const auto& [key, id] : refs) {
        json += (first_ref ? "\"" : ",\"") + key + "\":\"sha256:" + id + "\"";
        first_ref = false;
      }
      json += "}";
    }
    root.add_file("image/overlay2/repositories.json", json + "}}");
  }

 private:
  std::map<std::string, std::string> top_chains_;
};

// A DockerStore over `fake`'s root (it refers to `fake`, which must outlive it); the test stops
// (BOOST_TEST_REQUIRE) if the store does not open.
inline DockerStore open_fake_store(const FakeDockerStore& fake) {
  auto store = DockerStore::open(fake.root);
  BOOST_TEST_REQUIRE(store.has_value());
  return std::move(*store);
}

// Stores holding one store, "docker", over `fake`'s root (which must outlive it).
inline Stores fake_stores(const FakeDockerStore& fake) {
  Stores stores;
  stores.add("docker", fake.root, std::make_unique<DockerStore>(open_fake_store(fake)));
  return stores;
}

// The layer diff ID "sha256:" + sha256(`seed`).
inline std::string diff_id(const std::string& seed) { return "sha256:" + sha256_hex(seed); }

// A Mounter that records what it was asked and answers as told.
class FakeMounter final : public Mounter {
 public:
  std::vector<MountPlan> mounted;
  std::vector<std::string> unmounted;
  std::optional<Error> fail_with;

  std::vector<MountId> unmounted_ids;

  // Each mount gets the next ID, from 1000 on.
  Result<MountId> mount(const MountPlan& plan, const RootDir&) override {
    if (fail_with) return *fail_with;
    mounted.push_back(plan);
    return MountId{999 + mounted.size()};
  }
  Result<void> unmount(const std::string& target, bool, MountId expected) override {
    if (fail_with) return *fail_with;
    unmounted.push_back(target);
    unmounted_ids.push_back(expected);
    return {};
  }
  std::vector<std::string> bound;
  Result<void> bind(const MountPlan&, const BindPlan& bind, const RootDir&) override {
    if (fail_with) return *fail_with;
    bound.push_back(bind.target);
    return {};
  }
};

// A mount table whose entries the test sets.
class FakeMountTable final : public MountTable {
 public:
  std::vector<MountEntry> entries;
  Result<std::vector<MountEntry>> read() const override { return entries; }
  PathMount mount_at(const std::string& path) const override {
    PathMount result;
    result.known = true;
    for (const MountEntry& entry : entries)
      if (entry.target == path) {
        result.is_root = true;
        result.id = entry.id;
        result.overlay = entry.fstype == "overlay";
      }
    return result;
  }
  void add_ovlmount(const std::string& target, std::uint64_t id = 0) {
    entries.push_back({id, target, "overlay", "ovlmount", "ro"});
  }
};


// ---- containers-storage (tests/unit/containers_storage_test.cpp) --------------------------

}  // namespace ovlmount::test

#include "ovlmount/store/containers_storage.hpp"

#include <algorithm>
#include <stdexcept>

namespace ovlmount::test {

// Builds an overlay containers-storage graph root in a FakeRootDir, the way podman lays it
// out. The catalogues are plain members; change them and call write() to corrupt a store.
class FakeContainersStorage {
 public:
  struct ImageEntry {
    std::string id, top_layer, digest;
    std::vector<std::string> names;
  };
  struct LayerEntry {
    std::string id, parent, diff_digest;
  };
  struct ContainerEntry {
    std::string id, name, image, layer;
  };

  FakeRootDir root{"/fake/graphroot"};
  std::vector<ImageEntry> images;
  std::vector<LayerEntry> layers;
  std::vector<ContainerEntry> containers;

  FakeContainersStorage() { write(); }

  // Adds an image with the given layer diff IDs (bottom first) and names; returns its ID (64
  // hex). Layer IDs are podman's: the base's diff hex, above it sha256(parent + "+" + diff).
  std::string add_image(const std::vector<std::string>& diff_ids, const std::vector<std::string>& names = {}) {
    std::string config = R"({"architecture":"amd64","created":"2026-01-02T03:04:05Z","rootfs":{"type":"layers","diff_ids":[)";
    for (size_t i = 0; i < diff_ids.size(); ++i) config += (i ? ",\"" : "\"") + diff_ids[i] + "\"";
    config += "]}}";
    const std::string id = sha256_hex(config);
    root.add_file("overlay-images/" + id + "/" + big_data_file_name("sha256:" + id), config);
    std::string parent;
    for (const std::string& diff : diff_ids) {
      const std::string layer = parent.empty() ? diff.substr(7) : sha256_hex(parent + "+" + diff);
      if (std::none_of(layers.begin(), layers.end(), [&](const LayerEntry& e) { return e.id == layer; })) {
        layers.push_back({layer, parent, diff});
        root.add_dir("overlay/" + layer + "/diff");
      }
      parent = layer;
    }
    images.push_back({id, parent, "sha256:" + sha256_hex("manifest " + id), names});
    write();
    return id;
  }

  // Adds a container of image `image_id` named `name` with its writable layer on the image's
  // top layer; returns its ID (64 hex).
  std::string add_container(const std::string& name, const std::string& image_id) {
    const std::string id = sha256_hex("container " + name);
    const std::string layer = sha256_hex("layer " + name);
    layers.push_back({layer, image(image_id).top_layer, ""});
    root.add_dir("overlay/" + layer + "/diff");
    containers.push_back({id, name, image_id, layer});
    write();
    return id;
  }

  ImageEntry& image(const std::string& id) {
    for (ImageEntry& entry : images)
      if (entry.id == id) return entry;
    throw std::runtime_error("no image " + id);
  }
  LayerEntry& layer(const std::string& id) {
    for (LayerEntry& entry : layers)
      if (entry.id == id) return entry;
    throw std::runtime_error("no layer " + id);
  }

  // Writes images.json, layers.json and containers.json from the members.
  void write() {
    const auto quoted = [](const std::string& text) { return "\"" + text + "\""; };
    std::string json = "[";
    for (const ImageEntry& entry : images) {
      json += (json.size() > 1 ? "," : "") + std::string(R"({"id":)") + quoted(entry.id) + R"(,"digest":)" +
              quoted(entry.digest) + R"(,"names":[)";
      for (size_t i = 0; i < entry.names.size(); ++i) json += (i ? "," : "") + quoted(entry.names[i]);
      json += "]";
      if (!entry.top_layer.empty()) json += R"(,"layer":)" + quoted(entry.top_layer);
      json += R"(,"big-data-names":["sha256:)" + entry.id + R"(","manifest"]})";
    }
    root.add_file("overlay-images/images.json", json + "]");
    json = "[";
    for (const LayerEntry& entry : layers) {
      json += (json.size() > 1 ? "," : "") + std::string(R"({"id":)") + quoted(entry.id);
      if (!entry.parent.empty()) json += R"(,"parent":)" + quoted(entry.parent);
      if (!entry.diff_digest.empty()) json += R"(,"diff-digest":)" + quoted(entry.diff_digest) + R"(,"diff-size":1024)";
      json += "}";
    }
    root.add_file("overlay-layers/layers.json", json + "]");
    json = "[";
    for (const ContainerEntry& entry : containers)
      json += (json.size() > 1 ? "," : "") + std::string(R"({"id":)") + quoted(entry.id) + R"(,"names":[)" +
              quoted(entry.name) + R"(],"image":)" + quoted(entry.image) + R"(,"layer":)" + quoted(entry.layer) +
              R"(,"created":"2026-01-02T03:04:06Z","metadata":"{\"image-name\":\"localhost/app:latest\"}"})";
    root.add_file("overlay-containers/containers.json", json + "]");
  }
};

// A ContainersStorage over `fake`'s root (which must outlive it); the test stops if it does
// not open.
inline ContainersStorage open_fake_storage(const FakeContainersStorage& fake) {
  auto store = ContainersStorage::open(fake.root);
  BOOST_TEST_REQUIRE(store.has_value());
  return std::move(*store);
}

}  // namespace ovlmount::test
