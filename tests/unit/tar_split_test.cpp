// Why: tar-split.json.gz comes from a seized store, so the reader is tested on real gzip files
// written here with zlib: well-formed ones (every field form Go's encoder produces) must read
// back exactly, and every kind of damage must be a corrupt error naming the file, not a crash.
// The CRC64 is pinned to the CRC-64/GO-ISO check value, as tar-split computes it.
#include "ovlmount/core/digest.hpp"
#include "ovlmount/forensics/tar_split.hpp"
#include "tar_split_lines.hpp"
#include "temp_dir.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <zlib.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

using namespace ovlmount;
using namespace ovlmount::test;
namespace json = boost::json;

namespace {

void write_raw(const std::filesystem::path& path, std::string_view bytes, bool append = false) {
  std::ofstream out(path, append ? std::ios::binary | std::ios::app : std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string segment_line(std::string_view bytes, int position) {
  return json::serialize(json::object{{"type", 2}, {"payload", base64(bytes)}, {"position", position}}) + "\n";
}

std::string file_line(std::string_view name, std::string_view content, int position) {
  json::object entry{{"type", 1}, {"name", name}, {"position", position}};
  if (!content.empty()) {
    entry["size"] = content.size();
    entry["payload"] = crc_payload(content);
  } else {
    entry["payload"] = nullptr;
  }
  return json::serialize(entry) + "\n";
}

struct ReadResult {
  std::vector<TarSplitEntry> entries;
  std::optional<Error> error;
};

ReadResult read_all(const std::filesystem::path& dir, const std::string& name) {
  ReadResult result;
  auto root = BeneathRoot::open(dir.string());
  BOOST_TEST_REQUIRE(root.has_value());
  auto reader = TarSplitReader::open(*root, name);
  if (!reader) {
    result.error = reader.error();
    return result;
  }
  TarSplitEntry entry;
  while (true) {
    auto more = reader->next(entry);
    if (!more) {
      result.error = more.error();
      return result;
    }
    if (!*more) return result;
    result.entries.push_back(entry);
  }
}

// The error reading a tar-split whose JSON text is `text`.
std::optional<Error> error_reading(std::string_view text) {
  TempDir dir("tar-split");
  write_gzip(dir.path() / "t.json.gz", text);
  return read_all(dir.path(), "t.json.gz").error;
}

bool is_corrupt_naming(const std::optional<Error>& error, std::string_view text) {
  if (!error) return false;
  BOOST_TEST_MESSAGE(error->message());
  return error->code == ExitCode::corrupt && error->object.ends_with("t.json.gz") &&
         error->problem.find(text) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(crc64)

BOOST_AUTO_TEST_CASE(check_value_is_crc64_go_iso) {
  BOOST_TEST(crc64_iso("123456789") == 0xb90956c775a41001ull);
  BOOST_TEST(crc64_iso("") == 0u);
}

BOOST_AUTO_TEST_CASE(streaming_equals_one_call) {
  std::string data(100000, '\0');
  std::mt19937 random(7);
  for (auto& c : data) c = static_cast<char>(random());
  Crc64Iso crc;
  for (std::size_t i = 0; i < data.size(); i += 777) crc.update(std::string_view(data).substr(i, 777));
  BOOST_TEST(crc.value() == crc64_iso(data));
  Crc64Iso digits;
  digits.update("1234");
  BOOST_TEST(digits.value() == crc64_iso("1234"));
  digits.update("56789");
  BOOST_TEST(digits.value() == 0xb90956c775a41001ull);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tar_split)

BOOST_AUTO_TEST_CASE(names_are_normalized_as_docker_unpacks_them) {
  BOOST_TEST(*normalize_tar_name("etc/passwd") == "etc/passwd");
  BOOST_TEST(*normalize_tar_name("./etc/") == "etc");
  BOOST_TEST(*normalize_tar_name("./") == "");
  BOOST_TEST(*normalize_tar_name(".") == "");
  BOOST_TEST(*normalize_tar_name("/etc//x/./y/") == "etc/x/y");
  BOOST_TEST(*normalize_tar_name("a/b/../c") == "a/c");
  BOOST_TEST(*normalize_tar_name("/../etc") == "etc");
  BOOST_TEST(*normalize_tar_name("data/.wh..wh..opq") == "data/.wh..wh..opq");
  BOOST_TEST(*normalize_tar_name("with space, comma:colon \xc3\xa9") == "with space, comma:colon \xc3\xa9");
  BOOST_TEST(!normalize_tar_name("../etc/passwd"));
  BOOST_TEST(!normalize_tar_name("a/../../b"));
  BOOST_TEST(!normalize_tar_name(std::string_view("a\0b", 3)));
}

BOOST_AUTO_TEST_CASE(reads_every_field_form_go_writes) {
  TempDir dir("tar-split");
  const std::string header = ustar_header("etc/passwd", '0', 5);
  const std::string big_segment(300 * 1024, 'x');
  std::string text = segment_line(header, 0);
  text += file_line("etc/passwd", "hello", 1);
  text += "\n  \n";
  text += R"({"type":1,"name":"./etc/","payload":null,"position":2})"
          "\n";
  text += R"({"type":1,"name_raw":")" + base64("raw\xff") + R"(","position":3,"unknown":[1,2]})" + "\n";
  text += segment_line(big_segment, 4);
  text += R"({"type":2,"payload":null,"position":5})";
  write_gzip(dir.path() / "t.json.gz", text);

  const auto result = read_all(dir.path(), "t.json.gz");
  BOOST_TEST_REQUIRE(!result.error);
  BOOST_TEST_REQUIRE(result.entries.size() == 6u);
  const auto& segment = result.entries[0];
  BOOST_TEST((segment.kind == TarSplitEntry::Kind::segment));
  BOOST_TEST(segment.payload == header);
  const auto& file = result.entries[1];
  BOOST_TEST((file.kind == TarSplitEntry::Kind::file));
  BOOST_TEST(file.name == "etc/passwd");
  BOOST_TEST(file.path == "etc/passwd");
  BOOST_TEST(file.size == 5u);
  BOOST_TEST_REQUIRE(file.crc64.has_value());
  BOOST_TEST(*file.crc64 == crc64_iso("hello"));
  BOOST_TEST_REQUIRE(file.typeflag.has_value());
  BOOST_TEST(*file.typeflag == '0');
  const auto& dir_entry = result.entries[2];
  BOOST_TEST(dir_entry.name == "./etc/");
  BOOST_TEST(dir_entry.path == "etc");
  BOOST_TEST(dir_entry.size == 0u);
  BOOST_TEST(!dir_entry.crc64.has_value());
  BOOST_TEST(!dir_entry.typeflag.has_value());  // no header bytes since the last file entry
  BOOST_TEST(result.entries[3].name == "raw\xff");
  BOOST_TEST(result.entries[4].payload == big_segment);
  BOOST_TEST(result.entries[5].payload.empty());
}

BOOST_AUTO_TEST_CASE(concatenated_gzip_members_are_one_stream) {
  TempDir dir("tar-split");
  write_gzip(dir.path() / "t.json.gz", segment_line("abc", 0));
  write_gzip(dir.path() / "t.json.gz", file_line("a", "", 1), true);
  const auto result = read_all(dir.path(), "t.json.gz");
  BOOST_TEST_REQUIRE(!result.error);
  BOOST_TEST_REQUIRE(result.entries.size() == 2u);
  BOOST_TEST(result.entries[0].payload == "abc");
  BOOST_TEST(result.entries[1].path == "a");
}

BOOST_AUTO_TEST_CASE(missing_file_is_not_found_naming_it) {
  TempDir dir("tar-split");
  const auto result = read_all(dir.path(), "none.json.gz");
  BOOST_TEST_REQUIRE(result.error.has_value());
  BOOST_TEST((result.error->code == ExitCode::not_found));
  BOOST_TEST(result.error->object == (dir.path() / "none.json.gz").string());
}

BOOST_AUTO_TEST_CASE(bad_gzip_is_corrupt) {
  TempDir dir("tar-split");
  write_raw(dir.path() / "t.json.gz", "this is not gzip at all");
  BOOST_TEST(is_corrupt_naming(read_all(dir.path(), "t.json.gz").error, "gzip"));

  write_raw(dir.path() / "t.json.gz", "");
  BOOST_TEST(is_corrupt_naming(read_all(dir.path(), "t.json.gz").error, "empty or truncated"));

  write_gzip(dir.path() / "t.json.gz", segment_line(std::string(5000, 'q'), 0));
  std::ifstream in(dir.path() / "t.json.gz", std::ios::binary);
  const std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_raw(dir.path() / "t.json.gz", std::string_view(whole).substr(0, whole.size() - 6));
  BOOST_TEST(is_corrupt_naming(read_all(dir.path(), "t.json.gz").error, "empty or truncated"));

  write_raw(dir.path() / "t.json.gz", whole);
  write_raw(dir.path() / "t.json.gz", "garbage after the member", true);
  BOOST_TEST(is_corrupt_naming(read_all(dir.path(), "t.json.gz").error, "bad gzip data"));

  std::string flipped = whole;
  flipped[flipped.size() - 5] = static_cast<char>(flipped[flipped.size() - 5] ^ 1);
  write_raw(dir.path() / "t.json.gz", flipped);
  BOOST_TEST(is_corrupt_naming(read_all(dir.path(), "t.json.gz").error, "bad gzip data"));
}

BOOST_AUTO_TEST_CASE(bad_json_is_corrupt_naming_the_line) {
  BOOST_TEST(is_corrupt_naming(error_reading(segment_line("a", 0) + "{\"type\":2,\n"), "line 2: not valid JSON"));
  BOOST_TEST(is_corrupt_naming(error_reading("[1,2]\n"), "line 1: not a JSON object"));
  BOOST_TEST(is_corrupt_naming(error_reading("\"text\"\n"), "not a JSON object"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":2,"payload":"YQ=="} {"type":2})"), "not valid JSON"));
  BOOST_TEST(is_corrupt_naming(error_reading("{\"type\":1,\"name\":\"\xff\"}\n"), "not valid JSON"));
}

BOOST_AUTO_TEST_CASE(wrong_types_are_corrupt) {
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":"2","payload":""})"), "\"type\" is a string, not an integer"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":2.0,"payload":""})"), "not an integer"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"payload":""})"), "no \"type\""));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":3,"payload":""})"), "unknown entry type 3"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":1,"name":7})"), "\"name\" is an integer, not a string"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":1,"name":"a","size":"5"})"), "\"size\" is a string"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":2,"payload":[1]})"), "\"payload\" is an array"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":2,"payload":"","position":true})"), "\"position\" is a boolean"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":1,"name":"a","size":18446744073709551615})"), "too large"));
}

