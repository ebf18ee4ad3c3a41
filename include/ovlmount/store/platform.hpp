// Why: a multi-platform image (an OCI index) holds one manifest per OS and CPU; containerd
// unpacks the one of the host it runs on, and an analyst reading a seized arm64 disk on an
// amd64 laptop must be able to say which one is meant (`--platform linux/arm64`). Names are
// Go's GOOS/GOARCH and the OCI variant, as indexes spell them.
#pragma once

#include "ovlmount/core/error.hpp"

#include <string>
#include <string_view>

namespace ovlmount {

// One platform of an image index.
struct Platform {
  std::string os = "linux";
  std::string architecture;  // GOARCH: amd64, arm64, arm, 386, ...
  std::string variant;       // v7, v8, ...; "" when the architecture has none

  // "os/arch[/variant]".
  std::string name() const;
};

// The platform of the running kernel (linux/<GOARCH of uname -m>[/variant]).
Platform host_platform();

// Parses "os/arch[/variant]" (each part [a-z0-9_]+); a usage error naming `--platform` otherwise.
Result<Platform> parse_platform(std::string_view text);

}  // namespace ovlmount
