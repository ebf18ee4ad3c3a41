// Why: an image config is the one file that says which layers an image has; whatever store it
// comes from, parse_image_config must accept only rootfs.diff_ids of sha256:<64 hex>. Checks:
// every accepted diff_id has that form and yields one chain ID.
#include "fuzz_support.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/store/image_config.hpp"

#include <boost/json/parse.hpp>

using namespace ovlmount;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  boost::system::error_code ec;
  const boost::json::value document = boost::json::parse(fuzz::input(data, size), ec);
  if (ec) return 0;
  auto config = parse_image_config(document, "image sha256:fuzz");
  if (!config) {
    fuzz::check_error(config.error());
    FUZZ_CHECK(config.error().code == ExitCode::corrupt, "a bad config is not corrupt");
    return 0;
  }
  for (const std::string& diff_id : config->diff_ids) FUZZ_CHECK(is_sha256_digest(diff_id), "a bad diff_id passed");
  const auto chain = chain_ids(config->diff_ids);
  FUZZ_CHECK(chain.size() == config->diff_ids.size(), "one chain ID per diff_id");
  for (const std::string& chain_id : chain) FUZZ_CHECK(is_sha256_digest(chain_id), "a bad chain ID");
  return 0;
}
