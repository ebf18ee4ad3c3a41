// Why: verify must prove an untouched layer and name exactly what was changed in a tampered
// one. Each test builds a real layer in a temp data root: a tar made here, its tar-split (written
// the way vbatts/tar-split's disassembler does: headers and padding as segments, each entry as
// a file entry with its CRC64), the diff dir as Docker's overlay2 unpacks it (whiteouts as 0/0
// character devices, opaque dirs as trusted.overlay.opaque=y), and the diff_id as the tar's
// SHA-256. Then one change is made to the diff dir and the problems are checked one by one.
#include "ovlmount/core/digest.hpp"
#include "ovlmount/forensics/layer_verify.hpp"
#include "tar_split_lines.hpp"
#include "temp_dir.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <zlib.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

using namespace ovlmount;
using namespace ovlmount::test;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// One tar entry of a test layer.
struct TarEntry {
  std::string name;  // as the tar records it: "etc/", "./etc/passwd", "data/.wh.gone"
  char typeflag = '0';
  std::string content;
  std::string link;  // symlink target, or hard link target (a tar name)
};

// The tar stream of `entries` and its tar-split JSON lines, as tar-split's disassembler writes
// them: the bytes before each entry's content (padding, header) as one segment, the entry as a
// file entry, the end-of-archive blocks as a last segment.
std::pair<std::string, std::string> tar_and_tar_split(const std::vector<TarEntry>& entries) {
  std::string tar;
  std::string lines;
  std::string pending;
  int position = 0;
  const auto flush_segment = [&] {
    lines += json::serialize(json::object{{"type", 2}, {"payload", base64(pending)}, {"position", position++}}) + "\n";
    pending.clear();
  };
  for (const auto& entry : entries) {
    const std::string header = ustar_header(entry.name, entry.typeflag, entry.content.size(),
                                            entry.typeflag == '5' ? 0755 : 0644, 1700000000, entry.link);
    tar += header;
    pending += header;
    flush_segment();
    json::object file{{"type", 1}, {"position", position++}};
    const bool valid_utf8 = entry.name.find('\xff') == std::string::npos;  // the only bad byte used here
    if (valid_utf8)
      file["name"] = entry.name;
    else
      file["name_raw"] = base64(entry.name);
    if (entry.content.empty()) {
      file["payload"] = nullptr;
    } else {
      file["size"] = entry.content.size();
      file["payload"] = crc_payload(entry.content);
    }
    lines += json::serialize(file) + "\n";
    tar += entry.content;
    const std::string padding((512 - entry.content.size() % 512) % 512, '\0');
    tar += padding;
    pending += padding;
  }
  const std::string end_of_archive(1024, '\0');
  tar += end_of_archive;
  pending += end_of_archive;
  flush_segment();
  return {tar, lines};
}

void write_file(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  BOOST_TEST_REQUIRE(out.good());
}

std::string pseudo_random(std::size_t size, unsigned seed) {
  std::string bytes(size, '\0');
  std::mt19937_64 random(seed);
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    const std::uint64_t word = random();
    std::memcpy(bytes.data() + i, &word, 8);
  }
  return bytes;
}

// 17 MiB and a bit: several 1 MiB reads, and two progress steps.
const std::string& big_content() {
  static const std::string content = pseudo_random((17u << 20) + 123, 1);
  return content;
}

// The entries of the standard test layer, names prefixed with `prefix` ("" or "./"); with
// overlay markers (a whiteout and an opaque dir) only when running as root.
std::vector<TarEntry> standard_entries(const std::string& prefix, bool with_overlay_markers) {
  std::vector<TarEntry> entries = {
      {prefix + "etc/", '5', "", ""},
      {prefix + "etc/passwd", '0', "root:x:0:0:root:/root:/bin/sh\n", ""},
      {prefix + "etc/empty", '0', "", ""},
      {prefix + "etc/link", '2', "", "passwd"},
      {prefix + "data/", '5', "", ""},
      {prefix + "data/big", '0', big_content(), ""},
      {prefix + "data/with space, comma:colon \xc3\xa9", '0', "text\n", ""},
      {prefix + "data/hl", '1', "", prefix + "etc/passwd"},
      {prefix + "data/raw\xff", '0', "raw name\n", ""},
  };
  if (!prefix.empty()) entries.insert(entries.begin(), {prefix, '5', "", ""});
  if (with_overlay_markers) {
    entries.push_back({prefix + ".wh.gone", '0', "", ""});
    entries.push_back({prefix + "opq/", '5', "", ""});
    entries.push_back({prefix + "opq/.wh..wh..opq", '0', "", ""});
    entries.push_back({prefix + "opq/new", '0', "new\n", ""});
  }
  return entries;
}

