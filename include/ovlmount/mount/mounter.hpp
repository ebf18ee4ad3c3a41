// Why: the only code that asks the kernel to mount or unmount. It sits behind an interface so
// the command logic can be tested with a fake; the real one, LibmountMounter, is exercised by
// the integration tests against the real kernel.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/root_dir.hpp"
#include "ovlmount/mount/mount_plan.hpp"

#include <string>

namespace ovlmount {

// Performs mount plans and unmounts targets.
class Mounter {
 public:
  virtual ~Mounter() = default;

  // Mounts `plan`, whose layer dirs are read beneath `data_root`. On failure nothing is
  // mounted and the error (a mount error naming the target) says what the kernel refused.
  virtual Result<void> mount(const MountPlan& plan, const RootDir& data_root) = 0;

  // Unmounts the mount at `target` (lazily: detach now, clean up when no longer busy).
  virtual Result<void> unmount(const std::string& target, bool lazy) = 0;

  // Bind-mounts `bind`'s source read-only (ro, nosuid, nodev, noatime, private propagation) on
  // its destination inside the overlay `plan` mounted. The destination must exist in the
  // mounted tree, reached without following any symlink, and be of the source's type; an
  // in-store source is opened beneath `volume_root`. On failure nothing is mounted.
  virtual Result<void> bind(const MountPlan& plan, const BindPlan& bind, const RootDir& volume_root) = 0;
};

// The real Mounter: libmount, with every layer (and upper/work) passed as /proc/self/fd/N of a
// directory opened O_PATH beneath the data root. That keeps each layer to ~18 bytes of mount
// data (128 layers fit a page whatever the data root's path), follows none of Docker's l/
// symlinks and so changes no atime in the data root, and makes the kernel use exactly the
// directories that were checked.
class LibmountMounter final : public Mounter {
 public:
  Result<void> mount(const MountPlan& plan, const RootDir& data_root) override;
  Result<void> unmount(const std::string& target, bool lazy) override;
  Result<void> bind(const MountPlan& plan, const BindPlan& bind, const RootDir& data_root) override;
};

}  // namespace ovlmount
