// Why: see private_mount.hpp.
#include "ovlmount/mount/private_mount.hpp"

#include "ovlmount/core/paths.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <utility>

namespace ovlmount {

Result<void> enter_private_namespace() {
  static bool entered = false;
  if (entered) return {};
  if (::unshare(CLONE_NEWNS) != 0)
    return failure("mount namespace", "cannot make a private one: " + errno_text(errno) + " (needs root)");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return failure("mount namespace", "cannot make its mounts private: " + errno_text(errno));
  entered = true;
  return {};
}

Result<PrivateMount> PrivateMount::create(const Stack& stack, const RootDir& data_root, const Registry& registry,
                                          Mounter& mounter, const PrivateMountRequest& request) {
  if (auto entered = enter_private_namespace(); !entered) return entered.error();
  char state[PATH_MAX];
  const std::string state_dir = ::realpath(registry.dir().c_str(), state) ? std::string(state) : registry.dir();
  if (paths_overlap(state_dir, data_root.path()))
    return usage_error(registry.dir(), "state dir overlaps the data root " + data_root.path() + " (it is never written)");
  std::string scratch;
  UniqueFd hold;
  {
    auto lock = registry.lock(true);
    if (!lock) return lock.error();
    auto made = registry.create_scratch();
    if (!made) return made.error();
    scratch = *made;
    auto held = registry.hold_scratch(scratch);
    if (!held) {
      (void)registry.remove_scratch(scratch);
      return held.error();
    }
    hold = std::move(*held);
  }
  MountRequest mount_request;
  mount_request.target = scratch + "/merged";
  if (!request.upper.empty()) {
    mount_request.upper = request.upper;
    mount_request.work = request.work;
  } else if (request.writable) {
    mount_request.upper = scratch + "/upper";
    mount_request.work = scratch + "/work";
    mount_request.scratch = true;
  } else if (stack.layers.size() == 1) {
    auto empty = registry.empty_dir();
    if (!empty) {
      (void)registry.remove_scratch(scratch);
      return empty.error();
    }
    mount_request.empty_lower = *empty;
  }
  MountPlan plan = plan_mount(stack, data_root.path(), std::move(mount_request));
  plan.devices = request.devices;
  PrivateMount mounted(registry, std::move(scratch), std::move(hold), std::move(plan));
  if (::mkdir(mounted.root_.c_str(), 0755) != 0) return failure(mounted.root_, "cannot create: " + errno_text(errno));
  if (auto done = mounter.mount(mounted.plan_, data_root); !done) return done.error();
  mounted.mounted_ = true;
  return mounted;
}

PrivateMount::PrivateMount(const Registry& registry, std::string scratch, UniqueFd hold, MountPlan plan)
    : registry_(&registry),
      scratch_(std::move(scratch)),
      root_(scratch_ + "/merged"),
      hold_(std::move(hold)),
      plan_(std::move(plan)) {}

PrivateMount::PrivateMount(PrivateMount&& other) noexcept
    : registry_(other.registry_),
      scratch_(std::move(other.scratch_)),
      root_(std::move(other.root_)),
      hold_(std::move(other.hold_)),
      plan_(std::move(other.plan_)),
      kept_(other.kept_),
      mounted_(std::exchange(other.mounted_, false)) {
  other.scratch_.clear();
}

PrivateMount::~PrivateMount() {
  if (scratch_.empty()) return;
  if (mounted_) ::umount2(root_.c_str(), MNT_DETACH);
  if (!kept_) (void)registry_->remove_scratch(scratch_);
}

Result<void> PrivateMount::keep() {
  const std::string marker = scratch_ + "/kept";
  std::ofstream out(marker);
  out << plan_.image_id << "\n";
  if (!out) return failure(marker, "cannot write");
  kept_ = true;
  return {};
}

}  // namespace ovlmount
