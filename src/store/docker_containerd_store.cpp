// Why: see docker_containerd_store.hpp. Paths used here:
//   <data root>/image/overlay2                    absent (or unused) in this mode
//   <data root>/containerd/daemon/...             dockerd's own containerd root, when it has one
//   <data root>/containers/<id>/config.v2.json    see docker_container.hpp
//   <containerd root>/...                         see containerd_store.cpp (namespace moby)
#include "ovlmount/store/docker_containerd_store.hpp"

#include "ovlmount/store/docker_container.hpp"

#include <set>

namespace ovlmount {
namespace {

constexpr std::string_view overlay2_dir = "image/overlay2";
constexpr std::string_view own_root = "containerd/daemon";
constexpr std::string_view own_meta_db = "containerd/daemon/io.containerd.metadata.v1.bolt/meta.db";

}  // namespace

Result<bool> DockerContainerdStore::is_used(const RootDir& root, std::optional<bool> snapshotter) {
  if (snapshotter) return *snapshotter;
  auto kind = root.kind(overlay2_dir);
  if (!kind) return kind.error();
  return *kind == EntryKind::missing;
}

Result<std::optional<std::string>> DockerContainerdStore::own_containerd_root(const RootDir& data_root) {
  auto kind = data_root.kind(own_meta_db);
  if (!kind) return kind.error();
  if (*kind == EntryKind::missing) return std::optional<std::string>();
  return std::optional<std::string>(std::string(own_root));
}

Result<DockerContainerdStore> DockerContainerdStore::open(std::unique_ptr<RootDir> data_root,
                                                          std::unique_ptr<RootDir> containerd_root,
                                                          const std::string& ns, const Platform& platform) {
  auto images = ContainerdStore::open(*containerd_root, ns, {platform, ImageIdentity::target});
  if (!images) return images.error();
  return DockerContainerdStore(std::move(data_root), std::move(containerd_root), ns,
                               std::make_unique<ContainerdStore>(std::move(*images)));
}

DockerContainerdStore::DockerContainerdStore(std::unique_ptr<RootDir> data_root, std::unique_ptr<RootDir> containerd_root,
                                             std::string ns, std::unique_ptr<ContainerdStore> images)
    : data_root_(std::move(data_root)),
      containerd_root_(std::move(containerd_root)),
      ns_(std::move(ns)),
      images_(std::move(images)) {}

DockerContainerdStore::DockerContainerdStore(DockerContainerdStore&&) noexcept = default;
DockerContainerdStore::~DockerContainerdStore() = default;

const RootDir& DockerContainerdStore::root() const { return *containerd_root_; }
const RootDir& DockerContainerdStore::volume_root() const { return *data_root_; }

Result<std::optional<std::string>> DockerContainerdStore::lookup_name(const ImageRef& ref) const {
  return images_->lookup_name(ref);
}

Result<std::map<std::string, std::vector<std::string>>> DockerContainerdStore::references() const {
  auto by_id = images_->references();
  if (!by_id) return by_id.error();
  for (auto& [id, names] : *by_id) {
    std::set<std::string> familiar;
    for (const std::string& name : names) {
      auto ref = parse_reference(name);
      if (!ref) {
        familiar.insert(name);
        continue;
      }
      familiar.insert(ref->store_key());
      familiar.insert(ref->familiar_name() + "@sha256:" + id);
    }
    names.assign(familiar.begin(), familiar.end());
  }
  return by_id;
}

Result<std::vector<std::string>> DockerContainerdStore::image_ids() const { return images_->image_ids(); }

Result<std::vector<UnidentifiedImage>> DockerContainerdStore::unidentified_images() const {
  return images_->unidentified_images();
}

Result<bool> DockerContainerdStore::has_image(const std::string& id) const { return images_->has_image(id); }

Result<ImageConfig> DockerContainerdStore::image_config(const std::string& id) const { return images_->image_config(id); }

Result<std::vector<Layer>> DockerContainerdStore::image_layers(const std::string& id, const ImageConfig& config) const {
  return images_->image_layers(id, config);
}

Result<std::vector<std::string>> DockerContainerdStore::container_ids() const {
  return docker_container_ids(*data_root_);
}

Result<Container> DockerContainerdStore::container(const std::string& id) const {
  return read_docker_container(*data_root_, id, "overlayfs");
}

Result<ContainerLayers> DockerContainerdStore::container_layers(const std::string& id) const {
  auto container = this->container(id);
  if (!container) return container.error();
  return images_->snapshot_layers(id, "container " + id, InitSnapshot::docker);
}

}  // namespace ovlmount
