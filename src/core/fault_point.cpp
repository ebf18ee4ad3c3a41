// Why: see fault_point.hpp. Empty unless built with OVLMOUNT_FAULT_POINTS.
#include "ovlmount/core/fault_point.hpp"

#ifdef OVLMOUNT_FAULT_POINTS

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string_view>

namespace ovlmount {

void fault_point(const char* name) {
  static unsigned long passes = 0;
  const char* armed = std::getenv("OVLMOUNT_FAULT_POINT");
  if (!armed) return;
  const std::string_view armed_name = std::string_view(armed).substr(0, std::string_view(armed).find('@'));
  if (armed_name != name) return;
  const unsigned long wanted = armed[armed_name.size()] == '@' ? std::strtoul(armed + armed_name.size() + 1, nullptr, 10) : 1;
  if (++passes >= wanted) ::kill(::getpid(), SIGKILL);
}

}  // namespace ovlmount

#endif
