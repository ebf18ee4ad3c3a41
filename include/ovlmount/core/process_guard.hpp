// Why: ovlmount runs as root and must not be turned against the system by how it is started.
// Installed setuid or setgid (or with file capabilities), any user could make it mount over
// any path, so it refuses to run at all then. Its files (records, scratch dirs, exports) get
// the modes it asks for whatever umask it inherited.
#pragma once

#include "ovlmount/core/error.hpp"

namespace ovlmount {

// Refuses (failure naming the program) when the kernel started this process in secure mode
// (AT_SECURE: setuid, setgid or file capabilities); then sets umask 022.
Result<void> guard_process_start(const char* program);

}  // namespace ovlmount
