// Why: a Docker container's config.v2.json names its image, its state and its volumes, and
// volume names become paths below the data root. read_docker_container must refuse anything
// malformed. The file is reached through an in-memory RootDir, under the "ID" it claims (so
// real files pass the ID check). Checks: an accepted container has a valid name and image ID,
// mounts sorted by destination, and store volumes that stay below volumes/.
#include "fuzz_support.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/store/docker_container.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>

using namespace ovlmount;

namespace {

constexpr const char* fallback_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

std::string claimed_id(std::string_view text) {
  boost::system::error_code ec;
  const boost::json::value document = boost::json::parse(text, ec);
  if (ec || !document.is_object()) return fallback_id;
  const boost::json::value* id = document.get_object().if_contains("ID");
  if (!id || !id->is_string() || !is_hex64(id->get_string())) return fallback_id;
  return std::string(id->get_string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::input(data, size);
  const std::string id = claimed_id(text);
  fuzz::MemoryRoot root;
  root.add_file("containers/" + id + "/config.v2.json", std::string(text));
  auto ids = docker_container_ids(root);
  FUZZ_CHECK(ids && ids->size() == 1 && ids->front() == id, "the container is not listed");

  for (const std::string_view driver : {"overlay2", "overlayfs"}) {
    auto container = read_docker_container(root, id, driver);
    if (!container) {
      fuzz::check_error(container.error());
      FUZZ_CHECK(container.error().code == ExitCode::corrupt, "a bad config.v2.json is not corrupt");
      continue;
    }
    FUZZ_CHECK(container->id == id, "another container ID");
    FUZZ_CHECK(!container->name.empty() && !container->name.starts_with('/'), "a bad container name");
    FUZZ_CHECK(is_sha256_digest(container->image_id), "an image ID that is not sha256:<64 hex>");
    FUZZ_CHECK(std::is_sorted(container->mounts.begin(), container->mounts.end(),
                              [](const VolumeMount& a, const VolumeMount& b) { return a.destination < b.destination; }),
               "mounts not sorted by destination");
    for (const VolumeMount& mount : container->mounts) {
      if (!mount.in_store) continue;
      FUZZ_CHECK(mount.source == "volumes/" + mount.name + "/_data", "a store volume elsewhere than volumes/<name>");
      FUZZ_CHECK(mount.name.find('/') == std::string::npos && mount.name != ".." && mount.name != ".",
                 "a store volume name that is a path");
    }
  }
  return 0;
}
