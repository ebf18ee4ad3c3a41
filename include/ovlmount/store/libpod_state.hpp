// Why: containers-storage knows a container's layers but not its state or its volumes; podman
// keeps those in libpod's own database, <graphroot>/libpod/bolt_state.db, a bbolt file (podman
// 4.x with the boltdb backend, the only one before 4.8). Without it a podman container is
// "unknown" and `container --volumes` has nothing to bind. This reads the few records ovlmount
// needs, through the lock-free read-only BoltFile: nothing is locked or written, even while
// podman runs. Layout (podman 4.3, checked on a real file):
//   runtime-config/graph-root     the graph root's path on the host that wrote the file
//   ctr/<id>/config               JSON: "id", "namedVolumes":[{"volumeName","dest","options"}],
//                                 "spec":{"mounts":[{"destination","type","source","options"}]}
//   ctr/<id>/state                JSON: "state", libpod's ContainerStatus (0 unknown ..
//                                 8 stopping)
//   vol/<name>/config             JSON: "name", "volumeDriver", "mountPoint"
// Every field is checked before it is used, and a volume name before it becomes part of a
// path; anything malformed is a corrupt store naming the file and the key.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/root_dir.hpp"
#include "ovlmount/store/image_store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ovlmount {

// Where libpod's database lives, relative to the graph root.
inline constexpr std::string_view libpod_db_path = "libpod/bolt_state.db";

// What libpod's database says about one container.
struct LibpodContainer {
  std::string state;                // as Container::state (libpod_state_name)
  std::vector<VolumeMount> mounts;  // named volumes and binds, sorted by destination
};

// The mounts a container's libpod config (ctr/<id>/config) asks for.
struct LibpodConfig {
  std::vector<VolumeMount> volumes;  // "namedVolumes": type "volume", name, destination, read_write;
                                     // source and in_store are set by locate_libpod_volume()
  std::vector<VolumeMount> binds;    // "spec" mounts of type "bind": source is a host path
};

// The container of graph root `graphroot` with ID `id` (64 hex) as libpod records it; nullopt
// when the graph root has no libpod database (CRI-O, buildah) or the database has no such
// container (a buildah container in podman's graph root). corrupt when the file or a record
// is malformed, a named volume has no record, or `id` is not 64 hex.
Result<std::optional<LibpodContainer>> read_libpod_container(const RootDir& graphroot, const std::string& id);

// The state ovlmount reports for libpod's ContainerStatus `status`, in Docker's words:
// 0 unknown, 1 configured and 2 initialized "created", 3 running and 8 stopping "running",
// 4 stopped and 6 exited "exited", 5 "paused", 7 "removing"; nullopt for any other number.
std::optional<std::string> libpod_state_name(std::int64_t status);

// The state in ctr/<id>/state JSON `text`. corrupt, naming `db` and `key`, when the JSON is
// malformed or "state" is not a ContainerStatus.
Result<std::string> parse_libpod_state(std::string_view text, const std::string& db, const std::string& key);

// The mounts in ctr/<id>/config JSON `text` of container `id`. corrupt, naming `db` and `key`,
// when the JSON is malformed, "id" is not `id`, a field has the wrong type, a volume name is
// not a podman name, or a destination is not an absolute path.
Result<LibpodConfig> parse_libpod_config(std::string_view text, const std::string& id, const std::string& db,
                                         const std::string& key);

// Completes named volume `volume` from its vol/<name>/config JSON `text`: a local volume
// whose "mountPoint" is exactly `graph_root` + "/volumes/<name>/_data" lives in the store
// (source "volumes/<name>/_data", in_store); any other is left outside it with its mount point
// as source. corrupt, naming `db` and `key`, when the JSON is malformed, a field has the wrong
// type, or "name" is not the volume's name.
Result<void> locate_libpod_volume(VolumeMount& volume, std::string_view text, std::string_view graph_root,
                                  const std::string& db, const std::string& key);

// Podman's names of containers and volumes: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 255 bytes.
bool is_podman_name(std::string_view name);

}  // namespace ovlmount
