// Why: see process_guard.hpp. AT_SECURE is the kernel's own verdict: it is set exactly when
// the real and effective IDs differ at exec or file capabilities were gained.
#include "ovlmount/core/process_guard.hpp"

#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>

namespace ovlmount {
namespace {

constexpr rlim_t wanted_open_files = 65536;

struct rlimit inherited_open_files {};
bool open_files_raised = false;

}  // namespace

Result<void> guard_process_start(const char* program) {
  if (::getauxval(AT_SECURE) != 0)
    return failure(program, "refusing to run setuid, setgid or with file capabilities (run it as root instead)");
  ::umask(022);
  if (::getrlimit(RLIMIT_NOFILE, &inherited_open_files) == 0 && inherited_open_files.rlim_cur < wanted_open_files) {
    struct rlimit raised = inherited_open_files;
    raised.rlim_cur = std::min(inherited_open_files.rlim_max, wanted_open_files);
    open_files_raised = ::setrlimit(RLIMIT_NOFILE, &raised) == 0;
  }
  return {};
}

void restore_inherited_limits() {
  if (open_files_raised) ::setrlimit(RLIMIT_NOFILE, &inherited_open_files);
}

}  // namespace ovlmount
