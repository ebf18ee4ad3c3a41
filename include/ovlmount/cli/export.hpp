// Why: an analyst hands an image's tree to another tool or a case file as a tar, and on a
// seized copy there is no daemon to `docker export` it. This writes the same tar Docker would,
// from a mount only this process sees, with libarchive, without changing the store.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/mount/mounter.hpp"
#include "ovlmount/mount/registry.hpp"
#include "ovlmount/store/stores.hpp"

#include <ostream>
#include <string>

namespace ovlmount {

// What `export` was asked for.
struct ExportArgs {
  std::string reference;      // IMAGE|CONTAINER
  std::string output = "-";   // a file, or "-" for stdout
  std::string format = "tar";  // tar, tar.gz, tar.zst
  bool reproducible = false;  // fixed mtimes
};

// Writes the merged tree of `args.reference` as a tar stream (see docs/usage.md, "export").
// Progress goes to `err` when it is a terminal.
Result<void> run_export(const Stores& stores, const ExportArgs& args, const Registry& registry, Mounter& mounter,
                        std::ostream& err);

}  // namespace ovlmount
