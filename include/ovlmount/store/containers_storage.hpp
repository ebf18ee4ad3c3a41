// Why: podman, CRI-O and buildah keep images and containers in containers-storage, whose
// overlay driver lays them out differently from Docker (DESIGN.md 7.4): three JSON catalogues
// (images, layers, containers) and one directory per layer named by its layer ID. This is the
// one place that knows that layout. As in DockerStore, every ID read from it is checked
// against its exact format before it becomes part of a path, every file is read through
// RootDir, and the layer chain is checked against the image config's diff_ids, so a crafted
// graph root can make ovlmount fail but never read outside it or mount the wrong thing.
// Nothing is written or locked: podman's *.lock files are never opened, and libpod's database
// is read without its lock (libpod_state.hpp).
// Each catalogue is one file for the whole store (layers.json is 21 MB at 10,000 images), so
// it is streamed through once per process, keeping only the members ovlmount uses, and kept
// indexed by ID: resolving one image then costs one pass over each catalogue, not one pass
// per question asked of it.
#pragma once

#include "ovlmount/store/image_store.hpp"

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
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
  // A 64-hex ID or the hex of a sha256 digest, as its 32 bytes: catalogues of 100,000 images
  // hold hundreds of thousands of them, and resolving needs them in memory at once.
  using Hash = std::array<std::uint8_t, 32>;
  struct ImageEntry {
    Hash id{};
    std::optional<Hash> top_layer;  // nullopt for an image without layers
    std::optional<Hash> config;     // the digest its config is stored under; nullopt when none is named
    std::vector<std::string> names;
    std::vector<Hash> digests;  // `digest` and `digests`, manifest digests
  };
  struct LayerEntry {
    Hash id{};
    std::optional<Hash> parent;       // nullopt for a base layer
    std::optional<Hash> diff_digest;  // nullopt when not recorded (a container's layer)
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
  // images.json in file order, and the positions of its entries sorted by ID. Deques: they
  // grow without copying what they hold.
  struct ImageCatalogue {
    std::deque<ImageEntry> entries;
    std::vector<std::uint32_t> by_id;
  };
  // layers.json sorted by layer ID.
  struct LayerCatalogue {
    std::deque<LayerEntry> entries;
  };

  explicit ContainersStorage(const RootDir& root) : root_(root) {}
  // Each catalogue is read and checked once, on first use, and kept (with its error, if any)
  // for the life of the store: a command asks for the same entries many times.
  Result<const ImageCatalogue*> images() const;
  Result<const ImageEntry*> image(const std::string& id) const;  // nullptr when not stored
  Result<const LayerCatalogue*> layers() const;
  Result<const std::vector<ContainerEntry>*> containers() const;
  Result<std::vector<const LayerEntry*>> chain_down(const LayerCatalogue& layers, const Hash& top,
                                                    const std::string& object) const;
  Result<Layer> layer_dir(const std::string& id, LayerRole role, const std::string& object) const;

  const RootDir& root_;
  mutable std::optional<Result<ImageCatalogue>> images_;
  mutable std::optional<Result<LayerCatalogue>> layers_;
  mutable std::optional<Result<std::vector<ContainerEntry>>> containers_;
};

// The file name containers-storage gives big-data item `key`: the key itself when it is made
// only of [0-9a-z.], else "=" + base64(key).
std::string big_data_file_name(std::string_view key);

}  // namespace ovlmount
