// Why: see platform.hpp.
#include "ovlmount/store/platform.hpp"

#include <sys/utsname.h>

#include <algorithm>

namespace ovlmount {
namespace {

bool is_platform_part(std::string_view part) {
  return !part.empty() && part.size() <= 32 && std::all_of(part.begin(), part.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

std::string Platform::name() const { return os + "/" + architecture + (variant.empty() ? "" : "/" + variant); }

Platform host_platform() {
  utsname name{};
  if (::uname(&name) != 0) return {"linux", "amd64", ""};
  const std::string machine = name.machine;
  if (machine == "x86_64") return {"linux", "amd64", ""};
  if (machine == "aarch64" || machine == "arm64") return {"linux", "arm64", "v8"};
  if (machine.starts_with("armv7")) return {"linux", "arm", "v7"};
  if (machine.starts_with("armv6")) return {"linux", "arm", "v6"};
  if (machine == "i386" || machine == "i686") return {"linux", "386", ""};
  if (machine == "ppc64le") return {"linux", "ppc64le", ""};
  if (machine == "s390x") return {"linux", "s390x", ""};
  if (machine == "riscv64") return {"linux", "riscv64", ""};
  return {"linux", machine, ""};
}

Result<Platform> parse_platform(std::string_view text) {
  Platform platform;
  std::string_view rest = text;
  std::string_view parts[3];
  size_t count = 0;
  while (count < 3) {
    const size_t slash = rest.find('/');
    parts[count++] = rest.substr(0, slash);
    if (slash == std::string_view::npos) {
      rest = {};
      break;
    }
    rest.remove_prefix(slash + 1);
    if (rest.empty()) return usage_error("--platform", "\"" + std::string(text) + "\" is not os/arch[/variant]");
  }
  if (count < 2 || !rest.empty() || !std::all_of(parts, parts + count, is_platform_part))
    return usage_error("--platform", "\"" + std::string(text) + "\" is not os/arch[/variant]");
  platform.os = parts[0];
  platform.architecture = parts[1];
  if (count == 3) platform.variant = parts[2];
  return platform;
}

}  // namespace ovlmount
