// Why: ovlmount reads Docker's overlay2 layout today; containers-storage and containerd's
// snapshotter will come. The resolver talks to a store only through this interface, which
// speaks in the content-addressed terms every layout shares: names to image IDs, image IDs
// to verified diffIDs, chainIDs to layer directories.
#pragma once

#include "ovlmount/error.hpp"
#include "ovlmount/reference.hpp"
#include "ovlmount/root_dir.hpp"

#include <optional>
#include <string>
#include <vector>

namespace ovlmount {

// One layer of an image, as found in the store.
struct Layer {
  std::string diff_id;   // "sha256:<hex>": digest of the uncompressed layer tar
  std::string chain_id;  // "sha256:<hex>": identifies the layer with everything below it
  std::string cache_id;  // the layer's directory name in the graph driver
  std::string dir;       // the layer's content directory, relative to the data root
};

// A place images are stored in.
class ImageStore {
 public:
  virtual ~ImageStore() = default;

  // The files of the store (the data root).
  virtual const RootDir& root() const = 0;

  // The image ID (64 hex) that `ref` names, or nullopt when no such name is stored.
  virtual Result<std::optional<std::string>> lookup_name(const ImageRef& ref) const = 0;

  // The IDs (64 hex) of all images in the store.
  virtual Result<std::vector<std::string>> image_ids() const = 0;

  // Whether an image with ID `id` (64 hex) is stored.
  virtual Result<bool> has_image(const std::string& id) const = 0;

  // The verified diffIDs of image `id`, bottom layer first: its config's SHA-256 must equal
  // `id`, else a corrupt-store error.
  virtual Result<std::vector<std::string>> diff_ids(const std::string& id) const = 0;

  // The layer with chainID `chain_id`, checked to hold `diff_id` and to sit on
  // `parent_chain_id` (empty for a base layer), with an existing content directory.
  virtual Result<Layer> layer(const std::string& chain_id, const std::string& diff_id,
                              const std::string& parent_chain_id) const = 0;
};

}  // namespace ovlmount