// A data root holding one layer built from `entries`: tar-split, diff dir and diff_id.
class TestLayer {
 public:
  explicit TestLayer(const std::vector<TarEntry>& entries) {
    const std::string chain(64, 'c');
    const std::string cache_id(64, 'd');
    layer_.dir = "overlay2/" + cache_id + "/diff";
    layer_.tar_split = "image/overlay2/layerdb/sha256/" + chain + "/tar-split.json.gz";
    const auto [tar, lines] = tar_and_tar_split(entries);
    tar_ = tar;
    layer_.diff_id = "sha256:" + sha256_hex(tar);
    layer_.chain_id = "sha256:" + chain;
    layer_.cache_id = cache_id;
    std::int64_t size = 0;
    for (const auto& entry : entries) size += static_cast<std::int64_t>(entry.content.size());
    layer_.size = size;
    fs::create_directories((root_.path() / layer_.tar_split).parent_path());
    write_gzip(root_.path() / layer_.tar_split, lines);
    fs::create_directories(diff());
    for (const auto& entry : entries) unpack(entry);
  }

  const Layer& layer() const { return layer_; }
  const std::string& tar() const { return tar_; }
  fs::path diff() const { return root_.path() / layer_.dir; }
  fs::path root() const { return root_.path(); }

  LayerVerification verify(const VerifyProgress& progress = {}) const {
    auto root = BeneathRoot::open(root_.path().string());
    BOOST_TEST_REQUIRE(root.has_value());
    auto verification = verify_layer(*root, layer_, progress);
    BOOST_TEST_REQUIRE(verification.has_value(), (verification ? "" : verification.error().message()));
    for (const auto& problem : verification->problems)
      BOOST_TEST_MESSAGE("problem: " << problem.path << ": " << problem.problem);
    return *verification;
  }

 private:
  // Creates `entry` in the diff dir the way Docker's overlay2 unpacks it.
  void unpack(const TarEntry& entry) {
    const fs::path path = diff() / fs::path(entry.name).relative_path();
    const std::string base = fs::path(entry.name).filename().string();
    switch (entry.typeflag) {
      case '5': fs::create_directories(path); break;
      case '2': fs::create_symlink(entry.link, path); break;
      case '1': fs::create_hard_link(diff() / fs::path(entry.link).relative_path(), path); break;
      default:
        if (base == ".wh..wh..opq")
          make_opaque(path.parent_path());
        else if (base.starts_with(".wh."))
          make_whiteout(path.parent_path() / base.substr(4));
        else
          write_file(path, entry.content);
    }
  }

  TempDir root_{"verify"};
  Layer layer_;
  std::string tar_;
};

using Problems = std::vector<std::pair<std::string, std::string>>;

Problems problems_of(const LayerVerification& verification) {
  Problems problems;
  for (const auto& problem : verification.problems) problems.emplace_back(problem.path, problem.problem);
  return problems;
}

