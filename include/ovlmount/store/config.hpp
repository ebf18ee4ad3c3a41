// Why: ovlmount must find the stores a host's engines use without being told, from the same
// config files those engines read (Docker's daemon.json, containers-storage's storage.conf,
// containerd's config.toml), and default to the documented places otherwise. The files are
// read from the host root (a seized disk image, say), so their content is untrusted: these
// functions only parse; the store finder reads them beneath the host root.
#pragma once

#include "ovlmount/core/error.hpp"

#include <optional>
#include <string>

namespace ovlmount {

inline constexpr const char* default_state_dir = "/run/ovlmount";

// Where each engine keeps its configuration, relative to the host root.
inline constexpr const char* daemon_json_path = "etc/docker/daemon.json";
inline constexpr const char* storage_conf_path = "etc/containers/storage.conf";
inline constexpr const char* storage_conf_default_path = "usr/share/containers/storage.conf";
inline constexpr const char* containerd_config_path = "etc/containerd/config.toml";

// The engines' defaults, absolute on the host.
inline constexpr const char* default_docker_root = "/var/lib/docker";
inline constexpr const char* default_storage_root = "/var/lib/containers/storage";
inline constexpr const char* default_containerd_root = "/var/lib/containerd";

// What ovlmount uses of Docker's daemon.json.
struct DockerConfig {
  std::string data_root = default_docker_root;  // "data-root"
  std::string containerd;                       // "containerd": a system containerd's socket; "" when unset
  std::string containerd_namespace = "moby";    // "containerd-namespace"
  std::optional<bool> containerd_snapshotter;   // "features": {"containerd-snapshotter": ...}
};

// Parses daemon.json `text` (from `object`); corrupt when it is not a JSON object or a used
// setting has the wrong type (the namespace must be a containerd identifier).
Result<DockerConfig> parse_daemon_json(const std::string& text, const std::string& object);

// The graph root of containers-storage's storage.conf `text` ([storage] graphroot, default
// /var/lib/containers/storage); corrupt when it is not valid TOML, graphroot is not an
// absolute path, or [storage] driver names a driver other than overlay.
Result<std::string> parse_storage_conf(const std::string& text, const std::string& object);

// The root of containerd's config.toml `text` (top-level root, default /var/lib/containerd);
// corrupt when it is not valid TOML or root is not an absolute path.
Result<std::string> parse_containerd_config(const std::string& text, const std::string& object);

}  // namespace ovlmount
