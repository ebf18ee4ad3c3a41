// Why: when a mount or a verification surprises, the analyst needs to see every step of the
// resolution (names, config digest, diff_ids, chainIDs, cache-ids, links, sizes, a
// container's own layers and volumes) in one place, as a table to read or JSON to keep.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/store/stores.hpp"

#include <iosfwd>
#include <string>

namespace ovlmount {

// `inspect`: the resolution walk of `reference` (a container first, then an image) in
// `stores`, layer by layer bottom first, as a table or (`json`) resolve's JSON extended.
Result<void> run_inspect(const Stores& stores, const std::string& reference, bool json, std::ostream& out);

}  // namespace ovlmount
