// Why: a containerd layer is verified from its blob, so each test packs a small layer with GNU
// tar (never the code under test), compresses it with gzip or zstd (or leaves it plain), and lays out
// the snapshot dir as containerd's overlayfs snapshotter unpacks it: ".wh.x" as a 0/0 character
// device "x", ".wh..wh..opq" as trusted.overlay.opaque=y on its dir. Then one thing is changed
// and the problems are checked one by one.
#include "ovlmount/core/digest.hpp"
#include "ovlmount/forensics/blob_verify.hpp"
#include "temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <sys/xattr.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

using namespace ovlmount;
using namespace ovlmount::test;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void run(const std::string& command) { BOOST_TEST_REQUIRE(std::system(command.c_str()) == 0, command); }

// A store root with blobs/layer (the packed layer) and snap/fs (the snapshot dir).
class BlobLayer {
 public:
  // `with_marks` adds a whiteout and an opaque dir (needs root); `compress`: "gzip", "zstd" or "none".
  explicit BlobLayer(bool with_marks, const std::string& compress = "gzip") {
    const fs::path source = root_.path() / "source";
    const fs::path fs_dir = root_.path() / "snap/fs";
    for (const fs::path& top : {source, fs_dir}) {
      write_file(top / "etc/hostname", "layer\n");
      write_file(top / "data/file", std::string(300000, 'x') + "end");
      write_file(top / "data/empty", "");
      fs::create_symlink("../etc/hostname", top / "link");
      fs::create_directories(top / "opq");
    }
    fs::create_hard_link(source / "data/file", source / "data/hard");
    fs::create_hard_link(fs_dir / "data/file", fs_dir / "data/hard");
    if (with_marks) {
      write_file(source / ".wh.gone", "");
      write_file(source / "opq/.wh..wh..opq", "");
      make_whiteout(fs_dir / "gone");
      make_opaque(fs_dir / "opq");
    }
    fs::create_directories(root_.path() / "blobs");
    const std::string tar = (root_.path() / "blobs/layer.tar").string();
    run("tar -C '" + source.string() + "' --sort=name -cf '" + tar + "' .");
    layer_.diff_id = "sha256:" + sha256_hex(read_all(tar));
    layer_.blob = "blobs/layer.tar";
    if (compress == "gzip") {
      run("gzip -n '" + tar + "'");
      layer_.blob = "blobs/layer.tar.gz";
    } else if (compress == "zstd") {
      run("zstd -q --rm '" + tar + "'");
      layer_.blob = "blobs/layer.tar.zst";
    }
    layer_.blob_digest = "sha256:" + sha256_hex(read_all(root_.path() / layer_.blob));
    layer_.dir = "snap/fs";
    layer_.role = LayerRole::image;
  }

  LayerVerification verify(const VerifyProgress& progress = {}) const {
    auto root = BeneathRoot::open(root_.path().string());
    BOOST_TEST_REQUIRE(root.has_value());
    auto result = verify_layer_blob(*root, layer_, progress);
    BOOST_TEST_REQUIRE(result.has_value(), (result ? "" : result.error().message()));
    return *result;
  }

  fs::path diff() const { return root_.path() / "snap/fs"; }
  Layer& layer() { return layer_; }
  const TempDir& root() const { return root_; }

 private:
  TempDir root_{"blob"};
  Layer layer_;
};

using Problems = std::vector<std::pair<std::string, std::string>>;

