// Why: turns what a user typed into the exact, verified stack of layer directories Docker
// would use for that image, following Docker's own lookup order: a full image ID, then a
// name in the reference store, then a unique ID prefix.
#pragma once

#include "ovlmount/image_store.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace ovlmount {

// The most layers one overlay mount can stack (the kernel's limit).
inline constexpr size_t max_layers = 500;

// An image resolved to its layers.
struct ResolvedImage {
  std::string reference;      // as the user gave it
  std::string image_id;       // "sha256:<hex>"
  std::vector<Layer> layers;  // bottom layer first
};

// Resolves `reference` in `store`: not_found for an unknown or ambiguous name or ID prefix
// (an ambiguous prefix lists the candidates), usage for a malformed reference, corrupt for
// any store data that fails verification.
Result<ResolvedImage> resolve_image(const ImageStore& store, std::string_view reference);

}  // namespace ovlmount
