// Why: libpod's bolt_state.db says a podman container's state and volumes, and volume names
// and mount points become paths. The first byte picks what the rest is: 0 a ctr/<id>/state
// record, 1 a ctr/<id>/config record, 2 a vol/<name>/config record (for a volume named
// "data"), 3 a whole bolt_state.db read through read_libpod_container for each container ID it
// holds. Checks: a state is one of the documented names, volume names are podman names, a
// store volume lives at volumes/<name>/_data, destinations are absolute, mounts are sorted.
#include "fuzz_support.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/store/bolt.hpp"
#include "ovlmount/store/libpod_state.hpp"

#include <algorithm>
#include <set>

using namespace ovlmount;

namespace {

constexpr const char* container_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
constexpr std::size_t max_containers = 16;

const std::set<std::string> state_names = {"unknown", "created", "running", "exited", "paused", "removing"};

void check(const Error& error) {
  fuzz::check_error(error);
  FUZZ_CHECK(error.code == ExitCode::corrupt, "a bad libpod record is not corrupt");
}

void check_mount(const VolumeMount& mount) {
  FUZZ_CHECK(mount.destination.starts_with('/'), "a destination that is not absolute");
  if (mount.type == "volume") FUZZ_CHECK(is_podman_name(mount.name), "a volume name that is not a podman name");
  if (mount.in_store) FUZZ_CHECK(mount.source == "volumes/" + mount.name + "/_data", "a store volume elsewhere");
}

// The 64-hex keys of bucket "ctr", as candidates for read_libpod_container.
std::vector<std::string> container_ids(std::string_view db) {
  std::vector<std::string> ids{container_id};
  auto file = BoltFile::open(fuzz::memory_file(db), "fuzz.db");
  if (!file) return ids;
  auto ctr = file->bucket({"ctr"});
  if (!ctr || !*ctr) return ids;
  (void)file->for_each(**ctr, [&](const BoltItem& item) -> Result<void> {
    if (is_hex64(item.key) && ids.size() < max_containers) ids.emplace_back(item.key);
    return {};
  });
  return ids;
}

void read_database(std::string_view db) {
  fuzz::MemoryRoot root("/var/lib/containers/storage");
  root.add_file(std::string(libpod_db_path), std::string(db));
  for (const std::string& id : container_ids(db)) {
    auto container = read_libpod_container(root, id);
    if (!container) {
      fuzz::check_error(container.error());
      continue;
    }
    if (!*container) continue;
    FUZZ_CHECK(state_names.contains((*container)->state), "an undocumented state");
    const auto& mounts = (*container)->mounts;
    FUZZ_CHECK(std::is_sorted(mounts.begin(), mounts.end(),
                              [](const VolumeMount& a, const VolumeMount& b) { return a.destination < b.destination; }),
               "mounts not sorted by destination");
    for (const VolumeMount& mount : mounts) check_mount(mount);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text = fuzz::input(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto state = parse_libpod_state(text, "db", "ctr/x/state");
      if (!state) check(state.error());
      else FUZZ_CHECK(state_names.contains(*state), "an undocumented state");
      break;
    }
    case 1: {
      auto config = parse_libpod_config(text, container_id, "db", "ctr/x/config");
      if (!config) return check(config.error()), 0;
      for (const VolumeMount& volume : config->volumes) check_mount(volume);
      for (const VolumeMount& bind : config->binds) check_mount(bind);
      break;
    }
    case 2: {
      VolumeMount volume;
      volume.type = "volume";
      volume.name = "data";
      volume.destination = "/data";
      auto located = locate_libpod_volume(volume, text, "/var/lib/containers/storage", "db", "vol/data/config");
      if (!located) check(located.error());
      else check_mount(volume);
      break;
    }
    default: read_database(text);
  }
  return 0;
}
