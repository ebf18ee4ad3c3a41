// Why: Docker 29 and later keep images in containerd's snapshotter (the "containerd image
// store", DESIGN.md 7.3): a data root with no image/overlay2 at all, images in namespace moby
// of a containerd root (dockerd's own below the data root, or the system's), containers still
// in the data root. This store joins the two so that Docker's IDs and names work as `docker`
// shows them: an image's ID is the digest its name points to, a container's layers are its
// writable snapshot (keyed by the container ID) on "<id>-init" on the image's chain.
#pragma once

#include "ovlmount/store/containerd_store.hpp"

#include <memory>
#include <optional>
#include <string>

namespace ovlmount {

// A Docker data root that uses the containerd image store.
class DockerContainerdStore final : public ImageStore {
 public:
  // Whether data root `root` uses the containerd image store rather than overlay2: daemon.json's
  // `features.containerd-snapshotter` when it says (`snapshotter` not nullopt), else whether
  // image/overlay2 is absent.
  static Result<bool> is_used(const RootDir& root, std::optional<bool> snapshotter);

  // The containerd root dockerd starts its own containerd with: <data root>/containerd/daemon
  // (relative to the data root), when it holds a metadata database; nullopt otherwise.
  static Result<std::optional<std::string>> own_containerd_root(const RootDir& data_root);

  // Containers (and volumes) of `data_root`, images in namespace `ns` of `containerd_root`;
  // not_found when that namespace does not exist there.
  static Result<DockerContainerdStore> open(std::unique_ptr<RootDir> data_root, std::unique_ptr<RootDir> containerd_root,
                                            const std::string& ns, const Platform& platform);

  DockerContainerdStore(DockerContainerdStore&&) noexcept;
  ~DockerContainerdStore() override;

  // The containerd root (layers); volumes are below volume_root(), the data root.
  const RootDir& root() const override;
  const RootDir& volume_root() const override;

  // The containerd namespace the images are in.
  const std::string& containerd_namespace() const { return ns_; }

  // Images as ContainerdStore reads them, identified by target digest (Docker's image IDs).
  Result<std::optional<std::string>> lookup_name(const ImageRef& ref) const override;

  // As `docker image inspect` spells them: RepoTags ("nginx:1.25") and, for each repository,
  // RepoDigests ("nginx@sha256:<image ID>").
  Result<std::map<std::string, std::vector<std::string>>> references() const override;
  Result<std::vector<std::string>> image_ids() const override;
  Result<std::vector<UnidentifiedImage>> unidentified_images() const override;
  Result<bool> has_image(const std::string& id) const override;
  Result<ImageConfig> image_config(const std::string& id) const override;
  Result<std::vector<Layer>> image_layers(const std::string& id, const ImageConfig& config) const override;

  // Containers from the data root's config.v2.json files (Driver "overlayfs").
  Result<std::vector<std::string>> container_ids() const override;
  Result<Container> container(const std::string& id) const override;

  // The active snapshot named by the container ID over the committed "<id>-init" snapshot.
  Result<ContainerLayers> container_layers(const std::string& id) const override;

 private:
  DockerContainerdStore(std::unique_ptr<RootDir> data_root, std::unique_ptr<RootDir> containerd_root, std::string ns,
                        std::unique_ptr<ContainerdStore> images);

  std::unique_ptr<RootDir> data_root_;
  std::unique_ptr<RootDir> containerd_root_;
  std::string ns_;
  std::unique_ptr<ContainerdStore> images_;
};

}  // namespace ovlmount
