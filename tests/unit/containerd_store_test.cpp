// Why: the containerd store is tested on the bolt files the real containerd 1.6 wrote
// (data/bolt, see make-fixtures.sh there), placed in a temp dir laid out as a containerd root,
// with the fixture image's manifest and config rebuilt byte for byte here (the manifest's
// digest, which containerd recorded, proves they are exact). Fakes cannot serve bolt files
// (the reader needs a descriptor), so this is a real directory read through BeneathRoot. The
// comparisons against containerd's own mounts are in tests/integration/containerd_test.cpp.
#include "ovlmount/core/digest.hpp"
#include "ovlmount/store/containerd_store.hpp"
#include "ovlmount/store/resolver.hpp"
#include "temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

using namespace ovlmount;
using namespace ovlmount::test;

namespace {

namespace stdfs = std::filesystem;

const stdfs::path fixtures = stdfs::path(OVLMOUNT_TEST_DATA) / "bolt";
const std::string diff1 = "sha256:c1c20ecc3ceab095236bf59eccb5a6e1ab0b1b46f43b4c5391caff05a53c1032";
const std::string diff2 = "sha256:32f982d85593473b2bad7e892f95084c0b86ff51c1136382d169fd448410c547";
const std::string manifest_digest = "sha256:26f2dd2b56c9d96035e483c89a034f58c8a2605aca7ae0e31cd35de2bd83abfc";
const std::string config_text = R"({"architecture":"amd64","config":{"Cmd":["/bin/sh"]},"os":"linux","rootfs":{"type":"layers","diff_ids":[")" +
                                diff1 + R"(",")" + diff2 + R"("]}})";
const std::string config_hex = sha256_hex(config_text);
const std::string manifest_text =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
    config_hex + R"(","size":)" + std::to_string(config_text.size()) +
    R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" + diff1 +
    R"(","size":10240},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" + diff2 +
    R"(","size":10240}]})";

