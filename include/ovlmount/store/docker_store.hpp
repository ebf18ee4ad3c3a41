// Why: the one place that knows the file layout of Docker's overlay2 graph driver
// (DESIGN.md section 2). Every ID read from it is checked against its exact format before it
// becomes part of a path, and every file is read through RootDir, so a crafted data root can
// make ovlmount fail but never read outside the root or mount the wrong thing.
#pragma once

#include "ovlmount/store/image_store.hpp"

#include <boost/json/object.hpp>

namespace ovlmount {

// Docker's overlay2 store under a data root.
class DockerStore final : public ImageStore {
 public:
  // Checks that `root` holds an overlay2 image store; not_found (naming the data root) when
  // it does not.
  static Result<DockerStore> open(const RootDir& root);

  const RootDir& root() const override { return root_; }
  Result<std::optional<std::string>> lookup_name(const ImageRef& ref) const override;
  Result<std::map<std::string, std::vector<std::string>>> references() const override;
  Result<std::vector<std::string>> image_ids() const override;
  Result<bool> has_image(const std::string& id) const override;
  Result<ImageConfig> image_config(const std::string& id) const override;
  Result<std::vector<Layer>> image_layers(const std::string& id, const ImageConfig& config) const override;
  Result<std::vector<std::string>> container_ids() const override;
  Result<Container> container(const std::string& id) const override;
  Result<ContainerLayers> container_layers(const std::string& id) const override;

  // The overlay2/l/ name of layer directory `dir_name` (its `link` file), or "" when it has none.
  std::string link_name(const std::string& dir_name) const override;

  // The layer directory whose link name is `link`, or nullopt when none has it.
  Result<std::optional<std::string>> dir_of_link(const std::string& link) const override;

 private:
  explicit DockerStore(const RootDir& root) : root_(root) {}
  Result<std::string> read_id_file(const std::string& relative) const;
  // repositories.json's "Repositories" object (its entries are checked where they are used);
  // nullopt when the file does not exist.
  Result<std::optional<boost::json::object>> repositories() const;

  Result<Layer> layer(const std::string& chain_id, const std::string& diff_id,
                      const std::string& parent_chain_id) const;
  Result<Layer> layer_dir(std::string cache_id, LayerRole role, const std::string& object) const;

  const RootDir& root_;
};

}  // namespace ovlmount
