// Why: containerd (Kubernetes nodes, nerdctl, Docker 29's containerd image store) keeps image
// records in its bbolt metadata database, content in a digest-addressed blob store and layers
// in its overlayfs snapshotter (DESIGN.md 7.2). One namespace of it is one store here: the same
// image unpacked in two namespaces has two snapshot chains.
#pragma once

#include "ovlmount/image_store.hpp"

#include <memory>
#include <string>
#include <vector>

namespace ovlmount {

// One namespace of containerd's store below a containerd root.
class ContainerdStore final : public ImageStore {
 public:
  // The namespaces of the containerd root `root` (buckets v1/<ns> of its meta.db), sorted;
  // not_found naming the root when it holds no containerd metadata database.
  static Result<std::vector<std::string>> namespaces(const RootDir& root);

  // Namespace `ns` of the containerd root `root`; not_found when it is not there.
  static Result<ContainerdStore> open(const RootDir& root, const std::string& ns);

  ContainerdStore(ContainerdStore&&) noexcept;
  ~ContainerdStore() override;

  const RootDir& root() const override;
  Result<std::optional<std::string>> lookup_name(const ImageRef& ref) const override;
  Result<std::map<std::string, std::vector<std::string>>> references() const override;
  Result<std::vector<std::string>> image_ids() const override;
  Result<bool> has_image(const std::string& id) const override;
  Result<ImageConfig> image_config(const std::string& id) const override;
  Result<std::vector<Layer>> image_layers(const std::string& id, const ImageConfig& config) const override;
  Result<std::vector<std::string>> container_ids() const override;
  Result<Container> container(const std::string& id) const override;
  Result<ContainerLayers> container_layers(const std::string& id) const override;

 private:
  struct State;
  explicit ContainerdStore(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace ovlmount
