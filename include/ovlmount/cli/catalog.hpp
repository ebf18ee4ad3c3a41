// Why: an analyst first wants the inventory of a data root: which images and containers it
// holds, and for a directory found on disk, who uses it. Listings must survive broken entries
// (a seized store is rarely clean): each entry is checked on its own, a broken one is listed
// with its problem, and the exit code says that something was wrong.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/store/stores.hpp"

#include <iosfwd>
#include <string>

namespace ovlmount {

// `images`: every image of `stores` (ID, references, layer count, size,
// created), sorted by ID, as a table or JSON on `out`, each broken image (an ID that a name
// points at but whose config is gone included) with its problem. Fails with the first
// problem after listing everything.
Result<void> run_images(const Stores& stores, bool json, std::ostream& out);

// `containers`: every container (ID, name, image, state, created, mount-id), like run_images.
Result<void> run_containers(const Stores& stores, bool json, std::ostream& out);

// `owner`: the images and containers whose stacks use the layer directory `layer_dir`
// (a cache-id, a mount-id, "<mount-id>-init" or an overlay2/l/ link name); not_found when none.
Result<void> run_owner(const Stores& stores, const std::string& layer_dir, bool json, std::ostream& out);

}  // namespace ovlmount
