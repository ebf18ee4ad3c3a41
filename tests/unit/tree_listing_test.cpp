// Why: the listing's order, fields, selection of paths and layer attribution decide what goes
// into a case file. Each test builds a small tree under /tmp (standing for a merged tree) and,
// for the layer column, layer dirs beside it; whiteouts and opaque dirs need root and are
// skipped otherwise. Real overlays are the integration tests' business.
#include "ovlmount/forensics/tree_listing.hpp"
#include "temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

using namespace ovlmount;
using namespace ovlmount::test;
namespace fs = std::filesystem;
namespace utf = boost::unit_test;

namespace {

void file(const fs::path& path, const std::string& content = "x") {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << content;
}

// Every entry list_tree gives for `root`; the test stops if it fails.
std::vector<TreeEntry> listing(const fs::path& root, const ListingOptions& options = {}) {
  std::vector<TreeEntry> entries;
  auto listed = list_tree(root.string(), options, [&](const TreeEntry& entry) {
    entries.push_back(entry);
    return true;
  });
  BOOST_TEST_REQUIRE(listed.has_value(), (listed ? "" : listed.error().message()));
  return entries;
}

std::vector<std::string> paths(const std::vector<TreeEntry>& entries) {
  std::vector<std::string> out;
  for (const TreeEntry& entry : entries) out.push_back(entry.path);
  return out;
}

const TreeEntry& entry_at(const std::vector<TreeEntry>& entries, const std::string& path) {
  for (const TreeEntry& entry : entries)
    if (entry.path == path) return entry;
  BOOST_FAIL("no entry for " + path);
  return entries.front();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tree_listing)

BOOST_AUTO_TEST_CASE(rows_come_in_bytewise_order_of_whole_paths) {
  TempDir tree("listing");
  for (const char* name : {"a/b", "a-c", "a.d", "b", "A", "\xc3\xa9", "a/b0/c"}) file(tree.path() / name);
  const std::vector<std::string> expected{"/", "/A", "/a", "/a-c", "/a.d", "/a/b", "/a/b0", "/a/b0/c", "/b", "/\xc3\xa9"};
  BOOST_TEST(paths(listing(tree.path())) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(each_row_has_type_mode_owner_size_time_link_and_hash) {
  TempDir tree("listing");
  file(tree.path() / "abc", "abc");
  file(tree.path() / "empty", "");
  ::chmod((tree.path() / "abc").c_str(), 04750);
  const timespec times[2] = {{1, 0}, {1234567890, 123456789}};
  BOOST_TEST_REQUIRE(::utimensat(AT_FDCWD, (tree.path() / "abc").c_str(), times, 0) == 0);
  fs::create_symlink("abc", tree.path() / "link");
  fs::create_symlink("/nonexistent/target", tree.path() / "dangling");
  BOOST_TEST_REQUIRE(::mkfifo((tree.path() / "fifo").c_str(), 0600) == 0);
  fs::create_directory(tree.path() / "dir");

  const auto entries = listing(tree.path());
  const TreeEntry& abc = entry_at(entries, "/abc");
  BOOST_TEST(std::string(tree_type_name(abc.mode)) == "file");
  BOOST_TEST(octal_mode(abc.mode) == "4750");
  BOOST_TEST(abc.uid == ::geteuid());
  BOOST_TEST(abc.size == 3u);
  BOOST_TEST(epoch_ns(abc.mtime) == "1234567890.123456789");
  BOOST_TEST(abc.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(entry_at(entries, "/empty").sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const TreeEntry& link = entry_at(entries, "/link");
  BOOST_TEST(std::string(tree_type_name(link.mode)) == "symlink");
  BOOST_TEST(link.link == "abc");
  BOOST_TEST(link.sha256.empty());
  BOOST_TEST(entry_at(entries, "/dangling").link == "/nonexistent/target");
  BOOST_TEST(std::string(tree_type_name(entry_at(entries, "/fifo").mode)) == "fifo");
  BOOST_TEST(entry_at(entries, "/fifo").sha256.empty());
  BOOST_TEST(std::string(tree_type_name(entry_at(entries, "/dir").mode)) == "dir");
  BOOST_TEST(std::string(tree_type_name(entry_at(entries, "/").mode)) == "dir");
  for (const TreeEntry& entry : entries) {
    BOOST_TEST(entry.problem.empty(), entry.path << ": " << entry.problem);
    BOOST_TEST(!entry.layer.has_value());
  }

  ListingOptions unhashed;
  unhashed.hash = false;
  BOOST_TEST(entry_at(listing(tree.path(), unhashed), "/abc").sha256.empty());
}

BOOST_AUTO_TEST_CASE(modes_and_times_are_spelled_exactly) {
  BOOST_TEST(octal_mode(S_IFDIR | 01777) == "1777");
  BOOST_TEST(octal_mode(S_IFREG | 0644) == "0644");
  BOOST_TEST(octal_mode(S_IFREG | 06755) == "6755");
  BOOST_TEST(octal_mode(S_IFREG) == "0000");
  BOOST_TEST(epoch_ns({0, 0}) == "0.000000000");
  BOOST_TEST(epoch_ns({1700000000, 5}) == "1700000000.000000005");
  BOOST_TEST(epoch_ns({-1, 500000000}) == "-0.500000000");
  BOOST_TEST(epoch_ns({-2, 0}) == "-2.000000000");
  BOOST_TEST(std::string(tree_type_name(S_IFSOCK)) == "socket");
  BOOST_TEST(std::string(tree_type_name(S_IFBLK)) == "block");
  BOOST_TEST(std::string(tree_type_name(S_IFCHR)) == "char");
}

BOOST_AUTO_TEST_CASE(paths_select_themselves_and_what_is_below_them) {
  TempDir tree("listing");
  for (const char* name : {"a/b/c", "a/b-d", "a-x", "b", "c/d"}) file(tree.path() / name);
  fs::create_symlink("a", tree.path() / "l");
  ListingOptions options;
  options.paths = {"/b", "/a/b/", "//a/b/c", "/l", "/a/b-d"};
  BOOST_TEST(paths(listing(tree.path(), options)) ==
                 (std::vector<std::string>{"/a/b", "/a/b-d", "/a/b/c", "/b", "/l"}),
             boost::test_tools::per_element());
  options.paths = {"/", "/a"};
  BOOST_TEST(paths(listing(tree.path(), options)) == paths(listing(tree.path())), boost::test_tools::per_element());

  for (const char* missing : {"/nothing", "/l/b", "/b/x", "/a/nothing/c"}) {
    options.paths = {"/a", missing};
    bool called = false;
    auto listed = list_tree(tree.path().string(), options, [&](const TreeEntry&) { return called = true; });
    BOOST_TEST_REQUIRE(!listed.has_value(), missing);
    BOOST_TEST((listed.error().code == ExitCode::not_found), missing);
    BOOST_TEST(listed.error().object == missing);
    BOOST_TEST(!called, "a row was given before " << missing << " was found missing");
  }
  options.paths = {"/a/../b"};
  auto dots = list_tree(tree.path().string(), options, [](const TreeEntry&) { return true; });
  BOOST_TEST_REQUIRE(!dots.has_value());
  BOOST_TEST((dots.error().code == ExitCode::usage));
}

BOOST_AUTO_TEST_CASE(hashing_threads_keep_the_order_and_a_row_can_stop_the_listing) {
  TempDir tree("listing");
  for (size_t i = 0; i < 300; ++i)
    file(tree.path() / ("d" + std::to_string(i % 7)) / std::to_string(i), std::string(i * 97, 'x'));
  ListingOptions one;
  one.threads = 1;
  ListingOptions three;
  three.threads = 3;
  const auto a = listing(tree.path(), one);
  const auto b = listing(tree.path(), three);
  BOOST_TEST_REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST(a[i].path == b[i].path);
    BOOST_TEST(a[i].sha256 == b[i].sha256);
  }
  size_t given = 0;
  auto listed = list_tree(tree.path().string(), three, [&](const TreeEntry&) { return ++given < 10; });
  BOOST_TEST(listed.has_value());
  BOOST_TEST(given == 10u);
}

// Layer dirs top/, mid/, base/ and a tree merged/ made to match them.
class LayerStack {
 public:
  LayerStack() : dir_("listing") {
    for (const char* d : {"top", "mid", "base", "merged"}) fs::create_directory(dir_.path() / d);
  }
  fs::path operator/(const std::string& relative) const { return dir_.path() / relative; }

  // The layer index (0 = top) list_tree names for each path of merged/.
  std::map<std::string, std::optional<size_t>> layers() const {
    auto root = BeneathRoot::open(dir_.path().string());
    BOOST_TEST_REQUIRE(root.has_value());
    ListingOptions options;
    options.layer_root = &*root;
    options.layer_dirs = {"top", "mid", "base"};
    std::map<std::string, std::optional<size_t>> out;
    for (const TreeEntry& entry : listing(dir_.path() / "merged", options)) out[entry.path] = entry.layer;
    return out;
  }

 private:
  TempDir dir_;
};

BOOST_AUTO_TEST_CASE(the_top_most_layer_with_a_path_provides_it) {
  LayerStack s;
  for (const char* path : {"base/etc/passwd", "base/etc/group", "mid/etc/passwd", "top/x", "merged/etc/passwd",
                           "merged/etc/group", "merged/x", "base/usr/bin/sh", "merged/usr/bin/sh"})
    file(s / path);
  fs::create_directories(s / "top/etc");
  const auto layers = s.layers();
  BOOST_TEST(*layers.at("/") == 0u);
  BOOST_TEST(*layers.at("/etc") == 0u);
  BOOST_TEST(*layers.at("/etc/passwd") == 1u);
  BOOST_TEST(*layers.at("/etc/group") == 2u);
  BOOST_TEST(*layers.at("/x") == 0u);
  BOOST_TEST(*layers.at("/usr") == 2u);
  BOOST_TEST(*layers.at("/usr/bin/sh") == 2u);
}

BOOST_AUTO_TEST_CASE(a_non_directory_stops_the_layers_below) {
  // mid/f is a file, so base/f/g cannot show through top/f; were merged/ to list f/g anyway,
  // no layer would provide it.
  LayerStack s;
  fs::create_directories(s / "top/f");
  file(s / "mid/f");
  file(s / "base/f/g");
  file(s / "merged/f/g");
  const auto layers = s.layers();
  BOOST_TEST(*layers.at("/f") == 0u);
  BOOST_TEST(!layers.at("/f/g").has_value());
}

BOOST_AUTO_TEST_CASE(an_opaque_dir_cuts_off_the_layers_below, *utf::precondition(running_as_root)) {
  LayerStack s;
  file(s / "base/d/old");
  file(s / "base/d/kept");
  file(s / "mid/d/kept");
  file(s / "base/d/sub/deep");
  fs::create_directories(s / "mid/d/sub");
  make_opaque(s / "mid/d");
  file(s / "top/d/new");
  file(s / "merged/d/new");
  file(s / "merged/d/kept");
  file(s / "merged/d/old");
  file(s / "merged/d/sub/deep");
  const auto layers = s.layers();
  BOOST_TEST(*layers.at("/d") == 0u);
  BOOST_TEST(*layers.at("/d/new") == 0u);
  BOOST_TEST(*layers.at("/d/kept") == 1u);
  BOOST_TEST(*layers.at("/d/sub") == 1u);
  BOOST_TEST(!layers.at("/d/old").has_value(), "base/d/old shows through the opaque mid/d");
  BOOST_TEST(!layers.at("/d/sub/deep").has_value(), "base/d/sub/deep shows through the opaque mid/d");
}

BOOST_AUTO_TEST_CASE(a_whiteout_of_a_dir_cuts_off_the_layers_below, *utf::precondition(running_as_root)) {
  LayerStack s;
  file(s / "base/w/old");
  make_whiteout(s / "mid/w");
  file(s / "top/w/new");
  file(s / "merged/w/new");
  file(s / "merged/w/old");
  const auto layers = s.layers();
  BOOST_TEST(*layers.at("/w") == 0u);
  BOOST_TEST(*layers.at("/w/new") == 0u);
  BOOST_TEST(!layers.at("/w/old").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
