// Why: see mount_table.hpp. libmount decodes mountinfo's octal escapes (spaces in targets).
#include "ovlmount/mount/mount_table.hpp"

#include "ovlmount/mount/mount_plan.hpp"

#include <libmount/libmount.h>

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

bool is_ovlmount_mount(const MountEntry& entry, const std::string& target, std::uint64_t mnt_id) {
  return entry.target == target && entry.fstype == "overlay" && entry.source == mount_source &&
         (mnt_id == 0 || entry.id == mnt_id);
}

}  // namespace ovlmount
