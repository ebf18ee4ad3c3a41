// Why: see mount_table.hpp. libmount decodes mountinfo's octal escapes (spaces in targets).
#include "ovlmount/mount/mount_table.hpp"

#include "ovlmount/core/fd.hpp"
#include "ovlmount/mount/mount_plan.hpp"

#include <fcntl.h>
#include <libmount/libmount.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <memory>

namespace ovlmount {
namespace {

std::string text_or_empty(const char* text) { return text ? text : ""; }

}  // namespace

Result<std::vector<MountEntry>> ProcMountTable::read() const {
  constexpr const char* path = "/proc/self/mountinfo";
  const std::unique_ptr<libmnt_table, void (*)(libmnt_table*)> table(mnt_new_table_from_file(path),
                                                                      mnt_unref_table);
  if (!table) return failure(path, "cannot read the mount table");
  const std::unique_ptr<libmnt_iter, void (*)(libmnt_iter*)> iter(mnt_new_iter(MNT_ITER_FORWARD),
                                                                   mnt_free_iter);
  std::vector<MountEntry> entries;
  libmnt_fs* fs = nullptr;
  while (mnt_table_next_fs(table.get(), iter.get(), &fs) == 0) {
    char* options = mnt_fs_strdup_options(fs);
    entries.push_back({static_cast<std::uint64_t>(std::max(mnt_fs_get_id(fs), 0)), text_or_empty(mnt_fs_get_target(fs)), text_or_empty(mnt_fs_get_fstype(fs)),
                       text_or_empty(mnt_fs_get_source(fs)), text_or_empty(options)});
    std::free(options);
  }
  return entries;
}

PathMount ProcMountTable::mount_at(const std::string& path) const {
  PathMount result;
  const UniqueFd fd = open_without_symlinks(path, O_PATH | O_DIRECTORY);
  struct statx st {};
  if (!fd || ::statx(fd.get(), "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &st) != 0 ||
      !(st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) || !(st.stx_mask & STATX_MNT_ID))
    return result;
  result.known = true;
  result.is_root = (st.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  result.id = st.stx_mnt_id;
  struct statfs fs {};
  result.overlay = ::fstatfs(fd.get(), &fs) == 0 && fs.f_type == OVERLAYFS_SUPER_MAGIC;
  return result;
}

MountIndex::MountIndex(std::vector<MountEntry> entries) : entries_(std::move(entries)) {
  by_id_.reserve(entries_.size());
  by_target_.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    by_id_.emplace(entries_[i].id, i);
    by_target_.emplace(entries_[i].target, i);
  }
}

const MountEntry* MountIndex::ovlmount_at(const std::string& target) const {
  const auto [begin, end] = by_target_.equal_range(target);
  for (auto it = begin; it != end; ++it)
    if (is_ovlmount_mount(entries_[it->second], target)) return &entries_[it->second];
  return nullptr;
}

const MountEntry* MountIndex::with_id(std::uint64_t id) const {
  const auto found = by_id_.find(id);
  return found == by_id_.end() ? nullptr : &entries_[found->second];
}

bool MountIndex::is_mount_point(const std::string& path) const { return by_target_.contains(path); }

bool is_ovlmount_mount(const MountEntry& entry, const std::string& target, std::uint64_t mnt_id) {
  return entry.target == target && entry.fstype == "overlay" && entry.source == mount_source &&
         (mnt_id == 0 || entry.id == mnt_id);
}

}  // namespace ovlmount
