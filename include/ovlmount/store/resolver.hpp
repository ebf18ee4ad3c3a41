// Why: turns what a user typed into the exact, verified stack of layer directories Docker
// would use, following Docker's own lookup orders. An image: a full image ID, then a name in
// the reference store, then a unique ID prefix. A container: a full ID, then a name, then a
// unique ID prefix; its stack is its image's layers with its init layer (where the store has
// one) and its writable layer on top,
// and the image's top chainID must be the one the container was created on.
#pragma once

#include "ovlmount/store/image_store.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ovlmount {

// The most layers one overlay mount can stack (the kernel's limit).
inline constexpr size_t max_layers = 500;

// What a stack was resolved from.
enum class SourceKind { image, container };

// An image or a container resolved to its layers.
struct Stack {
  SourceKind kind = SourceKind::image;
  std::string reference;               // as the user gave it
  std::string image_id;                // "sha256:<hex>"
  std::string created;                 // the image's creation time (RFC 3339, as stored)
  std::optional<Container> container;  // set exactly when kind is container
  std::vector<Layer> layers;           // bottom layer first; a container's writable layer last

  bool is_container() const { return kind == SourceKind::container; }
};

// Resolves image `reference` in `store`: not_found for an unknown or ambiguous name or ID
// prefix (an ambiguous prefix lists the candidates), usage for a malformed reference, corrupt
// for any store data that fails verification.
Result<Stack> resolve_image(const ImageStore& store, std::string_view reference);

// Resolves container `reference` (full ID, name with or without '/', unique ID prefix) in
// `store`, with the same error classes as resolve_image.
Result<Stack> resolve_container(const ImageStore& store, std::string_view reference);

// A container if `reference` names one, else an image (as `docker inspect` looks them up); when
// neither is found and a container could not be read, that container's error.
Result<Stack> resolve_any(const ImageStore& store, std::string_view reference);

// The ID (64 hex) of the container `reference` names: a full ID, then a name (with or without
// the leading '/'), then a unique ID prefix. When none matches but a container could not be
// read (it may be the one named), that container's error instead of "no such container".
Result<std::string> find_container_id(const ImageStore& store, std::string_view reference);

}  // namespace ovlmount
