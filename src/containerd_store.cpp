// Why: see containerd_store.hpp.
#include "ovlmount/containerd_store.hpp"

namespace ovlmount {

struct ContainerdStore::State {
  const RootDir* root = nullptr;
  std::string ns;
};

ContainerdStore::ContainerdStore(std::unique_ptr<State> state) : state_(std::move(state)) {}
ContainerdStore::ContainerdStore(ContainerdStore&&) noexcept = default;
ContainerdStore::~ContainerdStore() = default;

Result<std::vector<std::string>> ContainerdStore::namespaces(const RootDir& root) {
  return not_found(root.path(), "containerd stores are not read yet");
}

Result<ContainerdStore> ContainerdStore::open(const RootDir& root, const std::string&) {
  return not_found(root.path(), "containerd stores are not read yet");
}

const RootDir& ContainerdStore::root() const { return *state_->root; }
Result<std::optional<std::string>> ContainerdStore::lookup_name(const ImageRef&) const { return std::optional<std::string>(); }
Result<std::map<std::string, std::vector<std::string>>> ContainerdStore::references() const {
  return std::map<std::string, std::vector<std::string>>();
}
Result<std::vector<std::string>> ContainerdStore::image_ids() const { return std::vector<std::string>(); }
Result<bool> ContainerdStore::has_image(const std::string&) const { return false; }
Result<ImageConfig> ContainerdStore::image_config(const std::string& id) const { return not_found(id, "not read yet"); }
Result<std::vector<Layer>> ContainerdStore::image_layers(const std::string& id, const ImageConfig&) const {
  return not_found(id, "not read yet");
}
Result<std::vector<std::string>> ContainerdStore::container_ids() const { return std::vector<std::string>(); }
Result<Container> ContainerdStore::container(const std::string& id) const { return not_found(id, "not read yet"); }
Result<ContainerLayers> ContainerdStore::container_layers(const std::string& id) const {
  return not_found(id, "not read yet");
}

}  // namespace ovlmount
