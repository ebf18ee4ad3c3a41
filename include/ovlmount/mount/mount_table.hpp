// Why: whether a recorded mount still exists is the kernel's answer, not ours. This seam reads
// /proc/self/mountinfo (through libmount) so the registry can be reconciled with it.
#pragma once

#include "ovlmount/core/error.hpp"

#include <cstdint>
#include <string>
#include <unordered_map>
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

// What is mounted at one path, as a look at that path alone (not the whole table) shows.
struct PathMount {
  bool known = false;    // false: the kernel cannot say (before Linux 5.8), or the path is unreachable
  bool is_root = false;  // the path is the root of a mount (the topmost one there)
  std::uint64_t id = 0;  // that mount's ID
  bool overlay = false;  // that mount is an overlay
};

// A source of the current mount table.
class MountTable {
 public:
  virtual ~MountTable() = default;

  // The mounts visible to this process, in mountinfo order.
  virtual Result<std::vector<MountEntry>> read() const = 0;

  // The mount whose root is the directory at the absolute `path`, reached without following
  // any symlink. Costs a few system calls whatever the number of mounts, where read() grows
  // with it; mounts hidden under another mount are only in read().
  virtual PathMount mount_at(const std::string& path) const = 0;
};

// The real table: /proc/self/mountinfo parsed by libmount, and statx of single paths.
class ProcMountTable final : public MountTable {
 public:
  Result<std::vector<MountEntry>> read() const override;
  PathMount mount_at(const std::string& path) const override;
};

// A read of the mount table, indexed so that each per-record question costs the same with
// 1,000 mounts as with one.
class MountIndex {
 public:
  explicit MountIndex(std::vector<MountEntry> entries = {});

  // An ovlmount overlay whose target is `target`, or nullptr.
  const MountEntry* ovlmount_at(const std::string& target) const;
  // The mount with ID `id`, or nullptr.
  const MountEntry* with_id(std::uint64_t id) const;
  // True when some mount's target is `path`.
  bool is_mount_point(const std::string& path) const;

 private:
  std::vector<MountEntry> entries_;
  std::unordered_map<std::uint64_t, size_t> by_id_;
  std::unordered_multimap<std::string, size_t> by_target_;
};

// True when `entry` is an overlay mounted by ovlmount at `target` (and, when `mnt_id` is not 0,
// the mount with that ID).
bool is_ovlmount_mount(const MountEntry& entry, const std::string& target, std::uint64_t mnt_id = 0);

}  // namespace ovlmount
