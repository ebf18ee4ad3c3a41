// Why: see commands.hpp.
#include "ovlmount/cli/commands.hpp"

#include "ovlmount/core/fault_point.hpp"
#include "ovlmount/core/json_output.hpp"
#include "ovlmount/core/paths.hpp"
#include "ovlmount/mount/mount_plan.hpp"
#include "ovlmount/store/resolver.hpp"

#include <boost/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>

namespace ovlmount {
namespace {

namespace json = boost::json;

Result<std::string> canonical_dir(const std::string& path, const std::string& what) {
  char resolved[PATH_MAX];
  if (!::realpath(path.c_str(), resolved)) {
    if (errno == ENOENT) return not_found(path, what + " does not exist");
    return failure(path, errno_text(errno));
  }
  struct stat st {};
  if (::stat(resolved, &st) != 0) return failure(path, errno_text(errno));
  if (!S_ISDIR(st.st_mode)) return failure(path, what + " is not a directory");
  return std::string(resolved);
}

// 0 when the absolute, normal `path` is a directory reached without any symlink, else the errno
// saying why not. Only its parent is opened: a descriptor of the directory itself (an overlay
// mounted there) would make a concurrent umount of it fail as busy.
int directory_errno(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string name = path.substr(slash + 1);
  if (name.empty()) return open_without_symlinks(path, O_PATH | O_DIRECTORY) ? 0 : errno;
  const UniqueFd parent = open_without_symlinks(slash == 0 ? "/" : path.substr(0, slash), O_PATH | O_DIRECTORY);
  if (!parent) return errno;
  struct stat st {};
  if (::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  if (S_ISLNK(st.st_mode)) return ELOOP;
  return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

// The absolute, lexically normal form of the directory `path`, which must be reached without
// following any symlink: a mount lands exactly where the path says, never where a symlink
// (perhaps swapped in meanwhile) points. The mounter opens it the same way again.
Result<std::string> real_target_dir(const std::string& path, const std::string& what) {
  const std::string absolute = absolute_normal_path(path);
  const int errnum = directory_errno(absolute);
  if (errnum == 0) return absolute;
  if (errnum == ENOENT) return not_found(path, what + " does not exist");
  if (errnum == ENOTDIR) return failure(path, what + " is not a directory");
  if (errnum != ELOOP) return failure(path, errno_text(errnum));
  char resolved[PATH_MAX];
  if (!::realpath(absolute.c_str(), resolved)) return usage_error(path, what + " is reached through a symlink");
  return usage_error(path, what + " is reached through a symlink; give its real path " + resolved);
}

// Where the overlay `record` describes is mounted now: its target, or another path when a
// parent dir has been renamed since; nullopt when it is gone. Records without a mount ID
// match any ovlmount overlay at their target.
std::optional<std::string> mounted_at(const MountIndex& mounts, const MountRecord& record) {
  if (record.mnt_id != 0) {
    const MountEntry* entry = mounts.with_id(record.mnt_id);
    if (entry && is_ovlmount_mount(*entry, entry->target)) return entry->target;
    return std::nullopt;
  }
  if (mounts.ovlmount_at(record.target)) return record.target;
  return std::nullopt;
}

bool is_mounted(const MountIndex& mounts, const MountRecord& record) { return mounted_at(mounts, record).has_value(); }

// True when a look at the record's target alone shows its overlay still there (same mount ID)
// and nothing else of the record (a submount) needs the whole mount table.
bool still_at_target(const MountRecord& record, const MountTable& table) {
  if (record.mnt_id == 0 || !record.submounts.empty()) return false;
  const PathMount there = table.mount_at(record.target);
  return there.known && there.is_root && there.overlay && there.id == record.mnt_id;
}

// The steps of a mount to undo if it fails: run newest first on destruction unless disarmed.
class Rollback {
 public:
  Rollback() = default;
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;
  ~Rollback() {
    for (auto undo = undos_.rbegin(); undo != undos_.rend(); ++undo) (*undo)();
  }
  void add(std::function<void()> undo) { undos_.push_back(std::move(undo)); }
  void disarm() { undos_.clear(); }

 private:
  std::vector<std::function<void()>> undos_;
};

// Creates directory `path` unless it exists, undoing the creation if the mount fails.
Result<void> make_dir(const std::string& path, mode_t mode, Rollback& rollback) {
  if (::mkdir(path.c_str(), mode) == 0) {
    rollback.add([path] { ::rmdir(path.c_str()); });
    return {};
  }
  if (errno == EEXIST) return {};
  if (errno == ENOENT) return not_found(path, "parent directory does not exist");
  return failure(path, "cannot create directory: " + errno_text(errno));
}

Result<bool> is_empty_dir(const std::string& path) {
  std::error_code ec;
  const bool empty = std::filesystem::is_empty(path, ec);
  if (ec) return failure(path, "cannot read: " + ec.message());
  return empty;
}

// Checks (and creates when missing) the user's --upper and --work dirs.
Result<std::pair<std::string, std::string>> prepare_upper_work(const MountArgs& args,
                                                               const std::vector<std::string>& store_roots,
                                                               const std::string& target, Rollback& rollback) {
  const std::string wanted_upper = resolved_path(args.upper);
  const std::string wanted_work = resolved_path(args.work);
  for (const auto& [path, name] : {std::pair{wanted_upper, "upper dir"}, std::pair{wanted_work, "work dir"}}) {
    for (const std::string& root : store_roots)
      if (is_within(path, root) || is_within(root, path))
        return usage_error(path, std::string(name) + " overlaps the data root " + root + " (it is never written)");
    if (is_within(path, target) || is_within(target, path))
      return usage_error(path, std::string(name) + " overlaps the mount target " + target);
  }
  if (auto made = make_dir(wanted_upper, 0755, rollback); !made) return made.error();
  if (auto made = make_dir(wanted_work, 0700, rollback); !made) return made.error();
  auto upper = canonical_dir(wanted_upper, "upper dir");
  if (!upper) return upper.error();
  auto work = canonical_dir(wanted_work, "work dir");
  if (!work) return work.error();
  if (is_within(*upper, *work) || is_within(*work, *upper))
    return usage_error(*work, "upper and work dirs must be separate, neither inside the other");
  struct stat upper_stat {}, work_stat {};
  if (::stat(upper->c_str(), &upper_stat) != 0) return failure(*upper, errno_text(errno));
  if (::stat(work->c_str(), &work_stat) != 0) return failure(*work, errno_text(errno));
  if (upper_stat.st_dev != work_stat.st_dev)
    return usage_error(*work, "work dir is not on the same filesystem as the upper dir " + *upper);
  struct statfs upper_fs {};
  if (::statfs(upper->c_str(), &upper_fs) == 0 && upper_fs.f_type == OVERLAYFS_SUPER_MAGIC)
    return usage_error(*upper, "upper dir is on an overlay filesystem, which cannot hold an upper dir");
  auto empty = is_empty_dir(*work);
  if (!empty) return empty.error();
  if (!*empty) return usage_error(*work, "work dir is not empty");
  return std::pair{*upper, *work};
}

void print_plan(const MountPlan& plan, const Stack& image, std::ostream& out) {
  if (image.container)
    out << "container: " << image.container->id << " (" << escape(image.container->name) << ")\n";
  out << "image:     " << image.image_id << "\n"
      << "reference: " << escape(image.reference) << "\n"
      << "data root: " << escape(plan.data_root) << "\n"
      << "layers:    " << image.layers.size() << " (top first)\n";
  for (size_t i = image.layers.size(); i-- > 0;) {
    const Layer& layer = image.layers[i];
    out << "  " << i + 1 << "  " << (layer.role == LayerRole::image ? layer.diff_id : role_name(layer.role))
        << "  " << escape(plan.data_root + "/" + layer.dir) << "\n";
  }
  for (const BindPlan& bind : plan.binds)
    out << "volume:    " << escape(bind.in_store ? plan.volume_root + "/" + bind.source : bind.source) << " -> "
        << escape(bind.target) << " (ro,nosuid,nodev)\n";
  if (!plan.target.empty()) out << "target:    " << escape(plan.target) << "\n";
  if (!plan.read_only()) out << "upper:     " << escape(plan.upper) << "\nwork:      " << escape(plan.work) << "\n";
  out << "options:   " << escape(display_options(plan)) << "\n";
}

}  // namespace

json::object resolve_json(const Stack& image, const std::string& data_root) {
  json::array layers;
  json::array lowerdir;
  for (const Layer& layer : image.layers)
    layers.push_back(json::object{{"diff_id", string_or_null(layer.diff_id)},
                                  {"chain_id", string_or_null(layer.chain_id)},
                                  {"cache_id", layer.cache_id},
                                  {"path", data_root + "/" + layer.dir}});
  for (auto layer = image.layers.rbegin(); layer != image.layers.rend(); ++layer)
    lowerdir.emplace_back(data_root + "/" + layer->dir);
  return {{"image_id", image.image_id},
          {"reference", image.reference},
          {"data_root", data_root},
          {"layers", std::move(layers)},
          {"lowerdir", std::move(lowerdir)}};
}

namespace {

// The volume binds `args` asks for, each one checked; the ones that cannot be made are
// reported on `err` and left out.
std::vector<BindPlan> plan_binds(const Stack& stack, const MountPlan& plan, const MountArgs& args,
                                 const RootDir& volume_root, std::ostream& err) {
  std::vector<BindPlan> binds;
  if (!args.volumes || !stack.container) return binds;
  for (const VolumeMount& volume : stack.container->mounts) {
    const std::string where = plan.target + volume.destination;
    if (volume.type != "volume" && volume.type != "bind") {
      err << failure(where, "not bound: a " + volume.type + " mount has no source to bind").message() << "\n";
      continue;
    }
    if (!volume.in_store) {
      if (volume.type == "volume") {
        err << failure(where, "not bound: volume \"" + volume.name + "\" is not a local volume of the data root").message()
            << "\n";
        continue;
      }
      if (!args.host_binds) {
        err << failure(where, "not bound: its source " + volume.source +
                                  " is a path of the original host (--host-binds binds it)").message()
            << "\n";
        continue;
      }
    } else if (auto kind = volume_root.kind(volume.source); !kind || *kind != EntryKind::directory) {
      err << not_found(where, "not bound: volume source " + volume_root.absolute(volume.source) +
                                  (kind ? " is missing" : ": " + kind.error().problem)).message()
          << "\n";
      continue;
    }
    binds.push_back(plan_bind(plan, volume));
  }
  return binds;
}

Result<void> mount_one(const Stores& stores, const MountArgs& args, const Registry& registry, Mounter& mounter,
                       const MountTable& table, std::ostream& out, std::ostream& err) {
  auto resolved = stores.resolve(args.image, args.kind == SourceKind::container ? Lookup::container : Lookup::image);
  if (!resolved) return resolved.error();
  const RootDir& data_root = *resolved->store->root;
  const RootDir& volume_root = resolved->store->store->volume_root();
  const std::vector<std::string> store_roots{data_root.path(), volume_root.path()};
  const Stack* image = &resolved->stack;
  const std::string state_dir = resolved_path(registry.dir());
  for (const std::string& root : store_roots)
    if (is_within(state_dir, root) || is_within(root, state_dir))
      return usage_error(registry.dir(), "state dir overlaps the data root " + root + " (it is never written)");
  auto target = real_target_dir(args.target, "mount target");
  if (!target) return target.error();
  for (const std::string& root : store_roots)
    if (is_within(*target, root) || is_within(root, *target))
      return usage_error(*target, "mount target overlaps the data root " + root);
  MountRequest request;
  request.target = *target;
  if (args.dry_run) {
    if (!args.upper.empty()) {
      request.upper = resolved_path(args.upper);
      request.work = resolved_path(args.work);
    } else if (args.writable) {
      request.upper = registry.dir() + "/scratch/<new>/upper";
      request.work = registry.dir() + "/scratch/<new>/work";
    } else {
      request.empty_lower = registry.dir() + "/empty";
    }
    MountPlan plan = plan_mount(*image, data_root.path(), request);
    plan.volume_root = volume_root.path();
    plan.binds = plan_binds(*image, plan, args, volume_root, err);
    print_plan(plan, *image, out);
    return {};
  }

  auto lock = registry.lock(true);
  if (!lock) return lock.error();
  auto stale = registry.find(*target);
  if (!stale) return stale.error();
  if (const PathMount there = table.mount_at(*target); *stale || !there.known || there.is_root) {
    auto mounts = table.read();
    if (!mounts) return mounts.error();
    if (MountIndex(std::move(*mounts)).ovlmount_at(*target))
      return failure(*target, "an ovlmount overlay is already mounted here (ovlmount umount it first)");
  }

  Rollback rollback;
  std::string scratch;
  if (!args.upper.empty()) {
    auto dirs = prepare_upper_work(args, store_roots, *target, rollback);
    if (!dirs) return dirs.error();
    request.upper = dirs->first;
    request.work = dirs->second;
  } else if (args.writable) {
    auto made = registry.create_scratch();
    if (!made) return made.error();
    scratch = *made;
    rollback.add([&registry, scratch] { (void)registry.remove_scratch(scratch); });
    request.upper = scratch + "/upper";
    request.work = scratch + "/work";
    request.scratch = true;
  } else if (image->layers.size() == 1) {
    auto empty = registry.empty_dir();
    if (!empty) return empty.error();
    request.empty_lower = *empty;
  }

  MountPlan plan = plan_mount(*image, data_root.path(), request);
  plan.store = resolved->store->label;
  plan.volume_root = volume_root.path();
  plan.binds = plan_binds(*image, plan, args, volume_root, err);
  MountRecord record = make_record(plan, scratch);
  if (auto saved = registry.save(record); !saved) return saved.error();
  rollback.add([&registry, target = record.target, previous = *stale] {
    (void)(previous ? registry.save(*previous) : registry.remove(target));
  });
  fault_point("mount.recorded");
  auto mounted = mounter.mount(plan, data_root);
  if (!mounted) return mounted.error();
  fault_point("mount.mounted");
  std::vector<std::string> bound;
  rollback.add([&mounter, &bound, target = plan.target, mnt_id = *mounted] {
    for (auto sub = bound.rbegin(); sub != bound.rend(); ++sub) (void)mounter.unmount(*sub, true, 0);
    (void)mounter.unmount(target, true, mnt_id);
  });
  for (const BindPlan& bind : plan.binds) {
    if (auto done = mounter.bind(plan, bind, volume_root); done) {
      bound.push_back(bind.target);
      fault_point("mount.volume_bound");
    } else {
      Error skipped = done.error();
      skipped.problem = "not bound: " + skipped.problem;
      err << skipped.message() << "\n";
    }
  }
  record.submounts = bound;
  record.mnt_id = *mounted;
  if (auto saved = registry.save(record); !saved) return saved.error();
  rollback.disarm();
  if (*stale && !(*stale)->scratch.empty()) (void)registry.remove_scratch((*stale)->scratch);
  fault_point("mount.done");
  out << "mounted ";
  if (image->container)
    out << "container " << escape(image->container->name) << " (" << image->container->id.substr(0, 12) << ", image ";
  else
    out << escape(image->reference) << " (";
  out << image->image_id.substr(0, 19) << ", " << image->layers.size()
      << (image->layers.size() == 1 ? " layer, " : " layers, ") << (plan.read_only() ? "read-only" : "writable");
  if (!bound.empty()) out << ", " << bound.size() << (bound.size() == 1 ? " volume" : " volumes");
  out << ") at " << escape(plan.target) << "\n";
  return {};
}

Result<void> mount_every_container(const Stores& stores, const MountArgs& args, const Registry& registry,
                                   Mounter& mounter, const MountTable& table, std::ostream& out, std::ostream& err) {
  auto dir = real_target_dir(args.target, "directory for the container mounts");
  if (!dir) return dir.error();
  std::optional<Error> first_failure;
  for (const StoreEntry& entry : stores.entries()) {
    auto ids = entry.store->container_ids();
    if (!ids) return ids.error();
    for (const std::string& id : *ids) {
      auto container = entry.store->container(id);
      Result<void> mounted = container ? Result<void>() : Result<void>(container.error());
      if (mounted) {
        MountArgs one = args;
        one.all = false;
        one.image = id;
        one.target = *dir + "/" + container->name;
        Rollback rollback;
        mounted = make_dir(one.target, 0755, rollback);
        if (mounted) mounted = mount_one(stores, one, registry, mounter, table, out, err);
        if (mounted || args.dry_run) rollback.disarm();
      }
      if (!mounted) {
        err << mounted.error().message() << "\n";
        if (!first_failure) first_failure = mounted.error();
      }
    }
  }
  if (first_failure) return *first_failure;
  return {};
}

// Removes `record` and its scratch dir (the mount must already be gone).
Result<void> forget_record(const MountRecord& record, const Registry& registry) {
  if (!record.scratch.empty())
    if (auto removed = registry.remove_scratch(record.scratch); !removed) return removed.error();
  fault_point("forget.scratch_removed");
  return registry.remove(record.target);
}

// Unmounts (when mounted: `where` says where it is now) and forgets one recorded target, its
// submounts (looked up in `mounts`) first.
Result<void> unmount_record(const MountRecord& record, const std::optional<std::string>& where,
                            const MountIndex& mounts, bool lazy, const Registry& registry,
                            Mounter& mounter) {
  for (auto sub = record.submounts.rbegin(); sub != record.submounts.rend(); ++sub) {
    if (!mounts.is_mount_point(*sub)) continue;
    if (auto unmounted = mounter.unmount(*sub, lazy, 0); !unmounted) return unmounted.error();
    fault_point("umount.submount_unmounted");
  }
  if (where) {
    if (*where != record.target)
      return mount_error(record.target, "its overlay was moved to " + *where +
                                            " (a parent dir was renamed); rename it back, then umount");
    if (auto unmounted = mounter.unmount(record.target, lazy, record.mnt_id); !unmounted) return unmounted.error();
    fault_point("umount.overlay_unmounted");
  }
  if (auto forgotten = forget_record(record, registry); !forgotten) return forgotten.error();
  fault_point("umount.record_removed");
  return {};
}

// The registry, locked, with its records and the mount table read under the lock.
struct LockedState {
  UniqueFd lock;
  RegistryListing listing;
  MountIndex mounts;
};

// Locks the registry, loads it and reads the mount table; problems with single records are
// reported on `err` and skipped.
Result<LockedState> lock_and_load(const Registry& registry, const MountTable& table, bool exclusive,
                                  std::ostream& err) {
  auto lock = registry.lock(exclusive);
  if (!lock) return lock.error();
  auto listing = registry.load();
  if (!listing) return listing.error();
  auto mounts = table.read();
  if (!mounts) return mounts.error();
  for (const Error& problem : listing->problems) err << problem.message() << "\n";
  return LockedState{std::move(*lock), std::move(*listing), MountIndex(std::move(*mounts))};
}

}  // namespace

Result<void> run_resolve(const Stores& stores, const std::string& image, bool json, std::ostream& out) {
  auto found = stores.resolve(image, Lookup::image);
  if (!found) return found.error();
  const std::string& data_root = found->store->root->path();
  const Stack* resolved = &found->stack;
  if (json) {
    out << json::serialize(resolve_json(*resolved, data_root)) << "\n";
    return {};
  }
  MountRequest request;
  print_plan(plan_mount(*resolved, data_root, request), *resolved, out);
  return {};
}

Result<void> run_mount(const Stores& stores, const MountArgs& args, const Registry& registry, Mounter& mounter,
                       const MountTable& table, std::ostream& out, std::ostream& err) {
  if (args.all) return mount_every_container(stores, args, registry, mounter, table, out, err);
  return mount_one(stores, args, registry, mounter, table, out, err);
}

Result<void> run_umount(const UmountArgs& args, const Registry& registry, Mounter& mounter,
                        const MountTable& table, std::ostream& out, std::ostream& err) {
  if (args.all) {
    auto state = lock_and_load(registry, table, true, err);
    if (!state) return state.error();
    std::optional<Error> first_failure;
    for (const MountRecord& record : state->listing.records) {
      auto done = unmount_record(record, mounted_at(state->mounts, record), state->mounts, args.lazy, registry, mounter);
      if (done) {
        out << "unmounted " << escape(record.target) << "\n";
      } else {
        err << done.error().message() << "\n";
        if (!first_failure) first_failure = done.error();
      }
    }
    if (first_failure) return *first_failure;
    return {};
  }

  auto lock = registry.lock(true);
  if (!lock) return lock.error();
  std::string target = absolute_normal_path(args.target);
  auto record = registry.find(target);
  if (const std::string resolved = resolved_path(args.target); record && !*record && resolved != target) {
    target = resolved;
    record = registry.find(target);
  }
  if (!record) return record.error();
  if (!*record) {
    if (!args.force) return not_found(target, "not mounted by ovlmount (use --force to unmount it anyway)");
    if (auto unmounted = mounter.unmount(target, args.lazy, 0); !unmounted) return unmounted.error();
    out << "unmounted " << escape(target) << "\n";
    return {};
  }
  MountIndex mounts;
  std::optional<std::string> where;
  if (still_at_target(**record, table)) {
    where = target;
  } else {
    auto read = table.read();
    if (!read) return read.error();
    mounts = MountIndex(std::move(*read));
    where = mounted_at(mounts, **record);
  }
  const bool mounted = where.has_value();
  if (auto done = unmount_record(**record, where, mounts, args.lazy, registry, mounter); !done) return done.error();
  out << (mounted ? "unmounted " : "forgot (already unmounted) ") << escape(target) << "\n";
  return {};
}

Result<void> run_list(bool json, const Registry& registry, const MountTable& table, std::ostream& out,
                      std::ostream& err) {
  auto state = lock_and_load(registry, table, false, err);
  if (!state) return state.error();
  const auto& mounts = state->mounts;
  const auto& listing = state->listing;

  if (json) {
    json::array records;
    for (const MountRecord& record : listing.records) {
      json::object entry = record_to_json(record);
      entry["state"] = is_mounted(mounts, record) ? "mounted" : "gone";
      records.push_back(std::move(entry));
    }
    out << json::serialize(records) << "\n";
    return {};
  }
  for (const MountRecord& record : listing.records)
    out << escape(record.target) << "  " << (is_mounted(mounts, record) ? "mounted" : "gone") << "  "
        << record.image_id.substr(7, 12) << "  " << escape(record.reference)
        << (record.upper.empty() ? "  ro" : "  rw") << "\n";
  return {};
}

Result<void> run_cleanup(const Registry& registry, const MountTable& table, std::ostream& out,
                         std::ostream& err) {
  auto state = lock_and_load(registry, table, true, err);
  if (!state) return state.error();

  std::vector<std::string> kept_scratch;
  for (const MountRecord& record : state->listing.records) {
    if (is_mounted(state->mounts, record)) {
      kept_scratch.push_back(record.scratch);
      continue;
    }
    if (auto done = forget_record(record, registry); !done) return done.error();
    out << "forgot " << escape(record.target) << " (no longer mounted)\n";
    fault_point("cleanup.record_forgotten");
  }
  auto temporaries = registry.remove_temporaries();
  if (!temporaries) return temporaries.error();
  if (*temporaries > 0) out << "removed " << *temporaries << " unfinished record file(s)\n";
  if (!state->listing.problems.empty()) {
    err << failure(registry.dir(), "unreadable records, so scratch dirs are kept").message() << "\n";
    return {};
  }
  auto scratch_dirs = registry.scratch_dirs();
  if (!scratch_dirs) return scratch_dirs.error();
  for (const std::string& dir : *scratch_dirs) {
    if (std::find(kept_scratch.begin(), kept_scratch.end(), dir) != kept_scratch.end()) continue;
    auto in_use = registry.scratch_in_use(dir);
    if (!in_use) return in_use.error();
    if (*in_use) continue;
    if (auto removed = registry.remove_scratch(dir); !removed) return removed.error();
    out << "removed orphan scratch dir " << escape(dir) << "\n";
    fault_point("cleanup.scratch_removed");
  }
  return {};
}

}  // namespace ovlmount
