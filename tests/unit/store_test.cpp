// Why: the resolver must find exactly the layers Docker would, in Docker's lookup order,
// and refuse every way a crafted store could point it elsewhere.
#include "fakes.hpp"
#include "ovlmount/store/docker_store.hpp"
#include "ovlmount/store/resolver.hpp"

#include <boost/test/unit_test.hpp>

using namespace ovlmount;
using namespace ovlmount::test;

namespace {

Result<Stack> resolve(const FakeDockerStore& fake, const std::string& reference) {
  return resolve_image(open_fake_store(fake), reference);
}

ExitCode error_code(const Result<Stack>& result) {
  BOOST_TEST_REQUIRE(!result.has_value());
  return result.error().code;
}


}  // namespace

BOOST_AUTO_TEST_SUITE(store)

BOOST_AUTO_TEST_CASE(resolves_names_ids_and_prefixes_to_the_same_stack) {
  FakeDockerStore fake;
  const std::vector<std::string> diffs = {diff_id("base"), diff_id("middle"), diff_id("top")};
  const std::string id = fake.add_image(diffs);
  fake.set_repositories({{"app", {{"app:latest", id}, {"app:v1", id}}},
                         {"registry.local:5000/team/app", {{"registry.local:5000/team/app:v1", id}}}});
  for (const std::string& reference : std::vector<std::string>{"app", "app:v1", "docker.io/library/app",
                                      "registry.local:5000/team/app:v1", id, "sha256:" + id,
                                      id.substr(0, 12), "sha256:" + id.substr(0, 5)}) {
    auto image = resolve(fake, reference);
    BOOST_TEST_REQUIRE(image.has_value(), reference);
    BOOST_TEST(image->image_id == "sha256:" + id);
    BOOST_TEST(image->reference == reference);
    BOOST_TEST_REQUIRE(image->layers.size() == 3u);
    const auto chain = chain_ids(diffs);
    for (size_t i = 0; i < 3; ++i) {
      BOOST_TEST(image->layers[i].diff_id == diffs[i]);
      BOOST_TEST(image->layers[i].chain_id == chain[i]);
      BOOST_TEST(image->layers[i].cache_id == sha256_hex("cache" + chain[i]));
      BOOST_TEST(image->layers[i].dir == "overlay2/" + image->layers[i].cache_id + "/diff");
    }
  }
}

