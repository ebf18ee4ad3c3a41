// Why: podman's graph root lists images, layers and containers in three JSON catalogues whose
// IDs become paths, and whose layer parents form chains that may loop. The input is the three
// files separated by NUL bytes (images.json, layers.json, containers.json), put in an in-memory
// graph root and read through ContainersStorage's public API. Checks: listed IDs are 64 hex,
// references name listed images, a container's writable layer is its own directory, and a
// lookup of each name finds an image or, where two images hold the name, reports a corrupt store.
#include "fuzz_support.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/reference.hpp"
#include "ovlmount/store/containers_storage.hpp"

#include <algorithm>

using namespace ovlmount;

namespace {

constexpr std::size_t max_checked = 16;

void check(const Error& error) {
  fuzz::check_error(error);
  FUZZ_CHECK(error.code == ExitCode::corrupt || error.code == ExitCode::not_found,
             "a bad catalogue is neither corrupt nor not found");
}

void check_images(const ContainersStorage& store) {
  auto ids = store.image_ids();
  if (!ids) return check(ids.error());
  FUZZ_CHECK(std::is_sorted(ids->begin(), ids->end()), "image IDs not sorted");
  auto references = store.references();
  FUZZ_CHECK(references, "references() fails where image_ids() did not");
  for (const auto& [id, names] : *references) {
    FUZZ_CHECK(std::binary_search(ids->begin(), ids->end(), id), "a reference to an unlisted image");
    for (const std::string& name : names) {
      auto ref = parse_reference(name);
      if (!ref) continue;
      auto found = store.lookup_name(*ref);
      if (!found) {
        FUZZ_CHECK(found.error().code == ExitCode::corrupt, "lookup_name of a listed name fails other than corrupt");
        continue;
      }
      FUZZ_CHECK(!*found || std::binary_search(ids->begin(), ids->end(), **found), "lookup_name found no image");
    }
  }
  for (std::size_t i = 0; i < std::min(ids->size(), max_checked); ++i) {
    const std::string& id = (*ids)[i];
    auto has = store.has_image(id);
    FUZZ_CHECK(has && *has, "a listed image is not there");
    auto layers = store.image_layers(id, ImageConfig{});
    if (!layers) check(layers.error());
    else FUZZ_CHECK(layers->empty(), "layers for a config without diff_ids");
  }
}

void check_containers(const ContainersStorage& store) {
  auto ids = store.container_ids();
  if (!ids) return check(ids.error());
  for (std::size_t i = 0; i < std::min(ids->size(), max_checked); ++i) {
    const std::string& id = (*ids)[i];
    FUZZ_CHECK(is_hex64(id), "a container ID that is not 64 hex");
    auto container = store.container(id);
    if (!container) check(container.error());
    else FUZZ_CHECK(container->id == id && is_sha256_digest(container->image_id), "a bad container");
    auto layers = store.container_layers(id);
    if (!layers) {
      check(layers.error());
      continue;
    }
    FUZZ_CHECK(is_hex64(layers->mount_id), "a writable layer that is not 64 hex");
    FUZZ_CHECK(layers->writable.dir == "overlay/" + layers->mount_id + "/diff", "a writable layer elsewhere");
    FUZZ_CHECK(layers->parent_chain_id.empty() || is_sha256_digest(layers->parent_chain_id), "a bad parent chain ID");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto files = fuzz::split_parts(fuzz::input(data, size), 3);
  fuzz::MemoryRoot root;
  root.add_file("overlay-images/images.json", files[0]);
  root.add_file("overlay-layers/layers.json", files[1]);
  root.add_file("overlay-containers/containers.json", files[2]);
  auto store = ContainersStorage::open(root);
  FUZZ_CHECK(store, "the graph root does not open");
  check_images(*store);
  check_containers(*store);
  return 0;
}