void write(const stdfs::path& path, const std::string& bytes) {
  stdfs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// A containerd root holding the fixture files, both blobs and snapshot dirs 1 to 8.
struct FixtureRoot {
  TempDir dir{"ctrd"};
  FixtureRoot() {
    stdfs::create_directories(dir.path() / "io.containerd.metadata.v1.bolt");
    stdfs::create_directories(dir.path() / "io.containerd.snapshotter.v1.overlayfs");
    stdfs::copy_file(fixtures / "meta.db", dir.path() / "io.containerd.metadata.v1.bolt/meta.db");
    stdfs::copy_file(fixtures / "metadata.db", dir.path() / "io.containerd.snapshotter.v1.overlayfs/metadata.db");
    write(blob(manifest_digest), manifest_text);
    write(blob("sha256:" + config_hex), config_text);
    for (int id = 1; id <= 8; ++id)
      stdfs::create_directories(dir.path() / "io.containerd.snapshotter.v1.overlayfs/snapshots" / std::to_string(id) / "fs");
  }
  stdfs::path blob(const std::string& digest) const {
    return dir.path() / "io.containerd.content.v1.content/blobs/sha256" / digest.substr(7);
  }
  BeneathRoot root() const { return BeneathRoot::open(dir.path().string()).value(); }
};

ContainerdStore open_store(const RootDir& root, const std::string& ns) {
  auto store = ContainerdStore::open(root, ns);
  BOOST_TEST_REQUIRE(store.has_value(), store.error().message());
  return std::move(*store);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(containerd_store)

BOOST_AUTO_TEST_CASE(the_rebuilt_manifest_is_the_one_containerd_recorded) {
  BOOST_TEST("sha256:" + sha256_hex(manifest_text) == manifest_digest);
}

BOOST_AUTO_TEST_CASE(namespaces_are_the_buckets_under_v1) {
  FixtureRoot fixture;
  const BeneathRoot root = fixture.root();
  auto names = ContainerdStore::namespaces(root);
  BOOST_TEST_REQUIRE(names.has_value(), names.error().message());
  BOOST_TEST(*names == (std::vector<std::string>{"default", "k8s.io"}), boost::test_tools::per_element());
  auto missing = ContainerdStore::open(root, "moby");
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST((missing.error().code == ExitCode::not_found));
}

BOOST_AUTO_TEST_CASE(a_root_without_meta_db_is_not_found_as_absent) {
  TempDir empty("ctrd-empty");
  const BeneathRoot root = BeneathRoot::open(empty.path().string()).value();
  auto names = ContainerdStore::namespaces(root);
  BOOST_TEST_REQUIRE(!names.has_value());
  BOOST_TEST((names.error().code == ExitCode::not_found));
  BOOST_TEST(names.error().problem.starts_with("no such"));
}

BOOST_AUTO_TEST_CASE(an_image_resolves_to_its_snapshot_chain_by_name_id_and_prefix) {
  FixtureRoot fixture;
  const BeneathRoot root = fixture.root();
  const ContainerdStore store = open_store(root, "default");
  auto ids = store.image_ids();
  BOOST_TEST_REQUIRE(ids.has_value(), ids.error().message());
  BOOST_TEST(*ids == std::vector<std::string>{config_hex}, boost::test_tools::per_element());
  auto refs = store.references();
  BOOST_TEST_REQUIRE(refs.has_value());
  BOOST_TEST(refs->at(config_hex) == std::vector<std::string>{"docker.io/library/ovlfixture:1"},
             boost::test_tools::per_element());
  const auto chain = chain_ids({diff1, diff2});
  for (const std::string& reference : std::vector<std::string>{"ovlfixture:1", "docker.io/library/ovlfixture:1", "ovlfixture@" + manifest_digest,
                                      config_hex, config_hex.substr(0, 8)}) {
    auto stack = resolve_image(store, reference);
    BOOST_TEST_REQUIRE(stack.has_value(), reference << ": " << stack.error().message());
    BOOST_TEST(stack->image_id == "sha256:" + config_hex);
    BOOST_TEST_REQUIRE(stack->layers.size() == 2u);
    BOOST_TEST(stack->layers[0].cache_id == "1");
    BOOST_TEST(stack->layers[1].cache_id == "2");
    BOOST_TEST(stack->layers[0].dir == "io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs");
    BOOST_TEST(stack->layers[1].diff_id == diff2);
    BOOST_TEST(stack->layers[1].chain_id == chain[1]);
    BOOST_TEST(stack->layers[1].tar_split.empty());
  }
  auto absent = resolve_image(store, "ovlfixture:2");
  BOOST_TEST_REQUIRE(!absent.has_value());
  BOOST_TEST((absent.error().code == ExitCode::not_found));
}

BOOST_AUTO_TEST_CASE(each_namespace_has_its_own_snapshot_chain) {
  FixtureRoot fixture;
  const BeneathRoot root = fixture.root();
  auto other = resolve_image(open_store(root, "k8s.io"), "ovlfixture:1");
  BOOST_TEST_REQUIRE(other.has_value(), other.error().message());
  BOOST_TEST_REQUIRE(other->layers.size() == 2u);
  BOOST_TEST(other->layers[0].cache_id != "1");
  BOOST_TEST(other->layers[1].cache_id != "2");
  BOOST_TEST(other->layers[1].chain_id == chain_ids({diff1, diff2})[1]);
}

BOOST_AUTO_TEST_CASE(a_blob_that_is_not_its_digest_is_corrupt) {
  FixtureRoot fixture;
  write(fixture.blob("sha256:" + config_hex), config_text + " ");
  const BeneathRoot root = fixture.root();
  auto stack = resolve_image(open_store(root, "default"), "ovlfixture:1");
  BOOST_TEST_REQUIRE(!stack.has_value());
  BOOST_TEST((stack.error().code == ExitCode::corrupt));
  BOOST_TEST(stack.error().problem.find("digest mismatch") != std::string::npos);

  write(fixture.blob(manifest_digest), manifest_text + " ");
  auto listed = open_store(root, "default").image_ids();
  BOOST_TEST_REQUIRE(!listed.has_value());
  BOOST_TEST((listed.error().code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_CASE(an_image_without_its_content_is_left_out_of_listings) {
  FixtureRoot fixture;
  stdfs::remove(fixture.blob(manifest_digest));
  const BeneathRoot root = fixture.root();
  auto ids = open_store(root, "default").image_ids();
  BOOST_TEST_REQUIRE(ids.has_value(), ids.error().message());
  BOOST_TEST(ids->empty());
}

BOOST_AUTO_TEST_CASE(a_missing_layer_directory_is_not_found) {
  FixtureRoot fixture;
  stdfs::remove_all(fixture.dir.path() / "io.containerd.snapshotter.v1.overlayfs/snapshots/2");
  const BeneathRoot root = fixture.root();
  auto stack = resolve_image(open_store(root, "default"), "ovlfixture:1");
  BOOST_TEST_REQUIRE(!stack.has_value());
  BOOST_TEST((stack.error().code == ExitCode::not_found));
  BOOST_TEST(stack.error().problem.find("snapshots/2/fs") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_damaged_meta_db_is_corrupt) {
  FixtureRoot fixture;
  const stdfs::path meta = fixture.dir.path() / "io.containerd.metadata.v1.bolt/meta.db";
  std::fstream file(meta, std::ios::in | std::ios::out | std::ios::binary);
  for (const std::streamoff page : {0, 4096}) {
    file.seekp(page + 16 + 56);
    file.put('\x5a');
  }
  file.close();
  const BeneathRoot root = fixture.root();
  auto names = ContainerdStore::namespaces(root);
  BOOST_TEST_REQUIRE(!names.has_value());
  BOOST_TEST((names.error().code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_CASE(a_store_reads_each_blob_once_and_resolves_a_name_without_listing) {
  FixtureRoot fixture;
  const BeneathRoot root = fixture.root();
  const ContainerdStore store = open_store(root, "default");
  auto first = resolve_image(store, "ovlfixture:1");
  BOOST_TEST_REQUIRE(first.has_value(), first.error().message());
  stdfs::remove(fixture.blob(manifest_digest));
  stdfs::remove(fixture.blob("sha256:" + config_hex));
  for (const std::string& reference : std::vector<std::string>{"ovlfixture:1", config_hex}) {
    auto again = resolve_image(store, reference);
    BOOST_TEST_REQUIRE(again.has_value(), reference << ": " << again.error().message());
    BOOST_TEST(again->image_id == first->image_id);
    BOOST_TEST(again->layers.size() == first->layers.size());
  }
  auto ids = store.image_ids();
  BOOST_TEST_REQUIRE(ids.has_value(), ids.error().message());
  BOOST_TEST(*ids == std::vector<std::string>{config_hex}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_full_id_resolves_in_a_fresh_store_and_an_unlisted_config_is_no_image) {
  FixtureRoot fixture;
  const BeneathRoot root = fixture.root();
  auto stack = resolve_image(open_store(root, "k8s.io"), config_hex);
  BOOST_TEST_REQUIRE(stack.has_value(), stack.error().message());
  BOOST_TEST(stack->image_id == "sha256:" + config_hex);
  const std::string other(64, 'a');
  auto absent = open_store(root, "default").has_image(other);
  BOOST_TEST_REQUIRE(absent.has_value(), absent.error().message());
  BOOST_TEST(!*absent);
  auto named = resolve_image(open_store(root, "default"), other);
  BOOST_TEST_REQUIRE(!named.has_value());
  BOOST_TEST((named.error().code == ExitCode::not_found));
}

BOOST_AUTO_TEST_CASE(a_namespace_that_is_not_an_identifier_is_not_found) {
  FixtureRoot fixture;
  const BeneathRoot root = fixture.root();
  for (const std::string ns : {"", "../default", "no-such"}) {
    auto store = ContainerdStore::open(root, ns);
    BOOST_TEST_REQUIRE(!store.has_value());
    BOOST_TEST((store.error().code == ExitCode::not_found));
  }
}

BOOST_AUTO_TEST_CASE(the_fixture_has_no_containers) {
  FixtureRoot fixture;
  const BeneathRoot root = fixture.root();
  const ContainerdStore store = open_store(root, "default");
  auto ids = store.container_ids();
  BOOST_TEST_REQUIRE(ids.has_value());
  BOOST_TEST(ids->empty());
  auto bad = store.container("../x");
  BOOST_TEST_REQUIRE(!bad.has_value());
  BOOST_TEST((bad.error().code == ExitCode::not_found));
}

BOOST_AUTO_TEST_SUITE_END()
