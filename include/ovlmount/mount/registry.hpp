// Why: a mount outlives the process that made it, and a crash can come between any two steps.
// The registry keeps one small JSON record per mount under the state dir, written before the
// mount is made (write to a temporary name, then rename) and under an flock, so concurrent
// ovlmount processes never lose or corrupt a record and everything ovlmount made can be
// listed, unmounted and cleaned up later. Whether a recorded mount still exists is asked of
// the kernel (MountTable), never assumed.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/fd.hpp"
#include "ovlmount/mount/mount_plan.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ovlmount {

// What ovlmount remembers about one mount.
struct MountRecord {
  std::string target;
  SourceKind source = SourceKind::image;
  std::string reference;
  std::string image_id;
  std::string container_id;           // 64 hex for a container mount, else empty
  std::string store;                  // the store it came from ("docker", "containers-storage"...)
  std::string data_root;
  std::vector<std::string> lowerdir;  // absolute layer paths, top first
  std::string upper;                  // empty when read-only
  std::string work;
  std::string scratch;                // scratch dir holding upper/work, removed at umount; or empty
  std::vector<std::string> submounts;  // absolute targets of volume binds inside `target`, parents first
  std::uint64_t mnt_id = 0;           // the overlay's kernel mount ID once mounted; 0 before (or in old records)
  std::string created;                // RFC 3339 UTC
};

// The record for mounting `plan`, created now, with `scratch` as its scratch dir (or "") and
// every planned bind as a submount.
MountRecord make_record(const MountPlan& plan, const std::string& scratch);

// The records and the problems met while reading them: one unreadable record never hides
// the others.
struct RegistryListing {
  std::vector<MountRecord> records;
  std::vector<Error> problems;
};

// The mount records under one state dir.
//   <state>/lock              flock'ed by every command that reads or changes records
//   <state>/mounts/<key>.json one record per target
//   <state>/scratch/<name>/   upper/ and work/ of a --writable mount; merged/ of a private
//                             mount (run, export, files), held by its process (in-use flock)
//   <state>/empty/            an empty dir, the second lower of one-layer images
class Registry {
 public:
  explicit Registry(std::string state_dir) : dir_(std::move(state_dir)) {}

  const std::string& dir() const { return dir_; }

  // Takes the registry lock (exclusive or shared) until the returned descriptor is closed;
  // an exclusive lock creates the state dir (mode 0700) if needed; a shared one also works on
  // a read-only state dir.
  Result<UniqueFd> lock(bool exclusive) const;

  // Every record; none when the state dir does not exist.
  Result<RegistryListing> load() const;

  // The record for `target`, if any.
  Result<std::optional<MountRecord>> find(const std::string& target) const;

  // Writes `record` atomically, replacing any record for the same target.
  Result<void> save(const MountRecord& record) const;

  // Removes the record for `target`; succeeds when there is none.
  Result<void> remove(const std::string& target) const;

  // Removes the temporary files of record writes that never finished (their process was
  // killed); returns how many. Only under the exclusive lock: every save holds it.
  Result<size_t> remove_temporaries() const;

  // Creates a fresh scratch dir with upper/ and work/ inside; returns its path.
  Result<std::string> create_scratch() const;

  // Marks scratch dir `scratch` as in use by this process until the returned descriptor is
  // closed (an flock on <scratch>/in-use): `cleanup` leaves it alone meanwhile, and once the
  // process is gone (even by SIGKILL) the lock is gone too.
  Result<UniqueFd> hold_scratch(const std::string& scratch) const;

  // Whether a live process holds scratch dir `scratch` (hold_scratch), or it was kept on
  // purpose (a "kept" file in it, written by `run --keep`).
  Result<bool> scratch_in_use(const std::string& scratch) const;

  // Removes a scratch dir made by create_scratch (refuses any other path).
  Result<void> remove_scratch(const std::string& scratch) const;

  // The paths of all scratch dirs that exist.
  Result<std::vector<std::string>> scratch_dirs() const;

  // The shared empty dir (created, mode 0555, when missing).
  Result<std::string> empty_dir() const;

 private:
  std::string record_path(const std::string& target) const;
  std::string dir_;
};

// The record as JSON (the format of the record files and of `list --json`, without "state").
boost::json::object record_to_json(const MountRecord& record);

// Parses a record file's content; corrupt (naming `object`) when it is not a valid record.
Result<MountRecord> record_from_json(const std::string& text, const std::string& object);

}  // namespace ovlmount