BOOST_AUTO_TEST_CASE(unknown_and_ambiguous_images_are_not_found) {
  FakeDockerStore fake;
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(fake.add_image({diff_id("layer" + std::to_string(i))}));
  fake.set_repositories({});
  BOOST_TEST((error_code(resolve(fake, "missing")) == ExitCode::not_found));
  BOOST_TEST((error_code(resolve(fake, std::string(64, 'e'))) == ExitCode::not_found));
  std::string shared;
  for (const auto& a : ids)
    for (const auto& b : ids)
      if (a != b && a[0] == b[0]) shared = a.substr(0, 1);
  BOOST_TEST_REQUIRE(!shared.empty());
  auto ambiguous = resolve(fake, shared);
  BOOST_TEST((error_code(ambiguous) == ExitCode::not_found));
  BOOST_TEST(ambiguous.error().problem.find("ambiguous") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_name_is_tried_before_an_id_prefix) {
  FakeDockerStore fake;
  const std::string named = fake.add_image({diff_id("named")});
  const std::string other = fake.add_image({diff_id("other")});
  const std::string prefix = other.substr(0, 6);
  fake.set_repositories({{prefix, {{prefix + ":latest", named}}}});
  BOOST_TEST(resolve(fake, prefix)->image_id == "sha256:" + named);
}

BOOST_AUTO_TEST_CASE(tampered_config_is_corrupt) {
  FakeDockerStore fake;
  const std::string id = fake.add_image({diff_id("a")});
  fake.root.add_file("image/overlay2/imagedb/content/sha256/" + id, R"({"rootfs":{"type":"layers","diff_ids":[]}})");
  auto image = resolve(fake, id);
  BOOST_TEST((error_code(image) == ExitCode::corrupt));
  BOOST_TEST(image.error().problem.find("digest mismatch") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(malformed_metadata_is_corrupt) {
  FakeDockerStore fake;
  const std::vector<std::string> diffs = {diff_id("a"), diff_id("b")};
  const std::string id = fake.add_image(diffs);
  const auto chain = chain_ids(diffs);
  const std::string top = "image/overlay2/layerdb/sha256/" + chain[1].substr(7);

  fake.root.add_file("image/overlay2/repositories.json", "{\"Repositories\": {");
  BOOST_TEST((error_code(resolve(fake, "app")) == ExitCode::corrupt));
  fake.root.add_file("image/overlay2/repositories.json", R"({"Repositories":{"app":{"app:latest":"sha256:../../x"}}})");
  BOOST_TEST((error_code(resolve(fake, "app")) == ExitCode::corrupt));
  fake.set_repositories({{"app", {{"app:latest", id}}}});
  BOOST_TEST(resolve(fake, "app").has_value());

  fake.root.add_file(top + "/cache-id", "../../../etc");
  BOOST_TEST((error_code(resolve(fake, "app")) == ExitCode::corrupt));
  fake.root.add_file(top + "/cache-id", sha256_hex("cache" + chain[1]));
  fake.root.add_file(top + "/diff", diff_id("other"));
  BOOST_TEST((error_code(resolve(fake, "app")) == ExitCode::corrupt));
  fake.root.add_file(top + "/diff", diffs[1] + "\n");
  BOOST_TEST(resolve(fake, "app").has_value());
  fake.root.add_file(top + "/parent", diff_id("elsewhere"));
  BOOST_TEST((error_code(resolve(fake, "app")) == ExitCode::corrupt));
  fake.root.add_file(top + "/parent", chain[0]);
  fake.root.remove("overlay2/" + sha256_hex("cache" + chain[1]) + "/diff");
  BOOST_TEST((error_code(resolve(fake, "app")) == ExitCode::not_found));
}

// A name is looked up in repositories.json as it streams: what boost::json's document would
// hold (the last of repeated keys, escapes decoded), with the same verdicts.
BOOST_AUTO_TEST_CASE(a_name_resolves_to_the_last_of_repeated_entries_as_the_document_holds_it) {
  FakeDockerStore fake;
  const std::string id = fake.add_image({diff_id("a")});
  const std::string other = fake.add_image({diff_id("b")});
  const std::string file = "image/overlay2/repositories.json";
  const auto image_of = [&](const std::string& reference) -> std::string {
    auto stack = resolve(fake, reference);
    return stack ? stack->image_id : "error " + stack.error().message();
  };
  fake.root.add_file(file, R"({"Repositories":{"app":{"app:latest":"sha256:)" + other + R"("},"app":{"app:latest":"sha256:)" + id + R"("}}})");
  BOOST_TEST(image_of("app") == "sha256:" + id);
  fake.root.add_file(file, R"({"Repositories":{"app":{"app:latest":"sha256:)" + other + R"(","app:latest":"sha256:)" + id + R"("}}})");
  BOOST_TEST(image_of("app") == "sha256:" + id);
  fake.root.add_file(file, R"({"Repositories":{"\u0061pp":{"app:l\u0061test":"sha256:)" + id + R"("}},"x":{"app":5}})");
  BOOST_TEST(image_of("app") == "sha256:" + id);
  fake.root.add_file(file, R"({"Repositories":{"app":{"app:latest":"sha256:)" + id + R"("}},"Repositories":{}})");
  BOOST_TEST((error_code(resolve(fake, "app")) == ExitCode::not_found));
  fake.root.add_file(file, R"({"Repositories":{"app":{"app:latest":"sha256:)" + id + R"("},"app":[]}})");
  BOOST_TEST(image_of("app").find("entry \"app\" is not an object") != std::string::npos, image_of("app"));
  fake.root.add_file(file, R"({"Repositories":{"app":{"app:latest":"sha256:)" + id + R"(","app:latest":{"a":"b"}}}})");
  BOOST_TEST(image_of("app").find("entry \"app:latest\" is not a sha256 image ID") != std::string::npos, image_of("app"));
  fake.root.add_file(file, R"({"Repositories":{"app":{"app:latest":"sha256:)" + id + R"("}},"Repositories":3})");
  BOOST_TEST(image_of("app").find("no \"Repositories\" object") != std::string::npos, image_of("app"));
  fake.root.add_file(file, R"({"Repositories":{"app":{"app:latest":"sha256:)" + id + R"("}}} x)");
  BOOST_TEST(image_of("app").find("malformed JSON") != std::string::npos, image_of("app"));
  fake.root.add_file(file, R"({"Repositories":{"app":{"app:latest":"sha256:)" + id + R"(0"}}})");
  BOOST_TEST(image_of("app").find("is not a sha256 image ID") != std::string::npos, image_of("app"));
}

BOOST_AUTO_TEST_CASE(bad_diff_ids_in_a_config_are_corrupt) {
  FakeDockerStore fake;
  const std::string id = fake.add_image({"sha256:short"});
  BOOST_TEST((error_code(resolve(fake, id)) == ExitCode::corrupt));
  FakeDockerStore no_rootfs;
  const std::string config = R"({"architecture":"amd64"})";
  no_rootfs.root.add_file("image/overlay2/imagedb/content/sha256/" + sha256_hex(config), config);
  BOOST_TEST((error_code(resolve(no_rootfs, sha256_hex(config))) == ExitCode::corrupt));
}

BOOST_AUTO_TEST_CASE(missing_layer_is_not_found) {
  FakeDockerStore fake;
  const std::vector<std::string> diffs = {diff_id("a"), diff_id("b")};
  const std::string id = fake.add_image(diffs);
  fake.root.remove("image/overlay2/layerdb/sha256/" + chain_ids(diffs)[1].substr(7));
  BOOST_TEST((error_code(resolve(fake, id)) == ExitCode::not_found));
}

BOOST_AUTO_TEST_CASE(a_data_root_without_overlay2_is_explained) {
  FakeRootDir empty;
  BOOST_TEST((DockerStore::open(empty).error().code == ExitCode::not_found));
  FakeRootDir containerd;
  containerd.add_dir("containerd");
  BOOST_TEST(DockerStore::open(containerd).error().problem.find("image/overlay2 is missing") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
