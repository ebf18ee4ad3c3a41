// Why: the bbolt reader is tested on files the real containerd 1.6 wrote (data/bolt, made by
// make-fixtures.sh; the expected values below are what `ctr` printed then, in
// make-fixtures.out), not on files written from our own reading of the format. Damage is done
// to in-memory copies (memfd) of those files, one kind at a time, and each must come back as
// one corrupt error naming the file; a seeded random-damage run checks that nothing crashes.
#include "ovlmount/store/bolt.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <random>

using namespace ovlmount;

namespace {

const std::filesystem::path fixtures = std::filesystem::path(OVLMOUNT_TEST_DATA) / "bolt";
constexpr std::string_view image_name = "docker.io/library/ovlfixture:1";
constexpr std::string_view manifest_digest = "sha256:26f2dd2b56c9d96035e483c89a034f58c8a2605aca7ae0e31cd35de2bd83abfc";
constexpr std::string_view manifest_media_type = "application/vnd.oci.image.manifest.v1+json";
constexpr std::int64_t manifest_size = 549;
constexpr std::string_view top_chain_id = "sha256:8862de761381742ee32bb77ac34c6ccdd5747c4f22cbde9bd05780245c9573cd";
constexpr std::string_view base_chain_id = "sha256:c1c20ecc3ceab095236bf59eccb5a6e1ab0b1b46f43b4c5391caff05a53c1032";
constexpr std::size_t page_size = 4096;
constexpr std::size_t meta_root_offset = 16 + 16;
constexpr std::size_t meta_page_size_offset = 16 + 8;
constexpr std::size_t meta_high_water_offset = 16 + 40;
constexpr std::size_t meta_txid_offset = 16 + 48;
constexpr std::size_t meta_checksum_offset = 16 + 56;
constexpr std::string_view damaged_name = "damaged/meta.db";

std::string read_fixture(const std::string& name) {
  std::ifstream in(fixtures / name, std::ios::binary);
  BOOST_TEST_REQUIRE(in.good(), "cannot read fixture " << name);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint64_t get_le(const std::string& bytes, std::size_t offset, int width) {
  std::uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i)
    value = value << 8 | static_cast<unsigned char>(bytes.at(offset + static_cast<std::size_t>(i)));
  return value;
}

void put_le(std::string& bytes, std::size_t offset, std::uint64_t value, int width) {
  for (int i = 0; i < width; ++i)
    bytes.at(offset + static_cast<std::size_t>(i)) = static_cast<char>(value >> (8 * i) & 0xff);
}

// Recomputes the FNV-1a-64 checksum of the meta on the page at `page_offset`.
void reseal_meta(std::string& bytes, std::size_t page_offset) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (std::size_t i = page_offset + 16; i < page_offset + meta_checksum_offset; ++i) {
    hash ^= static_cast<unsigned char>(bytes.at(i));
    hash *= 1099511628211ULL;
  }
  put_le(bytes, page_offset + meta_checksum_offset, hash, 8);
}

// The page offset of the meta with the higher txid (both are valid in the fixtures).
std::size_t newer_meta(const std::string& bytes) {
  return get_le(bytes, page_size + meta_txid_offset, 8) > get_le(bytes, meta_txid_offset, 8) ? page_size : 0;
}

std::uint64_t root_page_of(const std::string& bytes) { return get_le(bytes, newer_meta(bytes) + meta_root_offset, 8); }

// Sets a field of both metas and reseals them.
void set_both_metas(std::string& bytes, std::size_t field_offset, std::uint64_t value, int width) {
  for (const std::size_t meta : {std::size_t{0}, page_size}) {
    put_le(bytes, meta + field_offset, value, width);
    reseal_meta(bytes, meta);
  }
}

// Writes a branch page with one element pointing at `child` over page `page_id`.
void write_branch_page(std::string& bytes, std::uint64_t page_id, std::uint64_t child) {
  const std::size_t at = page_id * page_size;
  std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(at),
            bytes.begin() + static_cast<std::ptrdiff_t>(at + page_size), '\0');
  put_le(bytes, at, page_id, 8);
  put_le(bytes, at + 8, 0x01, 2);
  put_le(bytes, at + 10, 1, 2);
  put_le(bytes, at + 16, 16, 4);
  put_le(bytes, at + 20, 2, 4);
  put_le(bytes, at + 24, child, 8);
  bytes.at(at + 32) = 'v';
  bytes.at(at + 33) = '1';
}

