// Why: a reference found in two stores must be an error that names both, never a silent
// pick; found in one store it resolves there, with that store's root.
#include "fakes.hpp"
#include "ovlmount/store/stores.hpp"

#include <boost/test/unit_test.hpp>

using namespace ovlmount;
using namespace ovlmount::test;

BOOST_AUTO_TEST_SUITE(stores)

BOOST_AUTO_TEST_CASE(a_name_in_two_stores_is_ambiguous_and_one_in_one_store_resolves_there) {
  FakeDockerStore first, second;
  const std::string shared_first = first.add_image({diff_id("a")});
  const std::string shared_second = second.add_image({diff_id("b")});
  const std::string only_second = second.add_image({diff_id("c")});
  first.set_repositories({{"app", {{"app:latest", shared_first}}}});
  second.set_repositories({{"app", {{"app:latest", shared_second}}}, {"tool", {{"tool:latest", only_second}}}});
  Stores stores;
  stores.add("docker", first.root, std::make_unique<DockerStore>(open_fake_store(first)));
  stores.add("containers-storage", second.root, std::make_unique<DockerStore>(open_fake_store(second)));

  auto ambiguous = stores.resolve("app", Lookup::image);
  BOOST_TEST_REQUIRE(!ambiguous.has_value());
  BOOST_TEST((ambiguous.error().code == ExitCode::not_found));
  BOOST_TEST(ambiguous.error().problem.find("docker: app -> " + shared_first.substr(0, 12)) != std::string::npos);
  BOOST_TEST(ambiguous.error().problem.find("containers-storage: app -> " + shared_second.substr(0, 12)) !=
             std::string::npos);

  auto tool = stores.resolve("tool", Lookup::any);
  BOOST_TEST_REQUIRE(tool.has_value());
  BOOST_TEST(tool->store->label == "containers-storage");
  BOOST_TEST(tool->stack.image_id == "sha256:" + only_second);

  auto missing = stores.resolve("nothing", Lookup::image);
  BOOST_TEST((missing.error().code == ExitCode::not_found));
  BOOST_TEST(missing.error().problem == "no such image");
}

BOOST_AUTO_TEST_CASE(a_broken_store_does_not_hide_an_image_found_elsewhere) {
  FakeDockerStore good, broken;
  const std::string id = good.add_image({diff_id("a")});
  good.set_repositories({{"app", {{"app:latest", id}}}});
  broken.root.add_file("image/overlay2/repositories.json", "{not json");
  Stores stores;
  stores.add("docker", broken.root, std::make_unique<DockerStore>(open_fake_store(broken)));
  stores.add("containers-storage", good.root, std::make_unique<DockerStore>(open_fake_store(good)));
  auto found = stores.resolve("app", Lookup::image);
  BOOST_TEST_REQUIRE(found.has_value());
  BOOST_TEST(found->store->label == "containers-storage");
  Stores only_broken;
  only_broken.add("docker", broken.root, std::make_unique<DockerStore>(open_fake_store(broken)));
  BOOST_TEST((only_broken.resolve("app", Lookup::image).error().code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_SUITE_END()
