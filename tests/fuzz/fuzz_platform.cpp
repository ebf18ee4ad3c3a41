// Why: --platform names one manifest of an image index; parse_platform must take only
// os/arch[/variant] of [a-z0-9_] and print back what it parsed. Checks: name() re-parses to the
// same platform.
#include "fuzz_support.hpp"

#include "ovlmount/store/platform.hpp"

using namespace ovlmount;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto platform = parse_platform(fuzz::input(data, size));
  if (!platform) {
    fuzz::check_error(platform.error());
    FUZZ_CHECK(platform.error().code == ExitCode::usage, "a bad platform is not a usage error");
    return 0;
  }
  FUZZ_CHECK(!platform->os.empty() && !platform->architecture.empty(), "a platform without os or architecture");
  auto again = parse_platform(platform->name());
  FUZZ_CHECK(again, "the name of a parsed platform does not parse");
  FUZZ_CHECK(again->os == platform->os && again->architecture == platform->architecture &&
                 again->variant == platform->variant,
             "the name re-parses to another platform");
  return 0;
}
