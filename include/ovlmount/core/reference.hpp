// Why: users name images the way Docker lets them ("nginx", "docker.io/library/nginx:latest",
// "registry.local:5000/team/app:v1", "app@sha256:..."), and Docker's repositories.json keys
// them by the normalized "familiar" form. This parses a reference by Docker's own grammar and
// produces exactly the keys Docker's reference store uses, so both spellings of a name find
// the same image and nothing else.
#pragma once

#include "ovlmount/core/error.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace ovlmount {

// A parsed, normalized image reference.
struct ImageRef {
  std::string domain;  // "docker.io", "registry.local:5000", "localhost"
  std::string path;    // "library/nginx", "team/app"
  std::string tag;     // "" when none was given
  std::string digest;  // "sha256:<hex>" or ""

  // Docker's familiar name: the top-level key in repositories.json ("nginx", "user/app",
  // "registry.local:5000/team/app").
  std::string familiar_name() const;

  // The inner key Docker stores the reference under: "<familiar>@<digest>" when a digest is
  // given (a tag beside it is ignored, as Docker does), else "<familiar>:<tag or latest>".
  std::string store_key() const;
};

// Parses `text` by Docker's reference grammar and normalizes it (default domain docker.io,
// "library/" for official single-element names, index.docker.io folded into docker.io).
// Fails with a usage error naming `text` when it is not a valid reference (uppercase
// repository, bad tag or digest, over 255 characters, a bare 64-hex ID).
Result<ImageRef> parse_reference(std::string_view text);

// The 64 lowercase hex digits of a full image ID given as "<64 hex>" or "sha256:<64 hex>";
// nullopt when `text` is not one.
std::optional<std::string> full_image_id(std::string_view text);

// The hex part of an ID prefix given as "<hex>" or "sha256:<hex>" (1 to 64 lowercase hex
// digits); nullopt when `text` is not one.
std::optional<std::string> image_id_prefix(std::string_view text);

}  // namespace ovlmount
