// Why: `ovlmount which` must name the layer an analyst would see a file come from, or the
// layer that hides it, by overlayfs' rules. Each test builds real layer dirs under /tmp
// (whiteouts as 0/0 character devices and opaque dirs as trusted.overlay.opaque=y, which need
// root; those cases are skipped otherwise) and asks about one path.
#include "ovlmount/forensics/which.hpp"
#include "temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

using namespace ovlmount;
using namespace ovlmount::test;
namespace fs = std::filesystem;
namespace utf = boost::unit_test;

namespace {

// Three layer dirs "top", "mid", "base" (top first) under /tmp, removed at the end.
class Layers {
 public:
  Layers() : dir_("which"), root_(dir_.path()) {
    for (const char* layer : {"top", "mid", "base"}) fs::create_directory(root_ / layer);
  }

  void file(const std::string& relative) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative) << relative;
  }
  void dir(const std::string& relative) { fs::create_directories(root_ / relative); }
  void symlink(const std::string& relative, const std::string& target) {
    fs::create_directories((root_ / relative).parent_path());
    fs::create_symlink(target, root_ / relative);
  }
  void whiteout(const std::string& relative) { make_whiteout(root_ / relative); }
  void opaque(const std::string& relative) {
    dir(relative);
    make_opaque(root_ / relative);
  }

  Result<WhichAnswer> which(std::string_view path,
                            const std::vector<std::string>& layers = {"top", "mid", "base"}) const {
    auto root = BeneathRoot::open(root_.string());
    BOOST_TEST_REQUIRE(root.has_value());
    return which_layer(*root, layers, path);
  }

 private:
  TempDir dir_;
  fs::path root_;
};

void check(const Result<WhichAnswer>& answer, Presence presence, size_t layer, const std::string& detail = "") {
  BOOST_TEST_REQUIRE(answer.has_value(), (answer ? "" : answer.error().message()));
  BOOST_TEST((answer->presence == presence));
  if (presence != Presence::absent) BOOST_TEST(answer->layer == layer);
  BOOST_TEST(answer->detail == detail);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(which)

BOOST_AUTO_TEST_CASE(the_top_most_layer_with_the_path_provides_it) {
  Layers layers;
  layers.file("base/etc/passwd");
  layers.file("mid/etc/passwd");
  layers.file("base/etc/group");
  layers.dir("top/etc");
  check(layers.which("/etc/passwd"), Presence::provided, 1);
  check(layers.which("/etc/group"), Presence::provided, 2);
  check(layers.which("/etc"), Presence::provided, 0);
}

BOOST_AUTO_TEST_CASE(a_path_no_layer_has_is_absent) {
  Layers layers;
  layers.file("base/etc/passwd");
  check(layers.which("/etc/shadow"), Presence::absent, 0);
  check(layers.which("/nowhere/at/all"), Presence::absent, 0);
}

BOOST_AUTO_TEST_CASE(paths_are_normalized) {
  Layers layers;
  layers.file("mid/a/b");
  for (const char* path : {"/a/b", "a/b", "//a///b", "/a/b/"}) check(layers.which(path), Presence::provided, 1);
}

BOOST_AUTO_TEST_CASE(dot_and_dot_dot_are_usage_errors) {
  Layers layers;
  for (const char* path : {".", "/a/./b", "..", "/a/../b", "a/.."}) {
    auto answer = layers.which(path);
    BOOST_TEST_REQUIRE(!answer.has_value(), path);
    BOOST_TEST((answer.error().code == ExitCode::usage), path);
  }
  for (const char* path : {"/a/.hidden", "/a/..b", "/a/...", "/.wh.x"})
    BOOST_TEST(layers.which(path).has_value(), path);
}

BOOST_AUTO_TEST_CASE(the_root_is_provided_by_the_top_layer) {
  Layers layers;
  check(layers.which("/"), Presence::provided, 0);
  check(layers.which(""), Presence::provided, 0);
  check(layers.which("//"), Presence::provided, 0);
  check(layers.which("/", {}), Presence::absent, 0);
}

BOOST_AUTO_TEST_CASE(a_whiteout_of_the_path_hides_it, *utf::precondition(running_as_root)) {
  Layers layers;
  layers.file("base/etc/passwd");
  layers.whiteout("mid/etc/passwd");
  check(layers.which("/etc/passwd"), Presence::hidden, 1, "whiteout of /etc/passwd");
  layers.file("top/etc/passwd");
  check(layers.which("/etc/passwd"), Presence::provided, 0);
}

BOOST_AUTO_TEST_CASE(a_whiteout_of_a_parent_hides_it, *utf::precondition(running_as_root)) {
  Layers layers;
  layers.file("base/a/b/c");
  layers.whiteout("mid/a");
  check(layers.which("/a/b/c"), Presence::hidden, 1, "whiteout of /a");
}

BOOST_AUTO_TEST_CASE(an_opaque_dir_cuts_off_the_layers_below, *utf::precondition(running_as_root)) {
  Layers layers;
  layers.file("base/d/old");
  layers.file("base/d/sub/deep");
  layers.file("base/d/kept");
  layers.opaque("mid/d");
  layers.file("mid/d/kept");
  check(layers.which("/d/old"), Presence::hidden, 1, "opaque dir /d");
  check(layers.which("/d/sub/deep"), Presence::hidden, 1, "opaque dir /d");
  check(layers.which("/d/kept"), Presence::provided, 1);
  check(layers.which("/d"), Presence::provided, 1);
  check(layers.which("/d/never"), Presence::hidden, 1, "opaque dir /d");
}

BOOST_AUTO_TEST_CASE(a_layer_above_an_opaque_dir_still_provides, *utf::precondition(running_as_root)) {
  Layers layers;
  layers.opaque("mid/d");
  layers.file("base/d/old");
  layers.file("top/d/old");
  check(layers.which("/d/old"), Presence::provided, 0);
}

BOOST_AUTO_TEST_CASE(a_non_directory_parent_hides_it) {
  Layers layers;
  layers.file("base/a/b");
  layers.file("mid/a");
  check(layers.which("/a/b"), Presence::hidden, 1, "/a is not a directory");
  layers.symlink("top/x", "/a");
  layers.file("base/x/y");
  check(layers.which("/x/y"), Presence::hidden, 0, "/x is not a directory");
}

BOOST_AUTO_TEST_CASE(a_symlink_is_provided_not_followed) {
  Layers layers;
  layers.symlink("top/link", "/etc/passwd");
  layers.file("base/etc/passwd");
  check(layers.which("/link"), Presence::provided, 0);
}

BOOST_AUTO_TEST_CASE(a_layer_dir_reached_through_a_symlink_is_refused) {
  Layers layers;
  layers.symlink("linked", "base");
  auto answer = layers.which("/etc/passwd", {"top", "linked"});
  BOOST_TEST_REQUIRE(!answer.has_value());
  BOOST_TEST((answer.error().code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_SUITE_END()
