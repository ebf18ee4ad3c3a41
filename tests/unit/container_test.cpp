// Why: a container must resolve the way Docker names it (full ID, name, unique prefix), stack
// its writable and init layers on exactly its image's layers, refuse a container whose layer
// sits on another image, and mount its volumes as recorded submounts that umount takes down
// first.
#include "fakes.hpp"
#include "ovlmount/cli/commands.hpp"
#include "ovlmount/store/docker_store.hpp"
#include "ovlmount/store/resolver.hpp"
#include "temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <sstream>

using namespace ovlmount;
using namespace ovlmount::test;

namespace {

Result<Stack> resolve(const FakeDockerStore& fake, const std::string& reference) {
  return resolve_container(open_fake_store(fake), reference);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(container)

BOOST_AUTO_TEST_CASE(names_ids_and_prefixes_find_the_container_and_its_stack) {
  FakeDockerStore fake;
  const std::string image = fake.add_image({diff_id("base"), diff_id("top")});
  const std::string id = fake.add_container("web", image);
  for (const std::string& reference : {id, std::string("web"), std::string("/web"), id.substr(0, 5)}) {
    auto stack = resolve(fake, reference);
    BOOST_TEST_REQUIRE(stack.has_value(), reference);
    BOOST_TEST(stack->is_container());
    BOOST_TEST(stack->container->id == id);
    BOOST_TEST(stack->container->name == "web");
    BOOST_TEST(stack->container->state == "exited");
    BOOST_TEST(stack->image_id == "sha256:" + image);
    BOOST_TEST_REQUIRE(stack->layers.size() == 4u);
    BOOST_TEST((stack->layers[2].role == LayerRole::init));
    BOOST_TEST((stack->layers[3].role == LayerRole::writable));
    BOOST_TEST(stack->layers[3].dir == "overlay2/" + sha256_hex("mount web") + "/diff");
    BOOST_TEST(stack->layers[2].dir == "overlay2/" + sha256_hex("mount web") + "-init/diff");
  }
  auto missing = resolve(fake, "nope");
  BOOST_TEST((missing.error().code == ExitCode::not_found));
}

BOOST_AUTO_TEST_CASE(an_ambiguous_prefix_lists_the_candidates) {
  FakeDockerStore fake;
  const std::string image = fake.add_image({diff_id("base")});
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(fake.add_container("c" + std::to_string(i), image));
  std::string prefix;
  for (const auto& a : ids)
    for (const auto& b : ids)
      if (a != b && a[0] == b[0]) prefix = a.substr(0, 1);
  BOOST_TEST_REQUIRE(!prefix.empty());
  auto result = resolve(fake, prefix);
  BOOST_TEST((result.error().code == ExitCode::not_found));
  BOOST_TEST(result.error().problem.find("ambiguous container ID prefix") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(crafted_container_metadata_is_corrupt) {
  FakeDockerStore fake;
  const std::string image = fake.add_image({diff_id("base")});
  const std::string other = fake.add_image({diff_id("other")});
  const std::string id = fake.add_container("web", image);
  const std::string layers = "image/overlay2/layerdb/mounts/" + id;
  fake.root.add_file(layers + "/parent", fake.top_chain_id(other));
  BOOST_TEST((resolve(fake, "web").error().code == ExitCode::corrupt));
  fake.root.add_file(layers + "/parent", fake.top_chain_id(image));
  BOOST_TEST(resolve(fake, "web").has_value());
  fake.root.add_file(layers + "/mount-id", "../../../etc");
  BOOST_TEST((resolve(fake, id).error().code == ExitCode::corrupt));
  fake.root.add_file(layers + "/mount-id", sha256_hex("mount web"));
  fake.root.add_file(layers + "/init-id", sha256_hex("elsewhere") + "-init");
  BOOST_TEST((resolve(fake, id).error().code == ExitCode::corrupt));
  fake.root.add_file(layers + "/init-id", sha256_hex("mount web") + "-init");
  fake.root.add_file("containers/" + id + "/config.v2.json", R"({"ID":")" + id + R"(","Name":"/../x"})");
  BOOST_TEST((resolve(fake, id).error().code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_CASE(volumes_become_recorded_submounts_that_umount_takes_down_first) {
  const TempDir tmp;
  const std::filesystem::path& dir = tmp.path();
  std::filesystem::create_directories(dir / "target");
  const std::string target = std::filesystem::canonical(dir / "target").string();
  FakeDockerStore fake;
  const std::string image = fake.add_image({diff_id("base")});
  fake.add_container("web", image,
                     R"({"/data":{"Type":"volume","Name":"webdata","Driver":"local","RW":true},)"
                     R"("/host":{"Type":"bind","Source":"/srv/site","RW":false},)"
                     R"("/gone":{"Type":"volume","Name":"missing","Driver":"local"}})");
  fake.root.add_dir("volumes/webdata/_data");
  const Registry registry((dir / "state").string());
  FakeMounter mounter;
  FakeMountTable table;
  std::ostringstream out, err;
  MountArgs args;
  args.kind = SourceKind::container;
  args.image = "web";
  args.target = target;
  args.volumes = true;
  BOOST_TEST_REQUIRE(run_mount(fake_stores(fake), args, registry, mounter, table, out, err).has_value());
  BOOST_TEST(mounter.bound == std::vector<std::string>{target + "/data"}, boost::test_tools::per_element());
  BOOST_TEST(err.str().find(target + "/host: not bound") != std::string::npos, err.str());
  BOOST_TEST(err.str().find(target + "/gone: not bound") != std::string::npos, err.str());
  auto record = registry.find(target);
  BOOST_TEST_REQUIRE(record->has_value());
  BOOST_TEST(((**record).source == SourceKind::container));
  BOOST_TEST((**record).submounts == std::vector<std::string>{target + "/data"}, boost::test_tools::per_element());

  table.add_ovlmount(target, 1000);
  table.entries.push_back({0, target + "/data", "ext4", "/dev/sda", "ro"});
  UmountArgs umount;
  umount.target = target;
  BOOST_TEST(run_umount(umount, registry, mounter, table, out, err).has_value());
  BOOST_TEST(mounter.unmounted == (std::vector<std::string>{target + "/data", target}), boost::test_tools::per_element());
  BOOST_TEST(!registry.find(target)->has_value());
}

BOOST_AUTO_TEST_SUITE_END()
