// Why: a forensic answer is only as good as the layers under it. `verify` proves what can be
// proved from the store itself: the metadata chain (config digest, chainIDs, layerdb links)
// and each layer's content against its diff_id, and says plainly what no digest covers (a
// container's init and writable layers).
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/store/stores.hpp"

#include <iosfwd>
#include <string>

namespace ovlmount {

// `verify`: checks `reference` (a container first, then an image) under `data_root`: its
// metadata, then (unless `quick`) every image layer's content, reporting per layer on `out`
// (JSON when `json`) and progress for big layers on `err` when it is a terminal. Fails with a
// corrupt error when anything does not verify; not_found when `reference` names nothing.
Result<void> run_verify(const Stores& stores, const std::string& reference, bool json, bool quick,
                        std::ostream& out, std::ostream& err);

}  // namespace ovlmount
