// Why: podman, CRI-O and buildah keep images and containers in containers-storage, whose
// overlay driver lays them out differently from Docker (DESIGN.md 7.4): three JSON catalogues
// (images, layers, containers) and one directory per layer named by its layer ID. This is the
// one place that knows that layout. As in DockerStore, every ID read from it is checked
// against its exact format before it becomes part of a path, every file is read through
// RootDir, and the layer chain is checked against the image config's diff_ids, so a crafted
// graph root can make ovlmount fail but never read outside it or mount the wrong thing.
// Nothing is written or locked: podman's *.lock files are never opened, and libpod's database
// is read without its lock (libpod_state.hpp).
#pragma once

#include "ovlmount/store/image_store.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ovlmount {

// The overlay driver's store of containers-storage under a graph root.
class ContainersStorage final : public ImageStore {
 public:
  // Checks that `graphroot` holds an overlay containers-storage (overlay-images/ and
  // overlay-layers/); not_found naming the graph root when it does not.
  static Result<ContainersStorage> open(const RootDir& graphroot);

  const RootDir& root() const override { return root_; }

  // Matches the image's full names ("docker.io/library/x:tag"; when the domain is docker.io,
  // also "localhost/x:tag", the name `podman load` gives a Docker archive's short tag). A
  // digest reference matches "repo@digest", or an image whose `digest`/`digests` holds the
  // digest and one of whose names is in repository "repo".
  Result<std::optional<std::string>> lookup_name(const ImageRef& ref) const override;

  // An image's names, and "repo@digest" for each repository of its names and each of its
  // manifest digests (podman's RepoDigests).
  Result<std::map<std::string, std::vector<std::string>>> references() const override;
  Result<std::vector<std::string>> image_ids() const override;
  Result<bool> has_image(const std::string& id) const override;

  // Reads the config from the image's big-data file `=<base64 of "sha256:<digest>">` and
  // checks that its SHA-256 is that digest (the image ID, or the one other digest-named
  // big-data item when none is named after the ID).
  Result<ImageConfig> image_config(const std::string& id) const override;

  // Follows `layer` of images.json down the `parent`s of layers.json; each layer's
  // `diff-digest` must be the config's diff_id at its position. cache_id is the layer ID, dir
  // "overlay/<id>/diff", tar_split "overlay-layers/<id>.tar-split.gz".
  Result<std::vector<Layer>> image_layers(const std::string& id, const ImageConfig& config) const override;

  Result<std::vector<std::string>> container_ids() const override;

  // A container from containers.json: its first name, image, creation time; its state and
  // mounts (named volumes, binds) from libpod's database when podman made it. Without that
  // database (CRI-O, buildah) or a record there, state is "unknown" and mounts are empty.
  Result<Container> container(const std::string& id) const override;

  // The container's writable layer (its `layer`) with no init layer; parent_chain_id is the
  // chainID computed from the diff-digests below that layer, which must be its image's top.
  Result<ContainerLayers> container_layers(const std::string& id) const override;

  // podman diff walks the writable layer (c/storage's native overlay diff).
  DiffMethod diff_method() const override { return DiffMethod::writable_layer; }

 private:
  struct ImageEntry {
    std::string id;
    std::vector<std::string> names;
    std::string top_layer;  // "" for an image without layers
    std::vector<std::string> digests;  // `digest` and `digests`, manifest digests
    std::vector<std::string> big_data_names;
  };
  struct LayerEntry {
    std::string id;
    std::string parent;       // "" for a base layer
    std::string diff_digest;  // "" when not recorded (a container's layer)
    std::int64_t size = -1;
  };
  struct ContainerEntry {
    std::string id;
    std::vector<std::string> names;
    std::string image;  // 64 hex, or "" for a container not made from an image
    std::string layer;
    std::string created;
    std::string image_name;
  };

  explicit ContainersStorage(const RootDir& root) : root_(root) {}
  Result<std::vector<ImageEntry>> images() const;
  Result<std::optional<ImageEntry>> image(const std::string& id) const;
  Result<std::map<std::string, LayerEntry>> layers() const;
  Result<std::vector<ContainerEntry>> containers() const;
  Result<std::vector<const LayerEntry*>> chain_down(const std::map<std::string, LayerEntry>& layers,
                                                    const std::string& top, const std::string& object) const;
  Result<Layer> layer_dir(const std::string& id, LayerRole role, const std::string& object) const;

  const RootDir& root_;
};

// The file name containers-storage gives big-data item `key`: the key itself when it is made
// only of [0-9a-z.], else "=" + base64(key).
std::string big_data_file_name(std::string_view key);

}  // namespace ovlmount
