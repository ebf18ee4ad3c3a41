// Why: ovlmount runs as root and must not be turned against the system by how it is started.
// Installed setuid or setgid (or with file capabilities), any user could make it mount over
// any path, so it refuses to run at all then. Its files (records, scratch dirs, exports) get
// the modes it asks for whatever umask it inherited, and a deep tree does not run it out of
// descriptors under the usual soft limit of 1024.
#pragma once

#include "ovlmount/core/error.hpp"

namespace ovlmount {

// Refuses (failure naming the program) when the kernel started this process in secure mode
// (AT_SECURE: setuid, setgid or file capabilities); then sets umask 022 and raises the soft
// limit of open files to the hard one (at most 65536): a tree walk holds a descriptor per
// directory level, up to max_tree_depth (overlay_marks.hpp), beside the layers' descriptors.
Result<void> guard_process_start(const char* program);

// Puts back the soft limit of open files this process started with, in a forked child about to
// execute another program (async-signal-safe), as Go's os/exec does after raising it.
void restore_inherited_limits();

}  // namespace ovlmount
