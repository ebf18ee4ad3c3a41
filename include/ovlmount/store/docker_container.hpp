// Why: Docker keeps a container's metadata in <data-root>/containers/<id>/config.v2.json in
// both of its image stores (overlay2 and the containerd image store); only the storage driver
// it names differs. Both stores read it through this one parser, which checks every field it
// uses before the field can become part of a path (volume names, the image ID).
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/root_dir.hpp"
#include "ovlmount/store/image_store.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace ovlmount {

// The names in directory `dir` of `root` that are IDs (64 hex), sorted; none when `dir` does
// not exist.
Result<std::vector<std::string>> hex_id_names(const RootDir& root, std::string_view dir);

// The IDs of the containers of Docker data root `root` (containers/<64 hex>), sorted.
Result<std::vector<std::string>> docker_container_ids(const RootDir& root);

// Container `id` of Docker data root `root`, from its config.v2.json: name, image ID, state,
// creation time and mount points (local named volumes relative to the data root). Corrupt when
// the file is malformed, its ID is not `id`, or its Driver is not `driver` ("overlay2",
// "overlayfs").
Result<Container> read_docker_container(const RootDir& root, const std::string& id, std::string_view driver);

}  // namespace ovlmount
