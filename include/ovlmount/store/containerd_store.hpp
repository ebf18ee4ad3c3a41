// Why: containerd (Kubernetes nodes, nerdctl, Docker 29's containerd image store) keeps image
// records in its bbolt metadata database, content in a digest-addressed blob store and layers
// in its overlayfs snapshotter (DESIGN.md 7.2). One namespace of it is one store here: the same
// image unpacked in two namespaces has two snapshot chains.
#pragma once

#include "ovlmount/store/image_store.hpp"
#include "ovlmount/store/platform.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ovlmount {

// containerd's identifiers (namespaces, container IDs): runs of [A-Za-z0-9] joined by single
// '.', '_' or '-', at most 76 bytes.
bool is_containerd_identifier(std::string_view text);

// What an image's ID is: the digest of its config (containerd, crictl) or the digest its name
// points to, an index or manifest (Docker's image ID in its containerd image store).
enum class ImageIdentity { config, target };

// How to read a namespace.
struct ContainerdOptions {
  Platform platform = host_platform();  // the manifest of an index to use
  ImageIdentity identity = ImageIdentity::config;
};

// Whether an active snapshot sits on Docker's committed "<key>-init" snapshot.
enum class InitSnapshot { none, docker };

// One namespace of containerd's store below a containerd root.
class ContainerdStore final : public ImageStore {
 public:
  // The namespaces of the containerd root `root` (buckets v1/<ns> of its meta.db), sorted;
  // not_found naming the root when it holds no containerd metadata database.
  static Result<std::vector<std::string>> namespaces(const RootDir& root);

  // Namespace `ns` of the containerd root `root`; not_found when it is not there.
  static Result<ContainerdStore> open(const RootDir& root, const std::string& ns, ContainerdOptions options = {});

  ContainerdStore(ContainerdStore&&) noexcept;
  ~ContainerdStore() override;

  const RootDir& root() const override;

  // Matches containerd's full names: "<domain>/<path>:<tag>" or "<domain>/<path>@<digest>",
  // else an image of that repository whose target digest is the reference's digest. The ID
  // is the config digest of the image's manifest for options.platform, or with
  // ImageIdentity::target the name's target digest.
  Result<std::optional<std::string>> lookup_name(const ImageRef& ref) const override;

  // Image names by ID. Images whose manifest or index content is not in the namespace are
  // left out, Docker's "moby-dangling@" names are not names; a blob that does not hash to its
  // digest is a corrupt store.
  Result<std::map<std::string, std::vector<std::string>>> references() const override;
  Result<std::vector<std::string>> image_ids() const override;
  Result<std::vector<UnidentifiedImage>> unidentified_images() const override;
  // has_image: an ID a name resolved to in this process is there; otherwise, with
  // ImageIdentity::config, an ID whose config blob the namespace does not list is not, and the
  // images are resolved in name order up to the first match (ImageIdentity::target: only the
  // images whose target is the ID). Listings read and check every image; lookups only theirs.
  Result<bool> has_image(const std::string& id) const override;

  // The config blob of image `id` (listed in the namespace's content, hashing to its digest).
  Result<ImageConfig> image_config(const std::string& id) const override;

  // The snapshot chain below the top chainID, as containerd mounts it: meta.db's and the
  // snapshotter's chains must agree level by level and every chainID must appear in order;
  // extra snapshots not named by a digest (Docker's build -init) come back with empty
  // diff_id/chain_id. cache_id is the snapshot dir number, dir "…/snapshots/<n>/fs",
  // tar_split "" (no tar-split is kept). Loops and chains over 500 deep are corrupt.
  Result<std::vector<Layer>> image_layers(const std::string& id, const ImageConfig& config) const override;

  // Container IDs of the namespace, sorted; containerd identifiers ([A-Za-z0-9] runs joined
  // by single '.', '_' or '-', at most 76 bytes), else the store is corrupt. Never used as paths.
  Result<std::vector<std::string>> container_ids() const override;

  // name = ID, image_name = the image name it was created from, image_id = that image's
  // config ID ("" when the image is gone), state "unknown", created from createdat.
  Result<Container> container(const std::string& id) const override;

  // The container's Active snapshot (snapshotKey) as the writable layer, no init layer;
  // parent_chain_id is its parent's meta.db key. Fails naming the image when it is gone, and
  // for snapshotters other than overlayfs.
  Result<ContainerLayers> container_layers(const std::string& id) const override;

  // The active snapshot `key` (meta.db key) as a writable layer; with InitSnapshot::docker it
  // must sit on the committed snapshot "<key>-init", returned as the init layer. parent_chain_id
  // is the meta.db key of what is below them. `what` names the owner in messages.
  Result<ContainerLayers> snapshot_layers(const std::string& key, const std::string& what, InitSnapshot init) const;

 private:
  struct State;
  explicit ContainerdStore(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace ovlmount
