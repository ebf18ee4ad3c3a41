// Why: the store finder trusts nothing it reads from a host's config files: each parser takes
// the settings ovlmount needs, defaults what is absent, and refuses what is malformed.
#include "ovlmount/store/config.hpp"
#include "ovlmount/store/platform.hpp"

#include <boost/test/unit_test.hpp>

using namespace ovlmount;

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(daemon_json_names_the_data_root) {
  BOOST_TEST(parse_daemon_json(R"({"data-root": "/srv/docker", "debug": true})", "d")->data_root == "/srv/docker");
  BOOST_TEST(parse_daemon_json("{}", "d")->data_root == "/var/lib/docker");
  for (const char* bad : {"", "[]", "{", R"({"data-root": 1})", R"({"data-root": "relative/dir"})"})
    BOOST_TEST((parse_daemon_json(bad, "d").error().code == ExitCode::corrupt), bad);
}

BOOST_AUTO_TEST_CASE(daemon_json_says_where_images_are) {
  const auto config = parse_daemon_json(
      R"({"containerd": "/run/containerd/containerd.sock", "containerd-namespace": "docker",
          "features": {"containerd-snapshotter": true}})",
      "d");
  BOOST_TEST(config->containerd == "/run/containerd/containerd.sock");
  BOOST_TEST(config->containerd_namespace == "docker");
  BOOST_TEST((config->containerd_snapshotter == std::optional<bool>(true)));
  const auto defaults = parse_daemon_json("{}", "d");
  BOOST_TEST(defaults->containerd.empty());
  BOOST_TEST(defaults->containerd_namespace == "moby");
  BOOST_TEST(!defaults->containerd_snapshotter.has_value());
  for (const char* bad : {R"({"containerd": 1})", R"({"containerd-namespace": "../x"})", R"({"features": []})",
                          R"({"features": {"containerd-snapshotter": "yes"}})"})
    BOOST_TEST((parse_daemon_json(bad, "d").error().code == ExitCode::corrupt), bad);
}

BOOST_AUTO_TEST_CASE(platforms_parse_as_os_arch_variant) {
  const auto arm = parse_platform("linux/arm/v7");
  BOOST_TEST(arm->os == "linux");
  BOOST_TEST(arm->architecture == "arm");
  BOOST_TEST(arm->variant == "v7");
  BOOST_TEST(parse_platform("linux/amd64")->name() == "linux/amd64");
  for (const char* bad : {"", "linux", "linux/", "/amd64", "linux/amd64/", "a/b/c/d", "Linux/amd64", "linux/amd 64"})
    BOOST_TEST((parse_platform(bad).error().code == ExitCode::usage), bad);
  BOOST_TEST(!host_platform().architecture.empty());
}

BOOST_AUTO_TEST_CASE(storage_conf_names_the_graph_root) {
  BOOST_TEST(*parse_storage_conf("[storage]\ndriver = \"overlay\"\ngraphroot = \"/srv/containers\"\n", "s") ==
             "/srv/containers");
  BOOST_TEST(*parse_storage_conf("# nothing\n", "s") == "/var/lib/containers/storage");
  BOOST_TEST(*parse_storage_conf("[storage]\nrunroot = \"/run/containers\"\n", "s") == "/var/lib/containers/storage");
  BOOST_TEST((parse_storage_conf("[storage]\ndriver = \"btrfs\"\n", "s").error().code == ExitCode::not_found));
  for (const char* bad : {"[storage", "storage = 3", "[storage]\ngraphroot = 7\n", "[storage]\ngraphroot = \"x\"\n"})
    BOOST_TEST((parse_storage_conf(bad, "s").error().code == ExitCode::corrupt), bad);
}

BOOST_AUTO_TEST_CASE(containerd_config_names_the_root) {
  BOOST_TEST(*parse_containerd_config("version = 2\nroot = \"/data/containerd\"\n", "c") == "/data/containerd");
  BOOST_TEST(*parse_containerd_config("version = 2\n", "c") == "/var/lib/containerd");
  BOOST_TEST((parse_containerd_config("root = [1]\n", "c").error().code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_SUITE_END()
