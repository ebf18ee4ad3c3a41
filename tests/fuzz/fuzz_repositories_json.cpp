// Why: repositories.json maps every name of a Docker overlay2 store to an image ID, and each ID
// becomes part of a path; DockerStore must refuse any entry that is not sha256:<64 hex>. The
// file is reached through the store's RootDir, here an in-memory one. Checks: references()
// returns only 64-hex IDs, and a key that is the store key of its own repository is found by
// lookup_name() as the entry the file holds.
#include "fuzz_support.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/reference.hpp"
#include "ovlmount/store/docker_store.hpp"

#include <boost/json/parse.hpp>

using namespace ovlmount;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::MemoryRoot root;
  root.add_dir("image/overlay2/imagedb/content/sha256");
  root.add_file("image/overlay2/repositories.json", std::string(fuzz::input(data, size)));
  auto store = DockerStore::open(root);
  FUZZ_CHECK(store, "the store does not open");

  auto references = store->references();
  if (!references) {
    fuzz::check_error(references.error());
    FUZZ_CHECK(references.error().code == ExitCode::corrupt, "a bad repositories.json is not corrupt");
    return 0;
  }
  for (const auto& [id, keys] : *references) {
    FUZZ_CHECK(is_hex64(id), "an image ID that is not 64 hex");
    FUZZ_CHECK(!keys.empty(), "an image with no keys");
  }

  const boost::json::value document = boost::json::parse(fuzz::input(data, size));
  const boost::json::object& repositories = document.at("Repositories").get_object();
  for (const auto& [name, repository] : repositories) {
    for (const auto& [key, id] : repository.get_object()) {
      auto ref = parse_reference(key);
      if (!ref || ref->familiar_name() != name || ref->store_key() != key) continue;
      const boost::json::value* expected = repositories.at(ref->familiar_name()).get_object().if_contains(key);
      auto found = store->lookup_name(*ref);
      FUZZ_CHECK(found, "lookup_name fails where references() did not");
      FUZZ_CHECK(*found && "sha256:" + **found == expected->get_string(), "a store key is not found as itself");
    }
  }
  return 0;
}
