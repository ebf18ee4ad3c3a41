// Why: each input the fuzz targets of tests/fuzz found a bug with is kept here as a unit test,
// so the fix stays fixed in every build, not only under libFuzzer. Most of them only fail
// loudly in the sanitizer build (OVLMOUNT_SANITIZE), which CI runs.
#include "ovlmount/core/json_input.hpp"
#include "ovlmount/core/reference.hpp"
#include "ovlmount/store/bolt.hpp"
#include "ovlmount/store/config.hpp"

#include <boost/json/object.hpp>
#include <boost/test/unit_test.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

using namespace ovlmount;

BOOST_AUTO_TEST_SUITE(fuzz_findings)

// fuzz_repositories_json (and every JSON target): the budgeted parser freed object keys with
// another alignment than it allocated them, an ASan new-delete-type-mismatch on any object.
BOOST_AUTO_TEST_CASE(untrusted_json_frees_keys_as_it_allocated_them) {
  boost::system::error_code ec;
  const boost::json::value value = parse_untrusted_json(R"({"Repositories":{"a":{"a:latest":"x"}}})", ec);
  BOOST_TEST_REQUIRE(!ec);
  BOOST_TEST(value.at("Repositories").at("a").at("a:latest").as_string() == "x");
}

// fuzz_reference: a docker.io path of two elements shorter than "library/" ("a/b") threw
// std::out_of_range from familiar_name(), so `ovlmount resolve a/b` failed with a substr error
// instead of looking the name up.
BOOST_AUTO_TEST_CASE(short_docker_io_path_has_a_familiar_name) {
  for (const char* text : {"a/b", "ra/b/c0", "docker.io/x/y:1"}) {
    auto ref = parse_reference(text);
    BOOST_TEST_REQUIRE(ref.has_value(), text);
    BOOST_TEST(ref->familiar_name() == ref->path, text);
  }
  auto ref = parse_reference("a/b");
  BOOST_TEST_REQUIRE(ref.has_value());
  BOOST_TEST(ref->store_key() == "a/b:latest");
}

// fuzz_reference: Docker's familiar name of docker.io/lst.io/libr is "lst.io/libr", which
// reads as registry lst.io; ovlmount keeps Docker's keys (both names share one key), so this
// is not a bug, but the key must still round-trip.
BOOST_AUTO_TEST_CASE(docker_io_path_that_looks_like_a_registry_keeps_dockers_key) {
  auto ref = parse_reference("docker.io/lst.io/libr");
  BOOST_TEST_REQUIRE(ref.has_value());
  BOOST_TEST(ref->familiar_name() == "lst.io/libr");
  BOOST_TEST(ref->store_key() == "lst.io/libr:latest");
  auto again = parse_reference(ref->store_key());
  BOOST_TEST_REQUIRE(again.has_value());
  BOOST_TEST(again->store_key() == ref->store_key());
}

// fuzz_toml_config: toml++ 3.3 reached __builtin_unreachable() (undefined behaviour: UBSan
// aborts, a release build may do anything) on a non-whitespace code point of three of its
// whitespace table's blocks, here U+00C7 between a key and '='. Such a code point in a key or
// a string is now refused before toml++ sees it, and blanked in a comment; ASCII and other code
// points still parse.
BOOST_AUTO_TEST_CASE(toml_with_a_code_point_toml_mishandles_is_corrupt) {
  for (const char* text : {"rto \xc3\x87 = \"x\"\n", "root = \"/\xef\xb9\x90\"\n", "root = \"/x # \xc3\xa9\"\n",
                           "root = '/x # \xc3\xa9'\n", "root = \"\"\"/x\n# \xc3\xa9\"\"\"\n", "root = '''/x\n# \xc3\xa9'''\n",
                           "root = \"/x\\\" # \xc3\xa9\"\n", "root = \"/x\\\xc3\xa9 # \xc3\xa9\"\n"}) {
    auto storage = parse_storage_conf(text, "storage.conf");
    BOOST_TEST_REQUIRE(!storage.has_value(), text);
    BOOST_TEST(static_cast<int>(storage.error().code) == static_cast<int>(ExitCode::corrupt));
    BOOST_TEST(storage.error().problem.find("which its TOML parser cannot read safely") != std::string::npos);
    BOOST_TEST(!parse_containerd_config(text, "config.toml").has_value(), text);
  }
  auto root = parse_containerd_config("# \xe2\x82\xac \xf0\x9f\x90\xb3\nroot = \"/srv/\xe4\xb8\xad\"\n", "config.toml");
  BOOST_TEST_REQUIRE(root.has_value());
  BOOST_TEST(*root == "/srv/\xe4\xb8\xad");
}

// A localized config's comments hold such code points ("# Répertoire des données"): they are
// blanked, not refused, also after strings that hold a '#', a quote or a backslash.
BOOST_AUTO_TEST_CASE(toml_comments_with_code_points_toml_mishandles_parse) {
  const std::string text =
      "# R\xc3\xa9pertoire des donn\xc3\xa9" "es \xe3\x80\x81\n"
      "[storage]\n"
      "driver = \"overlay\" # pilote \xc3\xa9\n"
      "runroot = '/run/#x' # \xc3\xa9\n"
      "rootless_storage_path = \"\"\"a\\\"b\"\"\" # \xc3\xa9 \"\"\"\n"
      "graphroot = \"/srv/c\\\"\\\\#\" # d\xc3\xa9p\xc3\xb4t\n";
  auto storage = parse_storage_conf(text, "storage.conf");
  BOOST_TEST_REQUIRE(storage.has_value(), storage.error().message());
  BOOST_TEST(*storage == "/srv/c\"\\#");
}

// fuzz_bolt: a branch page whose keys send a lookup to another page than the one holding the
// key: for_each() listed the key, get() said there is none (a guess, not a corrupt error). The
// walk now checks every key against the range its parents' branch keys give its page. The file
// is the fuzz seed tests/fuzz/corpus/bolt/tiny.db (tests/fuzz/tools/make_bolt_seed.py): bucket
// "big" is branch page 5 (keys "a" -> page 6, "m" -> page 7); page 7's first key "m" becomes "c".
BOOST_AUTO_TEST_CASE(bolt_key_outside_its_branch_range_is_corrupt) {
  std::ifstream in(std::string(OVLMOUNT_TEST_DATA) + "/../../fuzz/corpus/bolt/tiny.db", std::ios::binary);
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  BOOST_TEST_REQUIRE(bytes.size() == 8u * 512u);
  const std::size_t first_key_of_page_7 = 7 * 512 + 16 + 2 * 16;
  BOOST_TEST_REQUIRE(bytes[first_key_of_page_7] == 'm');
  bytes[first_key_of_page_7] = 'c';
  UniqueFd fd(::memfd_create("fuzz-finding", MFD_CLOEXEC));
  BOOST_TEST_REQUIRE(::write(fd.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  auto file = BoltFile::open(std::move(fd), "tiny.db");
  BOOST_TEST_REQUIRE(file.has_value());
  auto big = file->bucket({"big"});
  BOOST_TEST_REQUIRE((big.has_value() && big->has_value()));
  auto walked = file->for_each(**big, [](const BoltItem&) -> Result<void> { return {}; });
  BOOST_TEST_REQUIRE(!walked.has_value());
  BOOST_TEST(static_cast<int>(walked.error().code) == static_cast<int>(ExitCode::corrupt));
  BOOST_TEST(walked.error().problem.find("outside the range its parent's branch keys give the page") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