// An in-memory file holding `bytes`, as a read-only open would give it.
UniqueFd memory_file(const std::string& bytes) {
  UniqueFd fd(::memfd_create("bolt-test", MFD_CLOEXEC));
  BOOST_TEST_REQUIRE(fd.get() >= 0);
  BOOST_TEST_REQUIRE(::write(fd.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  return fd;
}

Result<BoltFile> open_fixture(const std::string& name) {
  const std::string path = (fixtures / name).string();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  BOOST_TEST_REQUIRE(fd.get() >= 0, "cannot open " << path);
  return BoltFile::open(std::move(fd), path);
}

struct Target {
  std::string digest;
  std::string media_type;
  std::int64_t size = 0;
  bool operator==(const Target&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Target& target) {
  return out << target.digest << " " << target.media_type << " " << target.size;
}

Result<Target> read_target(const BoltFile& file, const BoltBucket& image) {
  auto target = file.bucket(image, "target");
  if (!target) return target.error();
  if (!*target) return corrupt(file.display_name(), "image without target");
  Target result;
  for (const auto& [key, field] : {std::pair{"digest", &result.digest}, std::pair{"mediatype", &result.media_type}}) {
    auto value = file.get(**target, key);
    if (!value) return value.error();
    if (!*value) return corrupt(file.display_name(), std::string("target without ") + key);
    *field = std::move(**value);
  }
  auto size = file.get(**target, "size");
  if (!size) return size.error();
  const auto decoded = *size ? decode_varint(**size) : std::nullopt;
  if (!decoded) return corrupt(file.display_name(), "target without a valid size");
  result.size = *decoded;
  return result;
}

// Every image of every namespace in a meta.db: "<namespace> <name>" -> target.
Result<std::map<std::string, Target>> read_all_images(const BoltFile& file) {
  std::map<std::string, Target> images;
  auto v1 = file.bucket({"v1"});
  if (!v1) return v1.error();
  if (!*v1) return corrupt(file.display_name(), "no v1 bucket");
  auto listed = file.for_each(**v1, [&](const BoltItem& namespace_item) -> Result<void> {
    if (!namespace_item.bucket) return {};
    const std::string namespace_name(namespace_item.key);
    auto images_bucket = file.bucket(*namespace_item.bucket, "images");
    if (!images_bucket) return images_bucket.error();
    if (!*images_bucket) return {};
    return file.for_each(**images_bucket, [&](const BoltItem& image) -> Result<void> {
      if (!image.bucket) return corrupt(file.display_name(), "image that is not a bucket");
      auto target = read_target(file, *image.bucket);
      if (!target) return target.error();
      images[namespace_name + " " + std::string(image.key)] = *target;
      return {};
    });
  });
  if (!listed) return listed.error();
  return images;
}

// Visits every bucket and value in the file; the number of values seen.
Result<std::size_t> read_everything(const BoltFile& file, const BoltBucket& bucket, int depth = 0) {
  std::size_t values = 0;
  auto walked = file.for_each(bucket, [&](const BoltItem& item) -> Result<void> {
    if (!item.bucket) {
      ++values;
      return {};
    }
    if (depth > 20) return corrupt(file.display_name(), "buckets nested too deep");
    auto nested = read_everything(file, *item.bucket, depth + 1);
    if (!nested) return nested.error();
    values += *nested;
    return {};
  });
  if (!walked) return walked.error();
  return values;
}

const Target expected_target{std::string(manifest_digest), std::string(manifest_media_type), manifest_size};

// Opens a damaged copy of meta.db and reads every image in it.
Result<std::map<std::string, Target>> read_damaged(const std::string& bytes) {
  auto file = BoltFile::open(memory_file(bytes), std::string(damaged_name));
  if (!file) return file.error();
  return read_all_images(*file);
}

// The problem of a corrupt error naming the damaged copy; fails the test on anything else.
template <class T>
std::string corrupt_problem(const Result<T>& result) {
  BOOST_TEST_REQUIRE(!result.has_value(), "damage was not noticed");
  BOOST_TEST(static_cast<int>(result.error().code) == static_cast<int>(ExitCode::corrupt));
  BOOST_TEST(result.error().object == damaged_name);
  BOOST_TEST_MESSAGE(result.error().message());
  return result.error().problem;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// The keys of `bucket` in the order for_each() hands them over.
std::vector<std::string> keys_of(const BoltFile& file, const BoltBucket& bucket) {
  std::vector<std::string> keys;
  const auto collect = [&](const BoltItem& item) -> Result<void> {
    keys.emplace_back(item.key);
    return {};
  };
  const auto listed = file.for_each(bucket, collect);
  BOOST_TEST_REQUIRE(listed.has_value(), listed.error().message());
  return keys;
}

// A lookup or decode outcome as text, so that a mismatch prints: the value, "<absent>" or the error.
std::string shown(const Result<std::optional<std::string>>& value) {
  if (!value) return "<error: " + value.error().message() + ">";
  return value->value_or("<absent>");
}
template <class Number>
std::string shown(const std::optional<Number>& value) {
  return value ? std::to_string(*value) : "<absent>";
}

std::string go_time_bytes(std::int64_t go_seconds, std::int32_t nanoseconds, std::int16_t offset_minutes) {
  std::string bytes(1, '\x01');
  for (int shift = 56; shift >= 0; shift -= 8)
    bytes += static_cast<char>(static_cast<std::uint64_t>(go_seconds) >> shift & 0xff);
  for (int shift = 24; shift >= 0; shift -= 8)
    bytes += static_cast<char>(static_cast<std::uint32_t>(nanoseconds) >> shift & 0xff);
  for (int shift = 8; shift >= 0; shift -= 8)
    bytes += static_cast<char>(static_cast<std::uint16_t>(offset_minutes) >> shift & 0xff);
  return bytes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bolt)

BOOST_AUTO_TEST_CASE(meta_db_images_match_ctr_in_both_namespaces) {
  auto file = open_fixture("meta.db");
  BOOST_TEST_REQUIRE(file.has_value(), file.error().message());
  BOOST_TEST(file->page_size() == 4096u);
  for (const std::string_view namespace_name : {"default", "k8s.io"}) {
    auto target = file->bucket({"v1", namespace_name, "images", image_name, "target"});
    BOOST_TEST_REQUIRE(target.has_value(), target.error().message());
    BOOST_TEST_REQUIRE(target->has_value());
    BOOST_TEST(shown(file->get(**target, "digest")) == manifest_digest);
    BOOST_TEST(shown(file->get(**target, "mediatype")) == manifest_media_type);
    BOOST_TEST(shown(decode_varint(file->get(**target, "size").value().value())) == std::to_string(manifest_size));
  }
  const auto images = read_all_images(*file).value();
  const std::map<std::string, Target> expected{{"default " + std::string(image_name), expected_target},
                                               {"k8s.io " + std::string(image_name), expected_target}};
  BOOST_TEST((images == expected));
  const auto version = file->get(file->bucket({"v1"}).value().value(), "version").value();
  BOOST_TEST(shown(decode_varint(version.value())) == "3");
}

BOOST_AUTO_TEST_CASE(meta_db_timestamps_decode) {
  auto file = open_fixture("meta.db").value();
  const auto image = file.bucket({"v1", "default", "images", image_name}).value().value();
  const auto created = decode_go_time(file.get(image, "createdat").value().value());
  const auto updated = decode_go_time(file.get(image, "updatedat").value().value());
  BOOST_TEST_REQUIRE(created.has_value());
  BOOST_TEST_REQUIRE(updated.has_value());
  BOOST_TEST(created->unix_seconds == 1795883616);  // 2026-11-28 16:33:36 UTC, when the fixture was made
  BOOST_TEST(created->nanoseconds == 6113368);
  BOOST_TEST(created->utc);
  BOOST_TEST(updated->unix_seconds == created->unix_seconds);
}

BOOST_AUTO_TEST_CASE(missing_keys_and_kind_mismatches_are_absent) {
  auto file = open_fixture("meta.db").value();
  BOOST_TEST(!file.bucket({"v1", "no-such-namespace"}).value().has_value());
  BOOST_TEST(!file.bucket({"v1", "version"}).value().has_value());
  const auto v1 = file.bucket({"v1"}).value().value();
  BOOST_TEST(!file.get(v1, "default").value().has_value());
  BOOST_TEST(!file.get(v1, "").value().has_value());
  BOOST_TEST(!file.get(v1, "zzz").value().has_value());
  BOOST_TEST(file.bucket({}).value().value().root_page == file.root().root_page);
}

BOOST_AUTO_TEST_CASE(entry_returns_a_value_or_a_sub_bucket) {
  auto file = open_fixture("meta.db").value();
  const auto v1 = file.bucket({"v1"}).value().value();
  const auto version = file.entry(v1, "version").value();
  BOOST_TEST_REQUIRE(version.has_value());
  BOOST_TEST(!version->bucket.has_value());
  BOOST_TEST(shown(decode_varint(version->value)) == "3");
  const auto ns = file.entry(v1, "default").value();
  BOOST_TEST_REQUIRE(ns.has_value());
  BOOST_TEST_REQUIRE(ns->bucket.has_value());
  BOOST_TEST(ns->value.empty());
  BOOST_TEST(file.bucket(*ns->bucket, "images").value().has_value());
  BOOST_TEST(!file.entry(v1, "zzz").value().has_value());
}

BOOST_AUTO_TEST_CASE(pinned_reads_the_loaded_transaction_and_again_when_it_moves) {
  std::string bytes = read_fixture("meta.db");
  UniqueFd writer = memory_file(bytes);
  auto file = BoltFile::open(UniqueFd(::fcntl(writer.get(), F_DUPFD_CLOEXEC, 0)), std::string(damaged_name)).value();
  const std::uint64_t first_txid = file.txid();
  const BoltBucket kept = file.root();
  int walks = 0;
  auto images = file.pinned([&](const BoltFile& walked) {
    ++walks;
    return read_all_images(walked);
  });
  BOOST_TEST_REQUIRE(images.has_value());
  BOOST_TEST(walks == 1);
  auto again = file.pinned([&](const BoltFile& walked) { return walked.get(kept, "v1"); });
  BOOST_TEST(again.has_value());
  BOOST_TEST(file.txid() == first_txid);

  const auto commit = [&] {
    const std::size_t newer = newer_meta(bytes);
    const std::size_t older = newer == 0 ? page_size : 0;
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(newer), page_size,
                bytes.begin() + static_cast<std::ptrdiff_t>(older));
    put_le(bytes, older, older / page_size, 8);
    put_le(bytes, older + meta_txid_offset, get_le(bytes, newer + meta_txid_offset, 8) + 1, 8);
    reseal_meta(bytes, older);
    BOOST_TEST_REQUIRE(::pwrite(writer.get(), bytes.data() + older, page_size, static_cast<off_t>(older)) ==
                       static_cast<ssize_t>(page_size));
  };
  walks = 0;
  images = file.pinned([&](const BoltFile& walked) {
    if (++walks == 1) commit();
    return read_all_images(walked);
  });
  BOOST_TEST_REQUIRE(images.has_value());
  BOOST_TEST(walks == 2);
  BOOST_TEST(file.txid() == first_txid + 1);

  walks = 0;
  images = file.pinned([&](const BoltFile& walked) {
    ++walks;
    commit();
    return read_all_images(walked);
  });
  BOOST_TEST_REQUIRE(!images.has_value());
  BOOST_TEST(walks == bolt_consistent_attempts);
  BOOST_TEST(contains(images.error().problem, "kept changing"));
}

BOOST_AUTO_TEST_CASE(for_each_visits_in_key_order) {
  auto file = open_fixture("meta.db").value();
  const auto v1 = file.bucket({"v1"}).value().value();
  BOOST_TEST((keys_of(file, v1) == std::vector<std::string>{"default", "k8s.io", "version"}));
  const auto stopped = file.for_each(v1, [&](const BoltItem&) -> Result<void> { return not_found("x", "stop"); });
  BOOST_TEST_REQUIRE(!stopped.has_value());
  BOOST_TEST(stopped.error().problem == "stop");
}

BOOST_AUTO_TEST_CASE(snapshot_records_link_meta_db_to_metadata_db) {
  auto meta = open_fixture("meta.db").value();
  auto snapshots = open_fixture("metadata.db").value();
  const auto record = [&](std::string_view namespace_name, std::string_view key) {
    const auto in_meta = meta.bucket({"v1", namespace_name, "snapshots", "overlayfs", key}).value().value();
    const std::string name = meta.get(in_meta, "name").value().value();
    return snapshots.bucket({"v1", "snapshots", name}).value().value();
  };
  const auto id_of = [&](const BoltBucket& bucket) {
    return decode_uvarint(snapshots.get(bucket, "id").value().value());
  };
  const auto kind_of = [&](const BoltBucket& bucket) { return snapshots.get(bucket, "kind").value().value(); };

  // `ctr snapshots mounts` printed lowerdir=snapshots/2/fs:snapshots/1/fs for the view.
  const auto top = record("default", top_chain_id);
  const auto base = record("default", base_chain_id);
  const auto view = record("default", "ovlfixture-view");
  BOOST_TEST(shown(id_of(top)) == "2");
  BOOST_TEST(shown(id_of(base)) == "1");
  BOOST_TEST(kind_of(top) == "\x03");
  BOOST_TEST(kind_of(base) == "\x03");
  BOOST_TEST(kind_of(view) == "\x01");
  BOOST_TEST(shown(snapshots.get(top, "parent")) == "default/2/" + std::string(base_chain_id));
  BOOST_TEST(shown(snapshots.get(view, "parent")) == "default/4/" + std::string(top_chain_id));
  BOOST_TEST(!snapshots.get(base, "parent").value().has_value());

  const auto k8s_top = record("k8s.io", top_chain_id);
  const auto k8s_base = record("k8s.io", base_chain_id);
  BOOST_TEST(shown(id_of(k8s_top)) == "4");
  BOOST_TEST(shown(id_of(k8s_base)) == "3");
  BOOST_TEST(shown(snapshots.get(k8s_top, "parent")) == "k8s.io/2/" + std::string(base_chain_id));

  const std::vector<std::string> expected_keys{
      "default/2/" + std::string(base_chain_id), "default/4/" + std::string(top_chain_id), "default/5/ovlfixture-view",
      "k8s.io/2/" + std::string(base_chain_id), "k8s.io/4/" + std::string(top_chain_id)};
  BOOST_TEST((keys_of(snapshots, snapshots.bucket({"v1", "snapshots"}).value().value()) == expected_keys));
}

BOOST_AUTO_TEST_CASE(copy_taken_mid_commit_is_read_consistently_or_refused) {
  auto file = open_fixture("meta-midcommit.db");
  if (!file) {
    BOOST_TEST(static_cast<int>(file.error().code) == static_cast<int>(ExitCode::corrupt));
    return;
  }
  const auto images = file->consistent([](const BoltFile& walked) { return read_all_images(walked); });
  if (!images) {
    BOOST_TEST_MESSAGE("mid-commit copy refused: " << images.error().message());
    BOOST_TEST(static_cast<int>(images.error().code) == static_cast<int>(ExitCode::corrupt));
    return;
  }
  BOOST_TEST_MESSAGE("mid-commit copy read at txid " << file->txid() << ": " << images->size() << " images");
  BOOST_TEST(images->count("default " + std::string(image_name)) == 1u);
  BOOST_TEST(images->count("k8s.io " + std::string(image_name)) == 1u);
  for (const auto& [name, target] : *images) {
    BOOST_TEST(name.find(" docker.io/library/ovlfixture:") != std::string::npos, name);
    BOOST_TEST(target == expected_target, name);
  }
  BOOST_TEST(read_everything(*file, file->root()).has_value());
}

BOOST_AUTO_TEST_CASE(consistent_walks_once_on_a_still_file) {
  auto file = open_fixture("meta.db").value();
  int walks = 0;
  const auto images = file.consistent([&](const BoltFile& walked) {
    ++walks;
    return read_all_images(walked);
  });
  BOOST_TEST_REQUIRE(images.has_value());
  BOOST_TEST(images->size() == 2u);
  BOOST_TEST(walks == 1);
}

BOOST_AUTO_TEST_CASE(consistent_walks_again_when_the_txid_moves) {
  std::string bytes = read_fixture("meta.db");
  UniqueFd writer = memory_file(bytes);
  auto file = BoltFile::open(UniqueFd(::fcntl(writer.get(), F_DUPFD_CLOEXEC, 0)), std::string(damaged_name)).value();
  const std::uint64_t first_txid = file.txid();
  const auto commit = [&] {
    const std::size_t newer = newer_meta(bytes);
    const std::size_t older = newer == 0 ? page_size : 0;
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(newer), page_size,
                bytes.begin() + static_cast<std::ptrdiff_t>(older));
    put_le(bytes, older, older / page_size, 8);
    put_le(bytes, older + meta_txid_offset, get_le(bytes, newer + meta_txid_offset, 8) + 1, 8);
    reseal_meta(bytes, older);
    BOOST_TEST_REQUIRE(::pwrite(writer.get(), bytes.data() + older, page_size, static_cast<off_t>(older)) ==
                       static_cast<ssize_t>(page_size));
  };

  int walks = 0;
  auto images = file.consistent([&](const BoltFile& walked) {
    if (++walks == 1) commit();
    return read_all_images(walked);
  });
  BOOST_TEST_REQUIRE(images.has_value());
  BOOST_TEST(walks == 2);
  BOOST_TEST(file.txid() == first_txid + 1);

  const BoltBucket stale = file.root();
  commit();
  BOOST_TEST_REQUIRE(file.reload().has_value());
  const auto refused = file.get(stale, "v1");
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(static_cast<int>(refused.error().code) == static_cast<int>(ExitCode::failure));

  walks = 0;
  images = file.consistent([&](const BoltFile& walked) {
    ++walks;
    commit();
    return read_all_images(walked);
  });
  BOOST_TEST_REQUIRE(!images.has_value());
  BOOST_TEST(walks == bolt_consistent_attempts);
  BOOST_TEST(static_cast<int>(images.error().code) == static_cast<int>(ExitCode::failure));
  BOOST_TEST(contains(images.error().problem, "kept changing"));
}

BOOST_AUTO_TEST_CASE(bad_magic_on_one_meta_uses_the_other) {
  std::string bytes = read_fixture("meta.db");
  put_le(bytes, 16, 0, 4);
  auto file = BoltFile::open(memory_file(bytes), std::string(damaged_name));
  BOOST_TEST_REQUIRE(file.has_value(), file.error().message());
  BOOST_TEST(file->txid() == get_le(bytes, page_size + meta_txid_offset, 8));
  BOOST_TEST(read_all_images(*file).value().size() == 2u);
}

BOOST_AUTO_TEST_CASE(bad_checksum_on_the_newer_meta_uses_the_older) {
  std::string bytes = read_fixture("meta.db");
  const std::size_t newer = newer_meta(bytes);
  const std::size_t older = newer == 0 ? page_size : 0;
  bytes.at(newer + meta_checksum_offset) ^= 0x01;
  auto file = BoltFile::open(memory_file(bytes), std::string(damaged_name));
  BOOST_TEST_REQUIRE(file.has_value(), file.error().message());
  BOOST_TEST(file->txid() == get_le(bytes, older + meta_txid_offset, 8));
  BOOST_TEST(read_all_images(*file).value().size() == 2u);
}

BOOST_AUTO_TEST_CASE(both_metas_bad_is_corrupt) {
  std::string bytes = read_fixture("meta.db");
  put_le(bytes, 16, 0, 4);
  bytes.at(page_size + meta_checksum_offset) ^= 0x01;
  BOOST_TEST(corrupt_problem(read_damaged(bytes)) ==
             "no valid meta page (page 0: bad magic 0x0; page 1: no valid meta at any page size from 512 to 65536 "
             "(at 4096: checksum mismatch))");
  bytes = read_fixture("meta.db");
  put_le(bytes, 20, 1, 4);
  put_le(bytes, page_size + 20, 1, 4);
  BOOST_TEST(corrupt_problem(read_damaged(bytes)) ==
             "no valid meta page (page 0: version 1, not 2; page 1: no valid meta at any page size from 512 to 65536 "
             "(at 4096: version 1, not 2))");
}

BOOST_AUTO_TEST_CASE(page_ids_past_the_meta_or_the_file_are_corrupt) {
  std::string bytes = read_fixture("meta.db");
  const std::uint64_t high_water = get_le(bytes, newer_meta(bytes) + meta_high_water_offset, 8);
  set_both_metas(bytes, meta_root_offset, 1'000'000, 8);
  BOOST_TEST(corrupt_problem(read_damaged(bytes)) ==
             "page 1000000 is past the last page (" + std::to_string(high_water - 1) + ") of transaction " +
                 std::to_string(get_le(bytes, newer_meta(bytes) + meta_txid_offset, 8)));
  set_both_metas(bytes, meta_high_water_offset, 2'000'000, 8);
  BOOST_TEST(corrupt_problem(read_damaged(bytes)) == "page 1000000 is past the end of the file (262144 bytes)");
  set_both_metas(bytes, meta_root_offset, 1, 8);
  BOOST_TEST(corrupt_problem(read_damaged(bytes)) == "page 1 is a meta page, not part of a tree");
}

BOOST_AUTO_TEST_CASE(element_past_its_page_is_corrupt) {
  std::string bytes = read_fixture("meta.db");
  const std::uint64_t root = root_page_of(bytes);
  put_le(bytes, root * page_size + 16 + 4, 0x7fffffff, 4);
  BOOST_TEST(contains(corrupt_problem(read_damaged(bytes)),
                      "page " + std::to_string(root) + ": element 0 runs past the end of the page"));
  bytes = read_fixture("meta.db");
  put_le(bytes, root * page_size + 16 + 12, 0xffffffff, 4);
  BOOST_TEST(contains(corrupt_problem(read_damaged(bytes)), "element 0 runs past the end of the page"));
}

BOOST_AUTO_TEST_CASE(page_header_damage_is_corrupt) {
  const std::string fixture = read_fixture("meta.db");
  const std::uint64_t root = root_page_of(fixture);
  const std::string label = "page " + std::to_string(root);
  std::string bytes = fixture;
  put_le(bytes, root * page_size + 8, 0x04, 2);
  BOOST_TEST(corrupt_problem(read_damaged(bytes)) == label + " is neither a branch nor a leaf (flags 0x4)");
  bytes = fixture;
  put_le(bytes, root * page_size + 10, 0xffff, 2);
  BOOST_TEST(corrupt_problem(read_damaged(bytes)) == label + " has 65535 elements, more than fit in its 4096 bytes");
  bytes = fixture;
  put_le(bytes, root * page_size + 12, 0xffffffff, 4);
  BOOST_TEST(contains(corrupt_problem(read_damaged(bytes)), label + " overflows by 4294967295 pages"));
  bytes = fixture;
  put_le(bytes, root * page_size, 7, 8);
  BOOST_TEST(corrupt_problem(read_damaged(bytes)) == label + " says it is page 7");
}

BOOST_AUTO_TEST_CASE(branch_cycles_and_deep_trees_are_corrupt) {
  std::string bytes = read_fixture("meta.db");
  write_branch_page(bytes, 2, 3);
  write_branch_page(bytes, 3, 2);
  set_both_metas(bytes, meta_root_offset, 2, 8);
  BOOST_TEST(corrupt_problem(read_damaged(bytes)) == "page 2 is reached twice in one tree (a cycle?)");
  write_branch_page(bytes, 2, 2);
  BOOST_TEST(corrupt_problem(read_damaged(bytes)) == "page 2 is reached twice in one tree (a cycle?)");

  constexpr std::uint64_t chain_end = 2 + bolt_max_depth + 5;
  bytes.resize((chain_end + 1) * page_size);
  for (std::uint64_t page = 2; page < chain_end; ++page) write_branch_page(bytes, page, page + 1);
  put_le(bytes, chain_end * page_size, chain_end, 8);
  put_le(bytes, chain_end * page_size + 8, 0x02, 2);
  set_both_metas(bytes, meta_high_water_offset, chain_end + 1, 8);
  BOOST_TEST(contains(corrupt_problem(read_damaged(bytes)), "tree deeper than 64 levels"));
}

BOOST_AUTO_TEST_CASE(truncated_files_are_corrupt) {
  const std::string fixture = read_fixture("meta.db");
  const std::uint64_t root = root_page_of(fixture);
  BOOST_TEST(corrupt_problem(read_damaged(fixture.substr(0, 3 * page_size))) ==
             "page " + std::to_string(root) + " is past the end of the file (12288 bytes)");
  BOOST_TEST(contains(corrupt_problem(read_damaged(fixture.substr(0, 100))), "past the end of the file (100 bytes)"));
  BOOST_TEST(corrupt_problem(read_damaged(fixture.substr(0, 40))) ==
             "no valid meta page (page 0: file too short (40 bytes); page 1: no valid meta at any page size from 512 "
             "to 65536)");
  BOOST_TEST(contains(corrupt_problem(read_damaged("")), "no valid meta page"));
}

BOOST_AUTO_TEST_CASE(an_overflow_longer_than_a_page_may_span_is_corrupt_in_a_sparse_file) {
  std::string bytes = read_fixture("meta.db");
  const std::uint64_t root = root_page_of(bytes);
  const std::uint64_t overflow = bolt_max_page_span / page_size;
  bytes.resize((root + overflow + 1) * page_size);
  set_both_metas(bytes, meta_high_water_offset, root + overflow + 1, 8);
  put_le(bytes, root * page_size + 12, overflow, 4);
  BOOST_TEST(corrupt_problem(read_damaged(bytes)) == "page " + std::to_string(root) + " overflows by " +
                                                         std::to_string(overflow) + " pages, more than the " +
                                                         std::to_string(bolt_max_page_span) + " bytes a page may span");
  put_le(bytes, root * page_size + 12, overflow - 1, 4);
  const auto within = read_damaged(bytes);
  BOOST_TEST((within.has_value() || !contains(within.error().problem, "a page may span")));
}

BOOST_AUTO_TEST_CASE(absurd_page_sizes_are_corrupt) {
  std::string bytes = read_fixture("meta.db");
  set_both_metas(bytes, meta_page_size_offset, 3, 4);
  BOOST_TEST(contains(corrupt_problem(read_damaged(bytes)), "page size 3 is not a power of two from 512 to 65536"));
  set_both_metas(bytes, meta_page_size_offset, std::uint64_t{1} << 30, 4);
  BOOST_TEST(contains(corrupt_problem(read_damaged(bytes)), "page size 1073741824 is not a power of two"));
  set_both_metas(bytes, meta_page_size_offset, 0, 4);
  BOOST_TEST(contains(corrupt_problem(read_damaged(bytes)), "page size 0 is not a power of two"));
  set_both_metas(bytes, meta_page_size_offset, 8192, 4);
  corrupt_problem(read_damaged(bytes));
}

BOOST_AUTO_TEST_CASE(inline_bucket_damage_is_corrupt) {
  const std::string fixture = read_fixture("meta.db");
  const std::string inline_target = std::string("target") + std::string(24, '\0') + std::string("\x02\x00\x03\x00", 4);
  std::string bytes = fixture;
  std::size_t patched = 0;
  for (std::size_t at = bytes.find(inline_target); at != std::string::npos; at = bytes.find(inline_target, at + 1)) {
    put_le(bytes, at + 6 + 16 + 16 + 4, 0x10000, 4);
    ++patched;
  }
  BOOST_TEST_REQUIRE(patched >= 2u);
  BOOST_TEST(
      corrupt_problem(read_damaged(bytes)) ==
      "inline bucket page: element 0 runs past the end of the page (position 65536, 77 bytes, page of 198 bytes)");

  bytes = fixture;
  for (std::size_t at = bytes.find(inline_target); at != std::string::npos; at = bytes.find(inline_target, at + 1))
    put_le(bytes, at + 6 + 16 + 8, 0x01, 2);
  BOOST_TEST(corrupt_problem(read_damaged(bytes)) == "inline bucket page is not a leaf");

  bytes = fixture;
  for (std::size_t at = bytes.find("digestsha256:"); at != std::string::npos; at = bytes.find("digestsha256:", at + 1))
    bytes.at(at) = 'z';
  auto file = BoltFile::open(memory_file(bytes), std::string(damaged_name)).value();
  const auto target = file.bucket({"v1", "default", "images", image_name, "target"}).value().value();
  BOOST_TEST(!file.get(target, "digest").value().has_value());
  BOOST_TEST(corrupt_problem(file.for_each(target, [](const BoltItem&) -> Result<void> { return {}; })) ==
             "inline bucket page: keys out of order at element 1");
}

BOOST_AUTO_TEST_CASE(random_damage_never_crashes) {
  const std::string fixture = read_fixture("meta.db");
  const std::uint64_t used_bytes = get_le(fixture, newer_meta(fixture) + meta_high_water_offset, 8) * page_size;
  std::mt19937_64 random(20261128);
  int refused = 0;
  for (int round = 0; round < 400; ++round) {
    std::string bytes = fixture;
    const int flips = 1 + static_cast<int>(random() % 16);
    for (int flip = 0; flip < flips; ++flip) bytes.at(random() % used_bytes) = static_cast<char>(random() & 0xff);
    if (round % 10 == 0) bytes.resize(random() % bytes.size());
    auto file = BoltFile::open(memory_file(bytes), std::string(damaged_name));
    const auto walked = file ? read_everything(*file, file->root()) : Result<std::size_t>(file.error());
    if (!walked) {
      ++refused;
      BOOST_TEST(static_cast<int>(walked.error().code) == static_cast<int>(ExitCode::corrupt),
                 walked.error().message());
    }
  }
  BOOST_TEST_MESSAGE("random damage: " << refused << " of 400 copies refused");
  BOOST_TEST(refused > 0);
}

BOOST_AUTO_TEST_CASE(not_a_regular_file_is_refused) {
  UniqueFd directory(::open(fixtures.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  BOOST_TEST_REQUIRE(directory.get() >= 0);
  const auto file = BoltFile::open(std::move(directory), "somedir");
  BOOST_TEST_REQUIRE(!file.has_value());
  BOOST_TEST(file.error().problem == "not a regular file");
}

BOOST_AUTO_TEST_CASE(uvarint_decodes_go_encoding) {
  using namespace std::string_literals;
  BOOST_TEST(shown(decode_uvarint("\x00"s)) == std::to_string(0));
  BOOST_TEST(shown(decode_uvarint("\x7f"s)) == std::to_string(127));
  BOOST_TEST(shown(decode_uvarint("\x80\x01"s)) == std::to_string(128));
  BOOST_TEST(shown(decode_uvarint("\xca\x08"s)) == std::to_string(1098));
  BOOST_TEST(shown(decode_uvarint("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"s)) ==
             std::to_string(std::numeric_limits<std::uint64_t>::max()));
  BOOST_TEST(!decode_uvarint("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02"s).has_value());
  BOOST_TEST(!decode_uvarint("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"s).has_value());
  BOOST_TEST(!decode_uvarint(""s).has_value());
  BOOST_TEST(!decode_uvarint("\x80"s).has_value());
  BOOST_TEST(!decode_uvarint("\x80\x80"s).has_value());
  BOOST_TEST(!decode_uvarint("\x01\x00"s).has_value());
}

BOOST_AUTO_TEST_CASE(varint_decodes_zigzag) {
  using namespace std::string_literals;
  BOOST_TEST(shown(decode_varint("\x00"s)) == std::to_string(0));
  BOOST_TEST(shown(decode_varint("\x01"s)) == std::to_string(-1));
  BOOST_TEST(shown(decode_varint("\x02"s)) == std::to_string(1));
  BOOST_TEST(shown(decode_varint("\x03"s)) == std::to_string(-2));
  BOOST_TEST(shown(decode_varint("\xca\x08"s)) == std::to_string(549));
  BOOST_TEST(shown(decode_varint("\x80\xa0\x01"s)) == std::to_string(10240));
  BOOST_TEST(shown(decode_varint("\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01"s)) ==
             std::to_string(std::numeric_limits<std::int64_t>::max()));
  BOOST_TEST(shown(decode_varint("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"s)) ==
             std::to_string(std::numeric_limits<std::int64_t>::min()));
  BOOST_TEST(!decode_varint("\xca"s).has_value());
  BOOST_TEST(!decode_varint(""s).has_value());
}

BOOST_AUTO_TEST_CASE(go_time_decodes_marshal_binary) {
  constexpr std::int64_t unix_to_go = 62135596800;
  const auto utc = decode_go_time(go_time_bytes(1795883616 + unix_to_go, 6113368, -1));
  BOOST_TEST_REQUIRE(utc.has_value());
  BOOST_TEST(utc->unix_seconds == 1795883616);
  BOOST_TEST(utc->nanoseconds == 6113368);
  BOOST_TEST(utc->utc);
  BOOST_TEST(utc->offset_minutes == 0);

  const auto zoned = decode_go_time(go_time_bytes(unix_to_go - 1, 999'999'999, 60));
  BOOST_TEST_REQUIRE(zoned.has_value());
  BOOST_TEST(zoned->unix_seconds == -1);
  BOOST_TEST(!zoned->utc);
  BOOST_TEST(zoned->offset_minutes == 60);

  const auto zero = decode_go_time(go_time_bytes(0, 0, -1));
  BOOST_TEST_REQUIRE(zero.has_value());
  BOOST_TEST(zero->unix_seconds == -unix_to_go);

  const std::string good = go_time_bytes(unix_to_go, 0, -1);
  BOOST_TEST(!decode_go_time(good.substr(0, 14)).has_value());
  BOOST_TEST(!decode_go_time(good + '\0').has_value());
  BOOST_TEST(!decode_go_time("").has_value());
  std::string version_two = good;
  version_two[0] = 2;
  BOOST_TEST(!decode_go_time(version_two).has_value());
  BOOST_TEST(!decode_go_time(go_time_bytes(unix_to_go, 1'000'000'000, -1)).has_value());
  BOOST_TEST(!decode_go_time(go_time_bytes(unix_to_go, -1, -1)).has_value());
  BOOST_TEST(!decode_go_time(go_time_bytes(std::numeric_limits<std::int64_t>::min(), 0, -1)).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
