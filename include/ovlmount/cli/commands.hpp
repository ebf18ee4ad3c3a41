// Why: each user command is one function that joins the pieces (store, resolver, planner,
// mounter, registry) in the order that keeps the guarantees: a mount is recorded before it is
// made and the record is dropped if it fails; every registry change happens under its lock;
// the data root is only ever read. The OS is passed in (RootDir, Mounter, MountTable), so
// these functions run in unit tests against fakes.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/root_dir.hpp"
#include "ovlmount/mount/mount_table.hpp"
#include "ovlmount/mount/mounter.hpp"
#include "ovlmount/mount/registry.hpp"
#include "ovlmount/store/resolver.hpp"
#include "ovlmount/store/stores.hpp"

#include <boost/json/object.hpp>

#include <iosfwd>
#include <string>
#include <string_view>

namespace ovlmount {

// Arguments of `mount` and `container`.
struct MountArgs {
  SourceKind kind = SourceKind::image;
  std::string image;   // the image or container reference
  std::string target;  // for `container --all`: the dir that gets one target per container
  bool all = false;    // container --all: every container of the store
  std::string upper;  // with `work`: a writable mount on the user's dirs
  std::string work;
  bool writable = false;  // a writable mount on scratch dirs under the state dir
  bool dry_run = false;   // print the plan, change nothing
  bool volumes = false;     // container: also bind its volumes, read-only
  bool host_binds = false;  // container --volumes: also bind sources outside the data root
};

// Arguments of `umount`.
struct UmountArgs {
  std::string target;
  bool all = false;    // every recorded mount
  bool force = false;  // also a target ovlmount has no record of
  bool lazy = false;   // detach now, finish when no longer busy
};

// resolve's JSON object for `stack`: image_id, reference, data_root, layers (bottom first),
// lowerdir (top first).
boost::json::object resolve_json(const Stack& stack, const std::string& data_root);

// `resolve`: prints the layer stack of `image` (JSON when `json`) to `out`.
Result<void> run_resolve(const Stores& stores, const std::string& image, bool json, std::ostream& out);

// `mount` and `container`: resolves `args.image` in `stores`, records and performs the
// mount (and the volume binds it asks for; a bind that cannot be made is reported on `err` and
// skipped); on any other failure leaves no mount, no record and no dir it created. With
// `args.all`, mounts every container at `args.target`/<name>, reporting and skipping failures.
Result<void> run_mount(const Stores& stores, const MountArgs& args, const Registry& registry,
                       Mounter& mounter, const MountTable& table, std::ostream& out, std::ostream& err);

// `umount`: unmounts recorded targets (or any, with force) and forgets them, removing
// their scratch dirs.
Result<void> run_umount(const UmountArgs& args, const Registry& registry, Mounter& mounter,
                        const MountTable& table, std::ostream& out, std::ostream& err);

// `list`: the records, each marked mounted or gone by the mount table (JSON when `json`);
// unreadable records are reported on `err` and skipped.
Result<void> run_list(bool json, const Registry& registry, const MountTable& table, std::ostream& out,
                      std::ostream& err);

// `cleanup`: drops the records whose mount is gone and the scratch dirs no record owns.
Result<void> run_cleanup(const Registry& registry, const MountTable& table, std::ostream& out,
                         std::ostream& err);

}  // namespace ovlmount