void append_to(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void flip_byte(const fs::path& path, std::streamoff offset) {
  std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
  file.seekg(offset);
  char byte = 0;
  file.get(byte);
  file.seekp(offset);
  file.put(static_cast<char>(byte ^ 0x20));
  BOOST_TEST_REQUIRE(file.good());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(layer_verify)

BOOST_AUTO_TEST_CASE(untouched_layer_rebuilds_its_tar) {
  if (!is_root()) BOOST_TEST_MESSAGE("not root: the layer has no whiteout and no opaque dir");
  for (const std::string prefix : {"", "./"}) {
    const auto entries = standard_entries(prefix, is_root());
    const TestLayer layer(entries);
    const auto verification = layer.verify();
    BOOST_TEST(verification.ok);
    BOOST_TEST(verification.actual == "sha256:" + sha256_hex(layer.tar()));
    BOOST_TEST(verification.actual == layer.layer().diff_id);
    BOOST_TEST(verification.bytes == layer.tar().size());
    BOOST_TEST(verification.entries == entries.size());
    BOOST_TEST(verification.problems.empty());
  }
}

BOOST_AUTO_TEST_CASE(progress_reaches_the_layer_size) {
  const TestLayer layer(standard_entries("", false));
  std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
  const auto verification = layer.verify([&](std::uint64_t done, std::uint64_t total) { calls.emplace_back(done, total); });
  BOOST_TEST(verification.ok);
  BOOST_TEST_REQUIRE(calls.size() >= 3u);
  for (std::size_t i = 1; i < calls.size(); ++i) BOOST_TEST(calls[i].first >= calls[i - 1].first);
  const auto expected = static_cast<std::uint64_t>(layer.layer().size);
  BOOST_TEST(calls.back().first == expected);
  BOOST_TEST(calls.back().second == expected);
}

BOOST_AUTO_TEST_CASE(one_changed_byte_names_that_file) {
  const TestLayer layer(standard_entries("", is_root()));
  flip_byte(layer.diff() / "data/big", 5 << 20);
  const auto verification = layer.verify();
  BOOST_TEST(!verification.ok);
  BOOST_TEST(verification.actual != layer.layer().diff_id);
  BOOST_TEST(verification.bytes == layer.tar().size());
  BOOST_TEST((problems_of(verification) == Problems{{"data/big", "content differs (CRC64)"}}));
}

BOOST_AUTO_TEST_CASE(a_changed_non_ascii_name_file_is_named) {
  const TestLayer layer(standard_entries("", false));
  flip_byte(layer.diff() / "data/raw\xff", 0);
  flip_byte(layer.diff() / "data/with space, comma:colon \xc3\xa9", 1);
  const auto verification = layer.verify();
  BOOST_TEST((problems_of(verification) == Problems{{"data/raw\xff", "content differs (CRC64)"},
                                                    {"data/with space, comma:colon \xc3\xa9", "content differs (CRC64)"}}));
}

BOOST_AUTO_TEST_CASE(appended_and_truncated_files_are_size_problems) {
  const TestLayer layer(standard_entries("", false));
  append_to(layer.diff() / "etc/passwd", "evil::0:0::/:/bin/sh\n");
  fs::resize_file(layer.diff() / "data/big", 1000);
  const auto verification = layer.verify();
  BOOST_TEST(!verification.ok);
  BOOST_TEST(verification.bytes == layer.tar().size() - (big_content().size() - 1000));
  BOOST_TEST((problems_of(verification) ==
              Problems{{"data/big", "size 1000, tar-split says " + std::to_string(big_content().size())},
                       {"etc/passwd", "size 51, tar-split says 30"}}));
}

BOOST_AUTO_TEST_CASE(an_extra_file_is_not_in_tar_split) {
  const TestLayer layer(standard_entries("", false));
  write_file(layer.diff() / "data/implant", "x");
  fs::create_directory(layer.diff() / "newdir");
  write_file(layer.diff() / "newdir/inside", "y");
  const auto verification = layer.verify();
  BOOST_TEST(!verification.ok);
  BOOST_TEST(verification.actual == layer.layer().diff_id);
  BOOST_TEST((problems_of(verification) == Problems{{"data/implant", "not in tar-split"},
                                                    {"newdir", "not in tar-split"},
                                                    {"newdir/inside", "not in tar-split"}}));
}

BOOST_AUTO_TEST_CASE(a_removed_file_is_missing_once) {
  const TestLayer layer(standard_entries("", false));
  fs::remove(layer.diff() / "etc/passwd");
  fs::remove(layer.diff() / "etc/empty");
  const auto verification = layer.verify();
  BOOST_TEST(!verification.ok);
  BOOST_TEST((problems_of(verification) == Problems{{"etc/empty", "missing"}, {"etc/passwd", "missing"}}));
}

BOOST_AUTO_TEST_CASE(an_empty_file_that_gained_content_is_named) {
  const TestLayer layer(standard_entries("", false));
  write_file(layer.diff() / "etc/empty", "abc");
  const auto verification = layer.verify();
  BOOST_TEST(!verification.ok);
  BOOST_TEST(verification.actual == layer.layer().diff_id);
  BOOST_TEST((problems_of(verification) == Problems{{"etc/empty", "size 3, tar-split says 0"}}));
}

BOOST_AUTO_TEST_CASE(a_changed_file_type_is_named) {
  const TestLayer layer(standard_entries("", false));
  fs::remove(layer.diff() / "etc/passwd");
  fs::create_directory(layer.diff() / "etc/passwd");
  fs::remove(layer.diff() / "etc/link");
  write_file(layer.diff() / "etc/link", "");
  const auto verification = layer.verify();
  BOOST_TEST((problems_of(verification) ==
              Problems{{"etc/link", "is a regular file, tar-split lists a symlink"},
                       {"etc/passwd", "is a directory, tar-split lists a regular file of 30 bytes"}}));
}

BOOST_AUTO_TEST_CASE(a_symlink_in_the_path_is_not_followed) {
  const TestLayer layer(standard_entries("", false));
  TempDir elsewhere("verify");
  write_file(elsewhere.path() / "passwd", "root:x:0:0:root:/root:/bin/sh\n");
  fs::rename(layer.diff() / "etc", layer.root() / "etc-moved");
  fs::create_directory_symlink(elsewhere.path(), layer.diff() / "etc");
  const auto verification = layer.verify();
  BOOST_TEST(!verification.ok);
  const auto problems = problems_of(verification);
  BOOST_TEST_REQUIRE(!problems.empty());
  BOOST_TEST((problems.front() == std::pair<std::string, std::string>{"etc", "is a symlink, tar-split lists a directory"}));
  const bool passwd_refused = std::any_of(problems.begin(), problems.end(), [](const auto& problem) {
    return problem.first == "etc/passwd" && problem.second.find("refusing to follow a symlink") != std::string::npos;
  });
  BOOST_TEST(passwd_refused);
}

BOOST_AUTO_TEST_CASE(whiteouts_and_opaque_dirs_stand_for_wh_entries) {
  if (!is_root()) {
    BOOST_TEST_MESSAGE("skipped: needs root to mknod a whiteout and set trusted.overlay.opaque");
    return;
  }
  {
    const TestLayer layer(standard_entries("", true));
    BOOST_TEST(fs::is_character_file(fs::symlink_status(layer.diff() / "gone")));
    BOOST_TEST(layer.verify().ok);
  }
  {
    const TestLayer layer(standard_entries("", true));
    fs::remove(layer.diff() / "gone");
    BOOST_TEST(::removexattr((layer.diff() / "opq").c_str(), "trusted.overlay.opaque") == 0);
    make_whiteout(layer.diff() / "data/zapped");
    make_opaque(layer.diff() / "etc");
    const auto verification = layer.verify();
    BOOST_TEST(!verification.ok);
    BOOST_TEST(verification.actual == layer.layer().diff_id);
    BOOST_TEST((problems_of(verification) == Problems{{".wh.gone", "missing"},
                                                      {"data/.wh.zapped", "not in tar-split"},
                                                      {"etc/.wh..wh..opq", "not in tar-split"},
                                                      {"opq/.wh..wh..opq", "missing"}}));
  }
  {
    const TestLayer layer(standard_entries("", true));
    fs::remove(layer.diff() / "gone");
    write_file(layer.diff() / ".wh.gone", "");
    const auto verification = layer.verify();
    BOOST_TEST((problems_of(verification) ==
                Problems{{".wh.gone", "is a regular file, not an overlay whiteout or opaque dir"}}));
  }
}

BOOST_AUTO_TEST_CASE(a_missing_diff_dir_is_one_problem) {
  const TestLayer layer(standard_entries("", false));
  fs::remove_all(layer.diff());
  const auto verification = layer.verify();
  BOOST_TEST(!verification.ok);
  BOOST_TEST(verification.actual == "");
  BOOST_TEST(verification.entries == standard_entries("", false).size());
  BOOST_TEST((problems_of(verification) == Problems{{"", "the layer's diff dir is missing"}}));
}

BOOST_AUTO_TEST_CASE(a_missing_or_corrupt_tar_split_is_an_error) {
  const TestLayer layer(standard_entries("", false));
  auto root = BeneathRoot::open(layer.root().string());
  BOOST_TEST_REQUIRE(root.has_value());

  Layer without = layer.layer();
  without.tar_split.clear();
  auto none = verify_layer(*root, without, {});
  BOOST_TEST_REQUIRE(!none.has_value());
  BOOST_TEST((none.error().code == ExitCode::not_found));

  write_gzip(layer.root() / layer.layer().tar_split, R"({"type":2,"payload":"%%%%"})");
  auto bad = verify_layer(*root, layer.layer(), {});
  BOOST_TEST_REQUIRE(!bad.has_value());
  BOOST_TEST((bad.error().code == ExitCode::corrupt));
  BOOST_TEST(bad.error().object == (layer.root() / layer.layer().tar_split).string());

  fs::remove(layer.root() / layer.layer().tar_split);
  auto missing = verify_layer(*root, layer.layer(), {});
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST((missing.error().code == ExitCode::not_found));
  BOOST_TEST(missing.error().object == (layer.root() / layer.layer().tar_split).string());
}

BOOST_AUTO_TEST_CASE(tree_size_counts_regular_files) {
  const TestLayer layer(standard_entries("", false));
  auto root = BeneathRoot::open(layer.root().string());
  BOOST_TEST_REQUIRE(root.has_value());
  const auto size = tree_size(*root, layer.layer().dir);
  BOOST_TEST_REQUIRE(size.has_value());
  // passwd, empty, big, "with space...", hl (a second name of passwd), raw
  BOOST_TEST(size->files == 6u);
  BOOST_TEST(size->bytes == static_cast<std::uint64_t>(layer.layer().size) + 30u);
  BOOST_TEST(!tree_size(*root, "no/such/dir").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
