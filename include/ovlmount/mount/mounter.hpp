// Why: the only code that asks the kernel to mount or unmount. It sits behind an interface so
// the command logic can be tested with a fake; the real one, KernelMounter, is exercised by
// the integration tests against the real kernel.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/root_dir.hpp"
#include "ovlmount/mount/mount_plan.hpp"

#include <cstdint>
#include <string>

namespace ovlmount {

// The kernel's ID of one mount, as mountinfo's first field and statx(STATX_MNT_ID) give it;
// 0 when unknown.
using MountId = std::uint64_t;

// Performs mount plans and unmounts targets.
class Mounter {
 public:
  virtual ~Mounter() = default;

  // Mounts `plan`, whose layer dirs are read beneath `data_root`, on the directory at
  // plan.target, reached without following any symlink (a path swapped for a symlink during
  // the call fails, it is never followed). Returns the new mount's ID. On failure nothing is
  // mounted and the error (a mount error naming the target) says what the kernel refused.
  virtual Result<MountId> mount(const MountPlan& plan, const RootDir& data_root) = 0;

  // Unmounts the mount whose root is `target` (lazily: detach now, clean up when no longer
  // busy), reached without following any symlink; when `expected` is not 0 only if it is that
  // mount. Refuses a target that is not a mount point.
  virtual Result<void> unmount(const std::string& target, bool lazy, MountId expected) = 0;

  // Bind-mounts `bind`'s source read-only (ro, nosuid, nodev, noatime, private propagation) on
  // its destination inside the overlay `plan` mounted. The destination must exist in the
  // mounted tree, reached without following any symlink, and be of the source's type; an
  // in-store source is opened beneath `volume_root`. On failure nothing is mounted.
  virtual Result<void> bind(const MountPlan& plan, const BindPlan& bind, const RootDir& volume_root) = 0;
};

// The real Mounter. Every layer (and upper/work) is a directory opened O_PATH beneath the data
// root and handed to the kernel as that descriptor: it follows none of Docker's l/ symlinks, so
// changes no atime in the data root, and makes the kernel use exactly the directories that were
// checked. Where the kernel takes layers one by one (fsconfig "lowerdir+", Linux 6.8) the
// overlay is built detached (fsopen/fsmount) and moved onto the target's descriptor; older
// kernels get one mount(2) call with /proc/self/fd/N paths (~18 bytes a layer, so 128 layers fit
// a page whatever the data root's path) onto /proc/self/fd/N of the target.
class KernelMounter final : public Mounter {
 public:
  Result<MountId> mount(const MountPlan& plan, const RootDir& data_root) override;
  Result<void> unmount(const std::string& target, bool lazy, MountId expected) override;
  Result<void> bind(const MountPlan& plan, const BindPlan& bind, const RootDir& data_root) override;
};

}  // namespace ovlmount
