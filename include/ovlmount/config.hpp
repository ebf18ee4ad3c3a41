// Why: ovlmount must find the same data root Docker uses on the host without being told,
// and default to the documented places otherwise.
#pragma once

#include "ovlmount/error.hpp"

#include <string>

namespace ovlmount {

inline constexpr const char* default_daemon_json = "/etc/docker/daemon.json";
inline constexpr const char* default_docker_root = "/var/lib/docker";
inline constexpr const char* default_state_dir = "/run/ovlmount";

// The "data-root" of the Docker daemon config at `daemon_json`, or /var/lib/docker when the
// file does not exist or does not set it; corrupt when the file is not valid JSON or the
// setting is not a non-empty string.
Result<std::string> default_data_root(const std::string& daemon_json = default_daemon_json);

}  // namespace ovlmount
