// Why: whether a recorded mount still exists is the kernel's answer, not ours. This seam reads
// /proc/self/mountinfo (through libmount) so the registry can be reconciled with it.
#pragma once

#include "ovlmount/core/error.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ovlmount {

// One line of mountinfo.
struct MountEntry {
  std::uint64_t id = 0;  // the kernel's mount ID
  std::string target;
  std::string fstype;
  std::string source;
  std::string options;  // VFS and filesystem options, comma-separated
};

// A source of the current mount table.
class MountTable {
 public:
  virtual ~MountTable() = default;

  // The mounts visible to this process, in mountinfo order.
  virtual Result<std::vector<MountEntry>> read() const = 0;
};

// The real table: /proc/self/mountinfo parsed by libmount.
class ProcMountTable final : public MountTable {
 public:
  Result<std::vector<MountEntry>> read() const override;
};

// True when `entry` is an overlay mounted by ovlmount at `target` (and, when `mnt_id` is not 0,
// the mount with that ID).
bool is_ovlmount_mount(const MountEntry& entry, const std::string& target, std::uint64_t mnt_id = 0);

}  // namespace ovlmount
