// Why: see process_guard.hpp. AT_SECURE is the kernel's own verdict: it is set exactly when
// the real and effective IDs differ at exec or file capabilities were gained.
#include "ovlmount/core/process_guard.hpp"

#include <sys/auxv.h>
#include <sys/stat.h>

namespace ovlmount {

Result<void> guard_process_start(const char* program) {
  if (::getauxval(AT_SECURE) != 0)
    return failure(program, "refusing to run setuid, setgid or with file capabilities (run it as root instead)");
  ::umask(022);
  return {};
}

}  // namespace ovlmount
