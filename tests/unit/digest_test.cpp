// Why: chainIDs decide which directories are mounted; they are checked against known vectors.
#include "ovlmount/core/digest.hpp"

#include <boost/test/unit_test.hpp>

using namespace ovlmount;

BOOST_AUTO_TEST_SUITE(digest)

BOOST_AUTO_TEST_CASE(sha256_of_known_inputs) {
  BOOST_TEST(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

BOOST_AUTO_TEST_CASE(chain_ids_match_the_known_vector) {
  const std::vector<std::string> diff_ids = {
      "sha256:5dacd731af1b0386ead06c8b1feff9f65d9e0bdfec032d2cd0bc03690698feda",
      "sha256:dd0338cdfab32cdddd6c30efe8c89d0229d9f939e2bb736fbb0a52f27c2b0ee9"};
  const auto chain = chain_ids(diff_ids);
  BOOST_TEST_REQUIRE(chain.size() == 2u);
  BOOST_TEST(chain[0] == diff_ids[0]);
  BOOST_TEST(chain[1] == "sha256:166d13b0f0cb542034a2aef1c034ee2271e1d6aaee4490f749e72d1c04449c5b");
}

BOOST_AUTO_TEST_CASE(chain_ids_follow_the_recurrence) {
  const std::vector<std::string> diff_ids = {"sha256:" + std::string(64, '1'), "sha256:" + std::string(64, '2'),
                                             "sha256:" + std::string(64, '3')};
  const auto chain = chain_ids(diff_ids);
  BOOST_TEST(chain[2] == "sha256:" + sha256_hex(chain[1] + " " + diff_ids[2]));
  BOOST_TEST(chain_ids({}).empty());
}

BOOST_AUTO_TEST_CASE(digest_formats) {
  BOOST_TEST(is_hex64(std::string(64, 'a')));
  BOOST_TEST(!is_hex64(std::string(64, 'A')));
  BOOST_TEST(!is_hex64(std::string(63, 'a')));
  BOOST_TEST(!is_hex64("../../etc/passwd" + std::string(48, 'a')));
  BOOST_TEST(is_sha256_digest("sha256:" + std::string(64, '0')));
  BOOST_TEST(!is_sha256_digest("sha512:" + std::string(64, '0')));
}

BOOST_AUTO_TEST_SUITE_END()