Problems problems_of(const LayerVerification& verification) {
  Problems problems;
  for (const auto& problem : verification.problems) problems.emplace_back(problem.path, problem.problem);
  return problems;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(blob_verify)

BOOST_AUTO_TEST_CASE(an_untouched_layer_verifies_from_gzip_zstd_and_plain_blobs) {
  for (const std::string compress : {"gzip", "zstd", "none"}) {
    BlobLayer layer(is_root(), compress);
    std::vector<std::uint64_t> calls;
    const auto verification = layer.verify([&](std::uint64_t done, std::uint64_t) { calls.push_back(done); });
    BOOST_TEST(verification.ok, compress);
    BOOST_TEST(verification.actual == layer.layer().diff_id);
    BOOST_TEST(verification.problems.empty());
    BOOST_TEST(verification.entries >= 9u);
    BOOST_TEST(calls.size() == 2u);
  }
}

BOOST_AUTO_TEST_CASE(one_changed_byte_names_that_file) {
  BlobLayer layer(false);
  {
    std::fstream file(layer.diff() / "data/file", std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(200000);
    file.put('y');
  }
  const auto verification = layer.verify();
  BOOST_TEST(!verification.ok);
  BOOST_TEST(verification.actual == layer.layer().diff_id);
  BOOST_TEST((problems_of(verification) == Problems{{"data/file", "content differs"}}));
}

BOOST_AUTO_TEST_CASE(missing_extra_and_retyped_entries_are_named) {
  BlobLayer layer(false);
  fs::remove(layer.diff() / "etc/hostname");
  write_file(layer.diff() / "etc/extra", "x");
  fs::remove(layer.diff() / "data/empty");
  fs::create_directories(layer.diff() / "data/empty");
  write_file(layer.diff() / "data/file", "short");
  const auto verification = layer.verify();
  BOOST_TEST(!verification.ok);
  BOOST_TEST((problems_of(verification) ==
              Problems{{"data/empty", "is a directory, the layer blob lists a regular file"},
                       {"data/file", "size 5, the layer blob says 300003"},
                       {"etc/extra", "not in the layer blob"},
                       {"etc/hostname", "missing"}}));
}

BOOST_AUTO_TEST_CASE(whiteouts_and_opaque_dirs_are_matched, *boost::unit_test::precondition(running_as_root)) {
  BlobLayer layer(true);
  BOOST_TEST(layer.verify().ok);
  fs::remove(layer.diff() / "gone");
  BOOST_TEST_REQUIRE(::removexattr((layer.diff() / "opq").c_str(), "trusted.overlay.opaque") == 0);
  make_whiteout(layer.diff() / "data/zapped");
  const auto verification = layer.verify();
  BOOST_TEST((problems_of(verification) == Problems{{".wh.gone", "missing"},
                                                    {"data/.wh.zapped", "not in the layer blob"},
                                                    {"opq/.wh..wh..opq", "missing"}}));
}

BOOST_AUTO_TEST_CASE(digest_mismatches_fail_the_layer) {
  BlobLayer layer(false);
  const std::string blob_digest = layer.layer().blob_digest;
  layer.layer().blob_digest = "sha256:" + std::string(64, '0');
  auto verification = layer.verify();
  BOOST_TEST(!verification.ok);
  BOOST_TEST_REQUIRE(verification.problems.size() == 1u);
  BOOST_TEST(verification.problems[0].path == "");
  BOOST_TEST(verification.problems[0].problem.starts_with("blob digest mismatch: "));
  BOOST_TEST(verification.problems[0].problem.find(blob_digest) != std::string::npos);

  layer.layer().blob_digest = blob_digest;
  const std::string diff_id = layer.layer().diff_id;
  layer.layer().diff_id = "sha256:" + std::string(64, '0');
  verification = layer.verify();
  BOOST_TEST(!verification.ok);
  BOOST_TEST(verification.actual == diff_id);
  BOOST_TEST(verification.problems.empty());
}

BOOST_AUTO_TEST_CASE(a_missing_or_unreadable_blob_is_an_error) {
  BlobLayer layer(false);
  auto root = BeneathRoot::open(layer.root().path().string());
  BOOST_TEST_REQUIRE(root.has_value());
  fs::remove(layer.root().path() / layer.layer().blob);
  auto missing = verify_layer_blob(*root, layer.layer(), {});
  BOOST_TEST_REQUIRE(!missing);
  BOOST_TEST((missing.error().code == ExitCode::not_found));
  write_file(layer.root().path() / layer.layer().blob, "not a tar stream, no gzip either");
  auto garbage = verify_layer_blob(*root, layer.layer(), {});
  BOOST_TEST_REQUIRE(!garbage);
  BOOST_TEST((garbage.error().code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_SUITE_END()
