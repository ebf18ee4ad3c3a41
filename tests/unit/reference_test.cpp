// Why: the reference keys must be exactly Docker's, or names resolve to nothing (or to the
// wrong image). Cases follow distribution/reference's normalization rules.
#include "ovlmount/core/reference.hpp"

#include <boost/test/unit_test.hpp>

#include <vector>

using namespace ovlmount;

namespace {

ImageRef parse_ok(const std::string& text) {
  auto ref = parse_reference(text);
  BOOST_TEST_REQUIRE(ref.has_value(), text);
  return *ref;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reference)

BOOST_AUTO_TEST_CASE(official_image_spellings_share_one_key) {
  for (const char* text : {"nginx", "nginx:latest", "library/nginx", "docker.io/library/nginx:latest",
                           "index.docker.io/library/nginx", "docker.io/nginx"}) {
    const ImageRef ref = parse_ok(text);
    BOOST_TEST(ref.domain == "docker.io", text);
    BOOST_TEST(ref.path == "library/nginx", text);
    BOOST_TEST(ref.familiar_name() == "nginx", text);
    BOOST_TEST(ref.store_key() == "nginx:latest", text);
  }
}

BOOST_AUTO_TEST_CASE(tags_and_user_repositories) {
  BOOST_TEST(parse_ok("nginx:1.25").store_key() == "nginx:1.25");
  BOOST_TEST(parse_ok("user/app").familiar_name() == "user/app");
  BOOST_TEST(parse_ok("docker.io/user/app:v2").store_key() == "user/app:v2");
  BOOST_TEST(parse_ok("docker.io/library/a/b").familiar_name() == "library/a/b");
}

BOOST_AUTO_TEST_CASE(registries_keep_their_domain) {
  const ImageRef ref = parse_ok("registry.local:5000/team/app:v1");
  BOOST_TEST(ref.domain == "registry.local:5000");
  BOOST_TEST(ref.path == "team/app");
  BOOST_TEST(ref.tag == "v1");
  BOOST_TEST(ref.store_key() == "registry.local:5000/team/app:v1");
  BOOST_TEST(parse_ok("localhost/app").familiar_name() == "localhost/app");
  BOOST_TEST(parse_ok("localhost:5000/app").store_key() == "localhost:5000/app:latest");
  BOOST_TEST(parse_ok("Registry/app").domain == "Registry");
  BOOST_TEST(parse_ok("[::1]:5000/app").domain == "[::1]:5000");
}

BOOST_AUTO_TEST_CASE(digest_wins_over_tag) {
  const std::string digest = "sha256:" + std::string(64, 'a');
  BOOST_TEST(parse_ok("nginx@" + digest).store_key() == "nginx@" + digest);
  BOOST_TEST(parse_ok("nginx:1.25@" + digest).store_key() == "nginx@" + digest);
  BOOST_TEST(parse_ok("registry.local:5000/team/app@" + digest).store_key() ==
             "registry.local:5000/team/app@" + digest);
}

BOOST_AUTO_TEST_CASE(invalid_references_are_usage_errors) {
  for (const std::string& text : std::vector<std::string>{"Nginx", "nginx:", "nginx:-bad", "a b", "nginx@sha256:abc", "nginx@md5:" + std::string(32, 'a'), "",
        "nginx//x", "-nginx", "nginx_", std::string(64, 'a'), "app:" + std::string(129, 't'),
        "reg.example/" + std::string(250, 'a'), "bad_domain.com:/x"}) {
    auto ref = parse_reference(text);
    BOOST_TEST(!ref.has_value(), text);
    if (!ref) BOOST_TEST((ref.error().code == ExitCode::usage), text);
  }
}

BOOST_AUTO_TEST_CASE(separators_follow_the_grammar) {
  for (const char* text : {"a.b", "a_b", "a__b", "a-b", "a---b", "a/b.c/d-e"}) BOOST_TEST(parse_reference(text).has_value(), text);
  for (const char* text : {"a___b", "a..b", "a.-b", "a/", "/a"}) BOOST_TEST(!parse_reference(text).has_value(), text);
}

BOOST_AUTO_TEST_CASE(image_ids_and_prefixes) {
  const std::string hex(64, 'f');
  BOOST_TEST(*full_image_id(hex) == hex);
  BOOST_TEST(*full_image_id("sha256:" + hex) == hex);
  BOOST_TEST(!full_image_id(hex.substr(1)));
  BOOST_TEST(!full_image_id(std::string(64, 'F')));
  BOOST_TEST(*image_id_prefix("sha256:abc") == "abc");
  BOOST_TEST(*image_id_prefix("0f") == "0f");
  BOOST_TEST(!image_id_prefix("nginx"));
  BOOST_TEST(!image_id_prefix("sha256:"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(error_text)

BOOST_AUTO_TEST_CASE(untrusted_text_is_printed_on_one_line) {
  BOOST_TEST(escape("plain/path with space") == "plain/path with space");
  BOOST_TEST(escape("a\nb\\c\x1b[31m") == "a\\nb\\\\c\\x1b[31m");
  BOOST_TEST(escape("caf\xc3\xa9") == "caf\xc3\xa9");
  BOOST_TEST(escape("bad\xff\xc3") == "bad\\xff\\xc3");
  const Error error = corrupt("image\n1", "layerdb diff is \"x\ny\"");
  BOOST_TEST(error.message() == "ovlmount: image\\n1: layerdb diff is \"x\\ny\"");
}

BOOST_AUTO_TEST_SUITE_END()
