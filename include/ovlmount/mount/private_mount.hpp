// Why: run, export and files need an image's or container's merged tree without showing a
// mount to anyone else and without leaving one behind. The process moves into a mount
// namespace of its own whose mounts are all private (nothing mounted there reaches the
// host's namespace) and mounts the overlay there, at <state>/scratch/<name>/merged, with its
// upper and work dirs beside it when it is writable. The scratch dir is held (an flock) while
// the process lives; the mounts die with the namespace whatever ends the process, and
// `ovlmount cleanup` removes a scratch dir no process holds.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/fd.hpp"
#include "ovlmount/core/root_dir.hpp"
#include "ovlmount/mount/mount_plan.hpp"
#include "ovlmount/mount/mounter.hpp"
#include "ovlmount/mount/registry.hpp"
#include "ovlmount/store/resolver.hpp"

#include <string>

namespace ovlmount {

// How to mount privately.
struct PrivateMountRequest {
  bool writable = false;  // on the scratch dir's own upper/ and work/ (unless `upper` is set)
  std::string upper;      // absolute, existing: the caller's --upper (then `work` too)
  std::string work;
  bool devices = false;   // allow device nodes (no nodev); nosuid always
};

// Moves this process into a new mount namespace in which every mount is private; the first
// call does it, later calls do nothing. Call it before opening the store's roots: overlayfs
// refuses layers reached through a descriptor of another namespace's mount. Fails (exit 1)
// without CAP_SYS_ADMIN.
Result<void> enter_private_namespace();

// An overlay mounted in this process's private namespace.
class PrivateMount {
 public:
  // Enters the private namespace and mounts `stack` (its layer dirs beneath `data_root`) as
  // `request` asks, at the merged/ dir of a fresh scratch dir of `registry`, which is held
  // until this object goes away. A usage error when the state dir overlaps the data root; the
  // mounter's error when the mount fails, leaving no dir behind.
  static Result<PrivateMount> create(const Stack& stack, const RootDir& data_root, const Registry& registry,
                                     Mounter& mounter, const PrivateMountRequest& request);

  PrivateMount(PrivateMount&& other) noexcept;
  PrivateMount& operator=(PrivateMount&&) = delete;

  // Unmounts (detached) and removes the scratch dir, unless keep() was called.
  ~PrivateMount();

  // The merged tree (absolute).
  const std::string& root() const { return root_; }

  // The scratch dir (absolute); its upper/ holds the changes of a writable mount.
  const std::string& scratch() const { return scratch_; }

  // What was mounted.
  const MountPlan& plan() const { return plan_; }

  // Leaves the scratch dir, with its upper/, in place when this object goes away, marked
  // "kept" so that `cleanup` does not remove it.
  Result<void> keep();

 private:
  PrivateMount(const Registry& registry, std::string scratch, UniqueFd hold, MountPlan plan);

  const Registry* registry_;
  std::string scratch_;
  std::string root_;
  UniqueFd hold_;
  MountPlan plan_;
  bool kept_ = false;
  bool mounted_ = false;
};

}  // namespace ovlmount
