// Why: the two questions asked of one stack's layers without mounting it: what did this
// container change (`diff`), and which layer does this path come from (`which`). The engines
// (changes, which) work on layer directories; these commands resolve the reference and print.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/store/stores.hpp"

#include <iosfwd>
#include <string>

namespace ovlmount {

// `diff`: the changes of `container`'s writable layer as `docker diff` prints them, sorted by
// path; JSON with `json`, a Sleuthkit body file with `bodyfile`.
Result<void> run_diff(const Stores& stores, const std::string& container, bool json, bool bodyfile,
                      std::ostream& out);

// `which`: the layer of `reference` (a container first, then an image) that provides or hides
// `path`; not_found when no layer has it.
Result<void> run_which(const Stores& stores, const std::string& reference, const std::string& path, bool json,
                       std::ostream& out);

}  // namespace ovlmount
