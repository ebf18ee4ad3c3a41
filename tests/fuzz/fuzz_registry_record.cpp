// Why: mount records are read back by list, umount and cleanup, and a damaged or planted one
// must be refused, not followed. Checks: an accepted record has an absolute target, a sha256
// image ID and submounts inside its target, and writes back (record_to_json) to a text that
// parses to the same record.
#include "fuzz_support.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/mount/registry.hpp"

#include <boost/json/serialize.hpp>

using namespace ovlmount;

namespace {

bool same(const MountRecord& a, const MountRecord& b) {
  return a.target == b.target && a.source == b.source && a.reference == b.reference && a.image_id == b.image_id &&
         a.container_id == b.container_id && a.store == b.store && a.data_root == b.data_root &&
         a.lowerdir == b.lowerdir && a.upper == b.upper && a.work == b.work && a.scratch == b.scratch &&
         a.submounts == b.submounts && a.created == b.created;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto record = record_from_json(std::string(fuzz::input(data, size)), "/run/ovlmount/mounts/fuzz.json");
  if (!record) {
    fuzz::check_error(record.error());
    FUZZ_CHECK(record.error().code == ExitCode::corrupt, "a bad record is not corrupt");
    return 0;
  }
  FUZZ_CHECK(record->target.starts_with('/'), "a record target is not absolute");
  FUZZ_CHECK(is_sha256_digest(record->image_id), "a record image ID is not sha256:<64 hex>");
  FUZZ_CHECK(!record->store.empty(), "a record without a store");
  for (const std::string& submount : record->submounts)
    FUZZ_CHECK(submount.starts_with(record->target + "/"), "a submount outside its target");
  auto again = record_from_json(boost::json::serialize(record_to_json(*record)), "again");
  FUZZ_CHECK(again, "a written record does not read back");
  FUZZ_CHECK(same(*record, *again), "a written record reads back different");
  return 0;
}
