// Why: the helpers' arguments are mount(8)'s contract, not ovlmount's: each documented form
// parses to the same MountArgs/StoreOptions the command line builds, a bad command line is a
// usage error (exit 1) and an unknown option a mount failure (exit 32).
#include "ovlmount/cli/mount_helper.hpp"

#include <boost/test/unit_test.hpp>

using namespace ovlmount;

namespace {

bool is_failure(const Result<MountHelperArgs>& result, ExitCode code) {
  return !result.has_value() && result.error().code == code;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mount_helper)

BOOST_AUTO_TEST_CASE(recognises_its_names) {
  BOOST_TEST(is_mount_helper("/sbin/mount.ovlmount"));
  BOOST_TEST(is_mount_helper("umount.ovlmount"));
  BOOST_TEST(!is_mount_helper("/usr/sbin/ovlmount"));
  BOOST_TEST(!is_mount_helper("mount.ovlmount.old"));
}

BOOST_AUTO_TEST_CASE(source_target_and_options_map_to_mount_args) {
  auto args = parse_mount_helper({"nginx:1.25", "/mnt/root", "-v", "-o",
                                  "ro,data-root=/ev/docker,state-dir=/tmp/s/,store=docker,nofail,x-a.b=1"});
  BOOST_TEST_REQUIRE(args.has_value());
  BOOST_TEST(args->mount.image == "nginx:1.25");
  BOOST_TEST(args->mount.target == "/mnt/root");
  BOOST_TEST((args->mount.kind == SourceKind::image));
  BOOST_TEST(!args->mount.writable);
  BOOST_TEST(args->stores.data_root == "/ev/docker");
  BOOST_TEST(args->stores.only == "docker");
  BOOST_TEST(args->state_dir == "/tmp/s");
  BOOST_TEST(args->verbose);
  BOOST_TEST(!args->no_utab);
}

BOOST_AUTO_TEST_CASE(defaults) {
  auto args = parse_mount_helper({"nginx", "/mnt/root"});
  BOOST_TEST_REQUIRE(args.has_value());
  BOOST_TEST(args->state_dir == "/run/ovlmount");
  BOOST_TEST(args->stores.host_root == "/");
  BOOST_TEST(args->mount.upper.empty());
}

BOOST_AUTO_TEST_CASE(container_volumes_and_writable) {
  auto args = parse_mount_helper({"web", "/mnt/web", "-o", "rw,container,volumes,writable", "-n"});
  BOOST_TEST_REQUIRE(args.has_value());
  BOOST_TEST((args->mount.kind == SourceKind::container));
  BOOST_TEST(args->mount.volumes);
  BOOST_TEST(args->mount.writable);
  BOOST_TEST(args->no_utab);
  auto upper = parse_mount_helper({"web", "/mnt/web", "-o", "upper=/u,work=/w"});
  BOOST_TEST_REQUIRE(upper.has_value());
  BOOST_TEST(upper->mount.upper == "/u");
  BOOST_TEST(upper->mount.work == "/w");
}

BOOST_AUTO_TEST_CASE(flags_as_mount_passes_them) {
  auto args = parse_mount_helper({"a", "/m", "-s", "-f", "-N", "/proc/1/fd/5", "-o", "bogus", "-t", "ovlmount.x"});
  BOOST_TEST_REQUIRE(args.has_value());
  BOOST_TEST(args->mount.dry_run);
  BOOST_TEST(args->ns == "/proc/1/fd/5");
}

BOOST_AUTO_TEST_CASE(unknown_and_conflicting_options_are_mount_failures) {
  for (const char* options : {"bogus", "ro,noexec", "upper=/u", "ro,writable", "writable,upper=/u,work=/w",
                              "store=zfs", "data-root", "data-root=/d,host-root=/h", "platform=nonsense/"})
    BOOST_TEST(is_failure(parse_mount_helper({"a", "/m", "-o", options}), ExitCode::failure), options);
}

BOOST_AUTO_TEST_CASE(bad_command_lines_are_usage_errors) {
  BOOST_TEST(is_failure(parse_mount_helper({"a"}), ExitCode::usage));
  BOOST_TEST(is_failure(parse_mount_helper({"a", "/m", "/x"}), ExitCode::usage));
  BOOST_TEST(is_failure(parse_mount_helper({"a", "/m", "-q"}), ExitCode::usage));
  BOOST_TEST(is_failure(parse_mount_helper({"a", "/m", "-o"}), ExitCode::usage));
}

BOOST_AUTO_TEST_CASE(umount_helper_arguments) {
  auto args = parse_umount_helper({"/mnt/root", "-l", "-f", "-r", "-v", "-N", "/proc/1/fd/5"});
  BOOST_TEST_REQUIRE(args.has_value());
  BOOST_TEST(args->target == "/mnt/root");
  BOOST_TEST(args->lazy);
  BOOST_TEST(args->verbose);
  BOOST_TEST(args->ns == "/proc/1/fd/5");
  BOOST_TEST(!parse_umount_helper({}).has_value());
  BOOST_TEST(!parse_umount_helper({"/a", "/b"}).has_value());
  BOOST_TEST(!parse_umount_helper({"/a", "-x"}).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
