// Why: several unit tests build real files under /tmp (layer dirs, tar-split files, state
// dirs) and some of their cases need root (whiteouts are mknod'ed 0/0 character devices,
// opaque dirs carry a trusted.* xattr). One temp dir, one root check and one way to make each
// overlay mark serve them all.
#pragma once

#include <boost/test/unit_test.hpp>

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace ovlmount::test {

// A fresh directory <parent>/ovlmount-<tag>-XXXXXX (mkdtemp; throws std::runtime_error if it
// cannot be made), removed with everything in it when the object goes (errors ignored).
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "unit",
                   const std::filesystem::path& parent = std::filesystem::temp_directory_path()) {
    std::string pattern = (parent / ("ovlmount-" + tag + "-XXXXXX")).string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  const std::filesystem::path& path() const { return path_; }
  // The path of `relative` inside, as a string.
  std::string operator/(const std::string& relative) const { return (path_ / relative).string(); }

 private:
  std::filesystem::path path_;
};

inline bool is_root() { return ::geteuid() == 0; }

// For *boost::unit_test::precondition(running_as_root): the case is skipped, with the reason,
// unless the tests run as root.
inline boost::test_tools::assertion_result running_as_root(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result result(is_root());
  result.message() << "skipped: whiteouts (mknod) and trusted.* xattrs need root";
  return result;
}

// A whiteout at `path` (a 0/0 character device), its missing parents created as directories.
// Needs root; the test stops (BOOST_TEST_REQUIRE) if it cannot be made.
inline void make_whiteout(const std::filesystem::path& path) {
  std::filesystem::create_directories(path.parent_path());
  BOOST_TEST_REQUIRE(::mknod(path.c_str(), S_IFCHR, makedev(0, 0)) == 0);
}

// Marks the existing directory `dir` opaque (trusted.overlay.opaque=y). Needs root; the test
// stops (BOOST_TEST_REQUIRE) if it cannot be set.
inline void make_opaque(const std::filesystem::path& dir) {
  BOOST_TEST_REQUIRE(::setxattr(dir.c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0);
}

}  // namespace ovlmount::test
