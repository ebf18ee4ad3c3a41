// Why: a mount outlives its process, so a crash between any two steps of mount, umount or
// cleanup must leave a state that `list` and `cleanup` can reconcile. The crash tests need to
// kill the process at an exact step; a named fault point does that when the test asks for it
// and exists only in builds with the CMake option OVLMOUNT_FAULT_POINTS (on with the tests):
// a release build has no such code and reads no such environment variable.
#pragma once

namespace ovlmount {

#ifdef OVLMOUNT_FAULT_POINTS
// Kills this process with SIGKILL, at once, when the environment variable OVLMOUNT_FAULT_POINT
// is `name` (at its first pass) or `name@N` (at its Nth pass); otherwise does nothing.
void fault_point(const char* name);
#else
inline void fault_point(const char*) {}
#endif

}  // namespace ovlmount
