// Why: a case file needs the list of every file of an image with its hash, as the container
// saw it (the merged tree), and which layer brought it. This lists it from a mount only this
// process sees, so nothing changes in the store and no other process sees a mount.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/mount/mounter.hpp"
#include "ovlmount/mount/registry.hpp"
#include "ovlmount/store/stores.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace ovlmount {

// What `files` was asked for.
struct FilesArgs {
  std::string reference;           // IMAGE|CONTAINER
  std::vector<std::string> paths;  // only these paths (and what is below them); all when empty
  std::string format = "text";     // text, json, csv
  std::string hash = "sha256";     // sha256 or none
  bool layer = false;              // name the layer that provides each path
};

// Prints one row per path of the merged tree of `args.reference` (see docs/usage.md, "files").
Result<void> run_files(const Stores& stores, const FilesArgs& args, const Registry& registry, Mounter& mounter,
                       std::ostream& out, std::ostream& err);

}  // namespace ovlmount