BOOST_AUTO_TEST_CASE(bad_sizes_and_names_are_corrupt) {
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":1,"name":"a","size":-1})"), "negative \"size\""));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":2,"payload":"","position":-1})"), "negative \"position\""));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":1,"name":"a","size":2000000000000})"), "is larger than"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":1,"size":0})"), "without a name"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":1,"name":"../etc/shadow"})"), "leaves the layer dir"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":1,"name":"a\u0000b"})"), "NUL"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":1,"name":")" + std::string(5000, 'n') + "\"}"), "longer than"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":1,"name":"a","size":5})"), "8-byte CRC64"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":1,"name":"a","size":5,"payload":"YWJj"})"), "8-byte CRC64"));
}

BOOST_AUTO_TEST_CASE(bad_base64_is_corrupt) {
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":2,"payload":"YWJ"})"), "not valid base64"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":2,"payload":"YW!j"})"), "not valid base64"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":2,"payload":"Y=Jj"})"), "not valid base64"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":2,"payload":"YQ==YWJj"})"), "not valid base64"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":2,"payload":"===="})"), "not valid base64"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":1,"name_raw":"%%%%"})"), "\"name_raw\" is not valid base64"));
  BOOST_TEST(is_corrupt_naming(error_reading(R"({"type":1,"name":"a","size":1,"payload":"AAAAAAAAAA A="})"),
                               "not valid base64"));
  BOOST_TEST(!error_reading(R"({"type":2,"payload":"YQ=="})"));
  BOOST_TEST(!error_reading(R"({"type":2,"payload":"YWI="})"));
  BOOST_TEST(!error_reading(R"({"type":2,"payload":""})"));
}

BOOST_AUTO_TEST_CASE(an_overlong_line_is_corrupt) {
  const std::string line = R"({"type":2,"payload":")" + std::string(tar_split_max_line + 8, 'A') + "\"}\n";
  BOOST_TEST(is_corrupt_naming(error_reading(line), "line 1 is longer than"));
}

BOOST_AUTO_TEST_SUITE_END()
