// Why: one host can keep images in several stores (Docker's overlay2 data root, a
// containers-storage graph root for podman and CRI-O, containerd's snapshotter), and a seized
// disk holds all of them below one host root. This finds the stores a user means, opens each
// beneath its own root, and resolves a reference in all of them at once: found in exactly one
// store it is that one, found in several it is ambiguous, never a silent pick. Commands see
// only Stores and ImageStore, never which kind of store they have.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/root_dir.hpp"
#include "ovlmount/store/image_store.hpp"
#include "ovlmount/store/platform.hpp"
#include "ovlmount/store/resolver.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ovlmount {

// Where to look for stores (the global options).
struct StoreOptions {
  std::string host_root = "/";  // the root of the system whose stores are read
  std::string data_root;        // explicit Docker data root
  std::string storage_root;     // explicit containers-storage graph root
  std::string containerd_root;  // explicit containerd root
  std::string only;             // "", "docker", "containers-storage" or "containerd": only that kind
  std::string containerd_namespace;  // only this containerd namespace ("": all)
  Platform platform = host_platform();  // the manifest of a multi-platform image to use
};

// Which kinds of object a reference may name.
enum class Lookup { image, container, any };

// One opened store.
struct StoreEntry {
  std::string label;                  // "docker", "containers-storage", "containerd/<namespace>"
  const RootDir* root = nullptr;      // the store's files
  std::unique_ptr<ImageStore> store;  // reads beneath *root
  std::unique_ptr<RootDir> owned_root;
};

// A reference resolved in one store.
struct Resolved {
  const StoreEntry* store = nullptr;
  Stack stack;
};

// The stores a command works on.
class Stores {
 public:
  // Adds `store`, which reads beneath `root`; `owned_root`, when given, is `root` and is kept
  // alive as long as the store.
  void add(std::string label, const RootDir& root, std::unique_ptr<ImageStore> store,
           std::unique_ptr<RootDir> owned_root = nullptr);

  const std::vector<StoreEntry>& entries() const { return entries_; }

  // Resolves `reference` as `lookup` allows in every store: the one store that has it;
  // not_found when none has it, or when several do (the message lists each as
  // "store: reference -> ID"); a store's own error (corrupt...) when no store has it and one
  // failed.
  Result<Resolved> resolve(std::string_view reference, Lookup lookup) const;

 private:
  std::vector<StoreEntry> entries_;
};

// Opens the stores `options` select. With an explicit root (--data-root, --storage-root,
// --containerd-root) just those; otherwise every store found at its configured or default
// place below the host root (read from the host's own config files, resolved inside the host
// root). A Docker data root in containerd-image-store mode reads its images from dockerd's own
// containerd root below it, else from the given or configured containerd root, whose namespace
// it uses (moby) is then not listed again as a containerd store. not_found when none is found.
Result<Stores> find_stores(const StoreOptions& options);

}  // namespace ovlmount
