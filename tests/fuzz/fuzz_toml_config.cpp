// Why: the store finder reads the host's daemon.json, storage.conf and containerd config.toml
// from a seized root, so their content is untrusted. The first byte picks the parser (even:
// the TOML ones, odd: daemon.json), the rest is the file. Checks: every root found is an
// absolute path, the namespace is never empty, and a failure is corrupt or not found.
#include "fuzz_support.hpp"

#include "ovlmount/store/config.hpp"

using namespace ovlmount;

namespace {

void check(const Error& error) {
  fuzz::check_error(error);
  FUZZ_CHECK(error.code == ExitCode::corrupt || error.code == ExitCode::not_found,
             "a bad config is neither corrupt nor not found");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(fuzz::input(data + 1, size - 1));
  if (data[0] % 2 == 1) {
    auto config = parse_daemon_json(text, "daemon.json");
    if (!config) return check(config.error()), 0;
    FUZZ_CHECK(config->data_root.starts_with('/'), "a data root that is not absolute");
    FUZZ_CHECK(!config->containerd_namespace.empty(), "an empty containerd namespace");
    return 0;
  }
  auto graphroot = parse_storage_conf(text, "storage.conf");
  if (!graphroot) check(graphroot.error());
  else FUZZ_CHECK(graphroot->starts_with('/'), "a graph root that is not absolute");
  auto root = parse_containerd_config(text, "config.toml");
  if (!root) check(root.error());
  else FUZZ_CHECK(root->starts_with('/'), "a containerd root that is not absolute");
  return 0;
}
