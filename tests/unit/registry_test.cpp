// Why: the registry must survive odd targets, unreadable records and failed mounts without
// losing track of anything; commands must leave nothing behind when a mount fails.
#include "fakes.hpp"
#include "ovlmount/cli/commands.hpp"
#include "ovlmount/mount/registry.hpp"
#include "temp_dir.hpp"

#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace ovlmount;
using namespace ovlmount::test;
namespace fs = std::filesystem;

namespace {

MountRecord sample_record(const std::string& target) {
  MountRecord record;
  record.target = target;
  record.reference = "app:v1";
  record.image_id = "sha256:" + std::string(64, 'b');
  record.data_root = "/data";
  record.lowerdir = {"/data/overlay2/a/diff", "/data/overlay2/b/diff"};
  record.created = "2026-01-01T00:00:00Z";
  return record;
}

MountArgs mount_args(const std::string& image, const std::string& target, const std::string& upper = "",
                     const std::string& work = "", bool writable = false) {
  MountArgs args;
  args.image = image;
  args.target = target;
  args.upper = upper;
  args.work = work;
  args.writable = writable;
  return args;
}

size_t file_count(const fs::path& dir) {
  std::error_code ec;
  size_t count = 0;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) ++count;
  return count;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(registry)

BOOST_AUTO_TEST_CASE(records_round_trip) {
  TempDir state;
  const Registry registry(state / "state");
  BOOST_TEST(registry.load()->records.empty());
  BOOST_TEST_REQUIRE(registry.lock(true).has_value());
  const std::string odd_target = "/mnt/with space,comma:colon\n" + std::string(300, 'x');
  for (const auto& target : {std::string("/mnt/a"), odd_target}) BOOST_TEST(registry.save(sample_record(target)).has_value());
  auto listing = registry.load();
  BOOST_TEST_REQUIRE(listing->records.size() == 2u);
  BOOST_TEST(listing->problems.empty());
  auto found = registry.find(odd_target);
  BOOST_TEST_REQUIRE(found->has_value());
  BOOST_TEST((**found).lowerdir == sample_record(odd_target).lowerdir, boost::test_tools::per_element());
  BOOST_TEST(registry.remove(odd_target).has_value());
  BOOST_TEST(!registry.find(odd_target)->has_value());
  BOOST_TEST(registry.remove(odd_target).has_value());
}

BOOST_AUTO_TEST_CASE(an_unreadable_record_does_not_hide_the_others) {
  TempDir state;
  const Registry registry(state / "state");
  BOOST_TEST_REQUIRE(registry.lock(true).has_value());
  BOOST_TEST(registry.save(sample_record("/mnt/good")).has_value());
  std::ofstream(state / "state/mounts/broken.json") << "{\"target\": ";
  auto listing = registry.load();
  BOOST_TEST(listing->records.size() == 1u);
  BOOST_TEST(listing->problems.size() == 1u);
  BOOST_TEST((listing->problems[0].code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_CASE(malformed_records_are_rejected) {
  BOOST_TEST(!record_from_json("[]", "r").has_value());
  BOOST_TEST(!record_from_json(R"({"target":"relative"})", "r").has_value());
  BOOST_TEST(!record_from_json("not json", "r").has_value());
}

BOOST_AUTO_TEST_CASE(scratch_dirs_are_created_and_only_they_removed) {
  TempDir state;
  const Registry registry(state / "state");
  BOOST_TEST_REQUIRE(registry.lock(true).has_value());
  auto scratch = registry.create_scratch();
  BOOST_TEST_REQUIRE(scratch.has_value());
  BOOST_TEST(fs::is_directory(*scratch + "/upper"));
  BOOST_TEST(fs::is_directory(*scratch + "/work"));
  BOOST_TEST(registry.scratch_dirs()->size() == 1u);
  BOOST_TEST(!registry.remove_scratch(state / "state").has_value());
  BOOST_TEST(!registry.remove_scratch(state / "state/scratch/../mounts").has_value());
  BOOST_TEST(registry.remove_scratch(*scratch).has_value());
  BOOST_TEST(!fs::exists(*scratch));
}

BOOST_AUTO_TEST_CASE(a_failed_mount_leaves_nothing_behind) {
  TempDir dir;
  fs::create_directories(dir / "target");
  FakeDockerStore fake;
  fake.add_image({diff_id("a"), diff_id("b")});
  fake.set_repositories({{"app", {{"app:latest", fake.add_image({diff_id("c")})}}}});
  const Registry registry(dir / "state");
  FakeMounter mounter;
  mounter.fail_with = mount_error(dir / "target", "refused");
  FakeMountTable table;
  std::ostringstream out;
  for (const bool writable : {false, true}) {
    auto mounted = run_mount(fake_stores(fake), mount_args("app", dir / "target", "", "", writable), registry, mounter, table,
                             out, out);
    BOOST_TEST((mounted.error().code == ExitCode::mount_failed));
    BOOST_TEST(registry.load()->records.empty());
    BOOST_TEST(registry.scratch_dirs()->empty());
  }
  BOOST_TEST(!run_mount(fake_stores(fake), mount_args("app", dir / "target", dir / "upper", dir / "work"), registry, mounter,
                        table, out, out)
                  .has_value());
  BOOST_TEST(!fs::exists(dir / "upper"));
  BOOST_TEST(!fs::exists(dir / "work"));
}

// One image "app" in a fake store, a state dir, a fake kernel and an existing target dir.
struct OneImage {
  TempDir dir;
  FakeDockerStore fake;
  const Registry registry{dir / "state"};
  FakeMounter mounter;
  FakeMountTable table;
  std::ostringstream out, err;
  std::string target;
  OneImage() {
    fs::create_directories(dir / "target");
    fake.set_repositories({{"app", {{"app:latest", fake.add_image({diff_id("a")})}}}});
    target = fs::canonical(dir.path() / "target").string();
  }
};

BOOST_FIXTURE_TEST_CASE(mount_records_then_umount_forgets, OneImage) {

  BOOST_TEST_REQUIRE(run_mount(fake_stores(fake), mount_args("app", target, "", "", true), registry, mounter, table, out, err).has_value());
  BOOST_TEST_REQUIRE(mounter.mounted.size() == 1u);
  BOOST_TEST(!mounter.mounted[0].read_only());
  auto record = registry.find(target);
  BOOST_TEST_REQUIRE(record->has_value());
  BOOST_TEST(fs::is_directory((**record).scratch + "/upper"));
  BOOST_TEST((**record).mnt_id == 1000u);
  table.add_ovlmount(target, 1000);

  auto again = run_mount(fake_stores(fake), mount_args("app", target), registry, mounter, table, out, err);
  BOOST_TEST(!again.has_value());

  BOOST_TEST(run_umount({target, false, false, false}, registry, mounter, table, out, err).has_value());
  BOOST_TEST(mounter.unmounted == std::vector<std::string>{target}, boost::test_tools::per_element());
  BOOST_TEST(mounter.unmounted_ids == std::vector<MountId>{1000}, boost::test_tools::per_element());
  BOOST_TEST(!registry.find(target)->has_value());
  BOOST_TEST(!fs::exists((**record).scratch));
  auto unknown = run_umount({target, false, false, false}, registry, mounter, table, out, err);
  BOOST_TEST((unknown.error().code == ExitCode::not_found));
}

BOOST_FIXTURE_TEST_CASE(another_mount_at_the_target_is_not_the_recorded_one_and_is_left_alone, OneImage) {
  BOOST_TEST_REQUIRE(run_mount(fake_stores(fake), mount_args("app", target), registry, mounter, table, out, err).has_value());
  table.add_ovlmount(target, 77);

  BOOST_TEST(run_list(false, registry, table, out, err).has_value());
  BOOST_TEST(out.str().find(target + "  gone") != std::string::npos, out.str());
  BOOST_TEST(run_umount({target, false, false, false}, registry, mounter, table, out, err).has_value());
  BOOST_TEST(mounter.unmounted.empty());
  BOOST_TEST(out.str().find("forgot (already unmounted) " + target) != std::string::npos, out.str());
  BOOST_TEST(!registry.find(target)->has_value());
}

BOOST_AUTO_TEST_CASE(a_record_keeps_its_mount_id_and_old_records_without_one_still_load) {
  MountRecord record;
  record.target = "/mnt/x";
  record.image_id = "sha256:" + std::string(64, 'a');
  record.reference = "x";
  record.data_root = "/d";
  record.lowerdir = {"/d/l"};
  record.created = "2026-01-01T00:00:00Z";
  record.mnt_id = 4242;
  auto json = record_to_json(record);
  auto back = record_from_json(boost::json::serialize(json), "r");
  BOOST_TEST_REQUIRE(back.has_value());
  BOOST_TEST(back->mnt_id == 4242u);
  json.erase("mnt_id");
  back = record_from_json(boost::json::serialize(json), "r");
  BOOST_TEST_REQUIRE(back.has_value());
  BOOST_TEST(back->mnt_id == 0u);
  json["mnt_id"] = "12";
  BOOST_TEST((record_from_json(boost::json::serialize(json), "r").error().code == ExitCode::corrupt));
  json["mnt_id"] = -1;
  BOOST_TEST((record_from_json(boost::json::serialize(json), "r").error().code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_CASE(cleanup_forgets_gone_mounts_and_orphan_scratch) {
  TempDir dir;
  const Registry registry(dir / "state");
  BOOST_TEST_REQUIRE(registry.lock(true).has_value());
  MountRecord gone = sample_record("/mnt/gone");
  gone.scratch = *registry.create_scratch();
  MountRecord alive = sample_record("/mnt/alive");
  alive.scratch = *registry.create_scratch();
  const std::string orphan = *registry.create_scratch();
  BOOST_TEST(registry.save(gone).has_value());
  BOOST_TEST(registry.save(alive).has_value());
  FakeMountTable table;
  table.add_ovlmount("/mnt/alive");
  table.entries.push_back({0, "/mnt/gone", "tmpfs", "tmpfs", "rw"});
  std::ostringstream out, err;
  BOOST_TEST(run_cleanup(registry, table, out, err).has_value());
  auto listing = registry.load();
  BOOST_TEST_REQUIRE(listing->records.size() == 1u);
  BOOST_TEST(listing->records[0].target == "/mnt/alive");
  BOOST_TEST(fs::exists(alive.scratch));
  BOOST_TEST(!fs::exists(gone.scratch));
  BOOST_TEST(!fs::exists(orphan));

  std::ostringstream json;
  BOOST_TEST(run_list(true, registry, table, json, err).has_value());
  BOOST_TEST(json.str().find(R"("state":"mounted")") != std::string::npos);
  BOOST_TEST(file_count(dir.path()) > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
