// Why: ovlmount reads Docker's overlay2 layout today; containers-storage and containerd's
// snapshotter will come. The resolver and the commands talk to a store only through this
// interface, which speaks in the content-addressed terms every layout shares: names to image
// IDs, image IDs to verified diffIDs, chainIDs to layer directories, containers to their own
// layers on top of an image.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/reference.hpp"
#include "ovlmount/core/root_dir.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ovlmount {

// Where a layer sits in a stack: one of the image's, or a container's init or writable layer.
enum class LayerRole { image, init, writable };

// "image", "init" or "writable".
const char* role_name(LayerRole role);

// One layer of an image or container, as found in the store.
struct Layer {
  std::string diff_id;    // "sha256:<hex>": digest of the uncompressed layer tar; "" for init/writable
  std::string chain_id;   // "sha256:<hex>": the layer with everything below it; "" for init/writable
  std::string cache_id;   // the layer's directory name in the graph driver
  std::string dir;        // the layer's content directory, relative to the data root
  std::string tar_split;  // its tar-split.json.gz relative to the data root; "" when none is kept
  std::string blob;         // its compressed layer blob relative to the data root; "" when none is kept
  std::string blob_digest;  // "sha256:<hex>": the blob's digest, from the image manifest; "" when no blob
  std::int64_t size = -1;  // the size the store records for the layer; -1 when it records none
  LayerRole role = LayerRole::image;
};

// What ovlmount uses of an image config (verified against the image ID).
struct ImageConfig {
  std::vector<std::string> diff_ids;  // bottom first
  std::string created;                // RFC 3339, as stored; "" when absent
  std::vector<std::string> entrypoint;  // config.Entrypoint
  std::vector<std::string> cmd;         // config.Cmd
  std::vector<std::string> env;         // config.Env, "K=V" each
  std::string working_dir;              // config.WorkingDir
  std::string user;                     // config.User
};

// One volume or bind mount of a container (Docker's MountPoints).
struct VolumeMount {
  std::string destination;  // absolute path inside the container
  std::string type;         // "volume", "bind", "tmpfs", ...
  std::string name;         // volume name; "" for binds
  std::string source;       // in_store: relative to the data root; else a path of the original host
  bool in_store = false;    // the source lives in the store (a local named volume)
  bool read_write = false;  // as the container had it (ovlmount always binds read-only)
};

// A container as its store describes it.
struct Container {
  std::string id;          // 64 hex
  std::string name;        // without the leading '/'
  std::string image_id;    // "sha256:<hex>"
  std::string image_name;  // as given when it was created ("" when unknown)
  std::string state;       // created, running, paused, restarting, removing, exited, dead
  std::string created;     // RFC 3339, as stored
  std::vector<VolumeMount> mounts;
};

// A container's own layers and what they sit on.
struct ContainerLayers {
  std::string mount_id;         // the writable layer's directory name
  std::string parent_chain_id;  // the image's top chainID, as the store records it
  std::optional<Layer> init;    // Docker's init layer; nullopt where the store has none (podman)
  Layer writable;
};

// How a store's engine answers "what did this container change" (see forensics/changes.hpp).
enum class DiffMethod {
  merged_trees,    // Docker (overlay2 and the containerd image store), nerdctl: compare the trees
  writable_layer,  // containers-storage (podman diff): walk the writable layer
};

// An image the store has a record of but cannot give an ID: the content its ID is computed from
// (a containerd image's manifest or config) is gone.
struct UnidentifiedImage {
  std::vector<std::string> references;  // the names the record has
  Error problem;                        // why it has no ID
};

// A place images and containers are stored in.
class ImageStore {
 public:
  virtual ~ImageStore() = default;

  // The files of the store (the data root): every Layer::dir is relative to it.
  virtual const RootDir& root() const = 0;

  // The root local named volumes (VolumeMount::in_store sources) are relative to: the data
  // root, unless the store keeps its layers elsewhere (Docker's containerd image store).
  virtual const RootDir& volume_root() const { return root(); }

  // The image ID (64 hex) that `ref` names, or nullopt when no such name is stored.
  virtual Result<std::optional<std::string>> lookup_name(const ImageRef& ref) const = 0;

  // Every stored reference, by image ID (64 hex): tags ("name:tag") and digests ("name@sha256:..").
  virtual Result<std::map<std::string, std::vector<std::string>>> references() const = 0;

  // The IDs (64 hex) of all images in the store.
  virtual Result<std::vector<std::string>> image_ids() const = 0;

  // The images the store has records of but no ID for, by first reference, so that listings
  // show them as broken instead of leaving them out.
  virtual Result<std::vector<UnidentifiedImage>> unidentified_images() const {
    return std::vector<UnidentifiedImage>();
  }

  // Whether an image with ID `id` (64 hex) is stored.
  virtual Result<bool> has_image(const std::string& id) const = 0;

  // The verified config of image `id`: its SHA-256 must equal `id`, else a corrupt-store error.
  virtual Result<ImageConfig> image_config(const std::string& id) const = 0;

  // The layers of image `id` whose verified config is `config`, bottom first, each checked to
  // hold its diff_id and to sit on the one below, with an existing content directory. A store
  // that keeps more layers than diff_ids (containerd under Docker's classic builder) returns
  // what it mounts, the extra ones with an empty diff_id.
  virtual Result<std::vector<Layer>> image_layers(const std::string& id, const ImageConfig& config) const = 0;

  // The IDs (64 hex) of all containers in the store.
  virtual Result<std::vector<std::string>> container_ids() const = 0;

  // The container with ID `id` (64 hex); corrupt when its metadata is malformed.
  virtual Result<Container> container(const std::string& id) const = 0;

  // The writable layer (and init layer, where the store has one) of container `id`, with
  // existing content directories.
  virtual Result<ContainerLayers> container_layers(const std::string& id) const = 0;

  // How the engine that owns this store computes a container's changes.
  virtual DiffMethod diff_method() const { return DiffMethod::merged_trees; }

  // The short name the graph driver links layer directory `dir_name` under ("" when none).
  virtual std::string link_name(const std::string& dir_name) const {
    (void)dir_name;
    return {};
  }

  // The layer directory whose short link name is `link`, or nullopt when none has it.
  virtual Result<std::optional<std::string>> dir_of_link(const std::string& link) const {
    (void)link;
    return std::optional<std::string>();
  }
};

}  // namespace ovlmount
