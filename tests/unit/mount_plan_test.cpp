// Why: the plan is what reaches the kernel: order, flags, escaping and the page limit are
// checked here without root.
#include "ovlmount/mount/mount_plan.hpp"

#include <sys/mount.h>

#include <boost/test/unit_test.hpp>

using namespace ovlmount;

namespace {

Stack image_with_layers(size_t count) {
  Stack image;
  image.reference = "app";
  image.image_id = "sha256:" + std::string(64, 'a');
  for (size_t i = 0; i < count; ++i) {
    Layer layer;
    layer.dir = "overlay2/L" + std::to_string(i) + "/diff";
    image.layers.push_back(layer);
  }
  return image;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mount_plan)

BOOST_AUTO_TEST_CASE(lowers_are_top_first_and_read_only) {
  MountRequest request;
  request.target = "/mnt";
  request.empty_lower = "/run/ovlmount/empty";
  const MountPlan plan = plan_mount(image_with_layers(3), "/data", request);
  BOOST_TEST(plan.read_only());
  BOOST_TEST(plan.flags() == (MS_RDONLY | MS_NOSUID | MS_NODEV));
  BOOST_TEST(plan.empty_lower.empty());
  const std::vector<std::string> expected = {"/data/overlay2/L2/diff", "/data/overlay2/L1/diff", "/data/overlay2/L0/diff"};
  BOOST_TEST(plan.lower_paths() == expected, boost::test_tools::per_element());
  BOOST_TEST(display_options(plan) ==
             "ro,nosuid,nodev,lowerdir=/data/overlay2/L2/diff:/data/overlay2/L1/diff:/data/overlay2/L0/diff");
}

BOOST_AUTO_TEST_CASE(one_layer_read_only_gets_an_empty_second_lower) {
  MountRequest request;
  request.target = "/mnt";
  request.empty_lower = "/run/ovlmount/empty";
  const MountPlan plan = plan_mount(image_with_layers(1), "/data", request);
  const std::vector<std::string> expected = {"/data/overlay2/L0/diff", "/run/ovlmount/empty"};
  BOOST_TEST(plan.lower_paths() == expected, boost::test_tools::per_element());

  request.upper = "/u";
  request.work = "/w";
  const MountPlan writable = plan_mount(image_with_layers(1), "/data", request);
  BOOST_TEST(writable.lower_paths().size() == 1u);
  BOOST_TEST(writable.flags() == (MS_NOSUID | MS_NODEV));
  BOOST_TEST(display_options(writable) == "rw,nosuid,nodev,lowerdir=/data/overlay2/L0/diff,upperdir=/u,workdir=/w");
}

BOOST_AUTO_TEST_CASE(special_characters_are_escaped) {
  BOOST_TEST(escape_overlay_path("/a:b,c\\d") == "/a\\:b\\,c\\\\d");
}

BOOST_AUTO_TEST_CASE(mount_data_is_held_to_one_page) {
  MountRequest request;
  request.target = "/mnt";
  const MountPlan plan = plan_mount(image_with_layers(128), "/data", request);
  std::vector<std::string> fd_paths(128, "/proc/self/fd/1000");
  auto data = overlay_data(plan, fd_paths, "", "");
  BOOST_TEST_REQUIRE(data.has_value());
  BOOST_TEST(data->size() <= max_mount_data);

  const std::vector<std::string> long_paths = plan.lower_paths();
  std::vector<std::string> longer;
  for (const auto& path : long_paths) longer.push_back(std::string(200, 'x') + path);
  auto too_long = overlay_data(plan, longer, "", "");
  BOOST_TEST_REQUIRE(!too_long.has_value());
  BOOST_TEST((too_long.error().code == ExitCode::mount_failed));
  BOOST_TEST(too_long.error().problem.find("one-page limit") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
