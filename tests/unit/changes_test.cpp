// Why: `ovlmount diff` must print what `docker diff` prints, and its body file must describe
// each change's own inode without touching it. Each test builds real layer dirs under /tmp
// (whiteouts as 0/0 character devices, opaque dirs as trusted.overlay.opaque=y, so those
// cases need root and are skipped otherwise), reads them through BeneathRoot, and checks one
// rule of Docker's naive diff or one field of the body-file line.
#include "ovlmount/core/fd.hpp"
#include "ovlmount/forensics/changes.hpp"
#include "temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

using namespace ovlmount;
using namespace ovlmount::test;
namespace fs = std::filesystem;
namespace utf = boost::unit_test;

namespace {

constexpr timespec kOldTime{1000000000, 0};
constexpr timespec kNewTime{1700000000, 123};

// A data root under /tmp holding layer dirs, removed with its content at the end.
class LayerTree {
 public:
  explicit LayerTree(const fs::path& parent = fs::temp_directory_path())
      : dir_("changes", parent), root_(dir_.path()) {
    for (const char* layer : {"w", "l0", "l1"}) fs::create_directory(root_ / layer);
  }

  const fs::path& root() const { return root_; }
  fs::path operator/(const std::string& relative) const { return root_ / relative; }

  void file(const std::string& relative, std::string_view content, mode_t mode = 0644, timespec mtime = kOldTime) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative, std::ios::binary) << content;
    BOOST_TEST_REQUIRE(::chmod((root_ / relative).c_str(), mode) == 0);
    set_mtime(relative, mtime);
  }
  void dir(const std::string& relative, mode_t mode = 0755) {
    fs::create_directories(root_ / relative);
    BOOST_TEST_REQUIRE(::chmod((root_ / relative).c_str(), mode) == 0);
  }
  void symlink(const std::string& relative, const std::string& target, timespec mtime = kOldTime) {
    fs::create_directories((root_ / relative).parent_path());
    fs::create_symlink(target, root_ / relative);
    set_mtime(relative, mtime);
  }
  void whiteout(const std::string& relative) { make_whiteout(root_ / relative); }
  void opaque(const std::string& relative) {
    dir(relative);
    make_opaque(root_ / relative);
  }
  void set_mtime(const std::string& relative, timespec mtime) {
    const timespec times[2] = {mtime, mtime};
    BOOST_TEST_REQUIRE(::utimensat(AT_FDCWD, (root_ / relative).c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
  }

  // "A /x", "C /y", ... of writable "w" over lowers "l0", "l1".
  std::vector<std::string> changes() const {
    auto root = BeneathRoot::open(root_.string());
    BOOST_TEST_REQUIRE(root.has_value());
    auto listed = container_changes(*root, "w", {"l0", "l1"});
    BOOST_TEST_REQUIRE(listed.has_value(), (listed ? "" : listed.error().message()));
    std::vector<std::string> lines;
    for (const auto& change : *listed) lines.push_back(std::string(1, change_letter(change.kind)) + " " + change.path);
    return lines;
  }

  std::string bodyfile(const Change& change) const {
    auto root = BeneathRoot::open(root_.string());
    BOOST_TEST_REQUIRE(root.has_value());
    auto line = bodyfile_line(*root, "w", change);
    BOOST_TEST_REQUIRE(line.has_value(), (line ? "" : line.error().message()));
    return *line;
  }

 private:
  TempDir dir_;
  fs::path root_;
};

using Lines = std::vector<std::string>;

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    const size_t bar = line.find('|', start);
    fields.push_back(line.substr(start, bar - start));
    if (bar == std::string::npos) return fields;
    start = bar + 1;
  }
}

struct stat lstat_of(const fs::path& path) {
  struct stat st {};
  BOOST_TEST_REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

// In a child process with its own mount namespace: a strictatime tmpfs holding a writable
// layer and a lower, where any read would show as an atime change. 0 when diff and body file
// changed no timestamp; the reason on stderr otherwise.
int check_no_timestamp_changes(const fs::path& mount_point) {
  const auto fail = [](const std::string& why) {
    std::fprintf(stderr, "no-timestamp check: %s\n", why.c_str());
    return 1;
  };
  if (::unshare(CLONE_NEWNS) != 0) return fail("unshare failed");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail("making / private failed");
  if (::mount("tmpfs", mount_point.c_str(), "tmpfs", MS_STRICTATIME, "mode=0755") != 0)
    return fail("mounting a strictatime tmpfs failed");
  LayerTree tree(mount_point);
  tree.file("l0/etc/passwd", "root\n");
  tree.file("l0/etc/group", "root\n");
  tree.file("l0/d/old", "old\n");
  tree.file("w/etc/passwd", "root and more\n");
  tree.file("w/new/file", "new\n");
  tree.symlink("w/new/link", "file");
  tree.whiteout("w/etc/group");
  tree.opaque("w/d");
  const std::vector<std::string> entries = {"l0",      "l0/etc", "l0/etc/passwd", "l0/etc/group", "l0/d",
                                            "l0/d/old", "w",      "w/etc",         "w/etc/passwd", "w/etc/group",
                                            "w/new",   "w/new/file", "w/new/link", "w/d"};
  using Times = std::vector<std::pair<std::int64_t, std::int64_t>>;
  const auto snapshot = [&] {
    Times times;
    for (const auto& entry : entries) {
      struct statx stx {};
      ::statx(AT_FDCWD, (tree / entry).c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx);
      times.emplace_back(stx.stx_atime.tv_sec * 1000000000 + stx.stx_atime.tv_nsec,
                         stx.stx_ctime.tv_sec * 1000000000 + stx.stx_ctime.tv_nsec);
    }
    return times;
  };
  const Times before = snapshot();
  ::usleep(20000);
  auto root = BeneathRoot::open(tree.root().string());
  if (!root) return fail(root.error().message());
  auto listed = container_changes(*root, "w", {"l0"});
  if (!listed) return fail(listed.error().message());
  if (listed->size() != 8) return fail("expected 8 changes, got " + std::to_string(listed->size()));
  for (const auto& change : *listed)
    if (auto line = bodyfile_line(*root, "w", change); !line) return fail(line.error().message());
  if (snapshot() != before) return fail("a timestamp changed");
  std::ifstream(tree / "l0/etc/passwd").get();
  if (snapshot() == before) return fail("an ordinary read changed no atime: the check cannot see reads");
  return 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(changes)

BOOST_AUTO_TEST_CASE(an_empty_writable_layer_has_no_changes) {
  LayerTree tree;
  tree.file("l0/etc/passwd", "root\n");
  BOOST_TEST(tree.changes().empty());
}

BOOST_AUTO_TEST_CASE(new_entries_are_added_with_everything_below_them) {
  LayerTree tree;
  tree.file("l1/etc/passwd", "root\n");
  tree.file("w/new-file", "x\n");
  tree.file("w/new-dir/sub/f", "f\n");
  tree.symlink("w/etc/link", "passwd");
  tree.dir("l1/etc");
  tree.dir("w/etc");
  const Lines expected = {"C /etc", "A /etc/link", "A /new-dir", "A /new-dir/sub", "A /new-dir/sub/f", "A /new-file"};
  BOOST_TEST(tree.changes() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_file_is_changed_by_content_size_mtime_mode_or_owner) {
  LayerTree tree;
  for (const char* name : {"same", "size", "mtime", "mode", "owner", "nanos"})
    tree.file(std::string("l0/f/") + name, "abc");
  tree.file("w/f/same", "xyz");
  tree.file("w/f/size", "abcd");
  tree.file("w/f/mtime", "abc", 0644, kNewTime);
  tree.file("w/f/mode", "abc", 0600);
  tree.file("w/f/owner", "abc");
  if (::geteuid() == 0) BOOST_TEST_REQUIRE(::lchown((tree / "w/f/owner").c_str(), 1234, 0) == 0);
  tree.file("w/f/nanos", "abc", 0644, timespec{kOldTime.tv_sec, 5});
  Lines expected = {"C /f", "C /f/mode", "C /f/mtime"};
  if (::geteuid() == 0) expected.push_back("C /f/owner");
  expected.push_back("C /f/size");
  BOOST_TEST(tree.changes() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_copied_up_file_without_change_is_not_listed) {
  LayerTree tree;
  tree.file("l1/etc/passwd", "root\n");
  tree.file("w/etc/passwd", "root\n");
  BOOST_TEST(tree.changes().empty());
}

BOOST_AUTO_TEST_CASE(a_dir_is_changed_by_mode_not_by_mtime_or_size) {
  LayerTree tree;
  tree.dir("l0/mode", 0755);
  tree.dir("w/mode", 0700);
  tree.dir("l0/mtime");
  tree.dir("w/mtime");
  for (int i = 0; i < 200; ++i) tree.file("l0/mtime/" + std::string(100, 'x') + std::to_string(i), "");
  tree.set_mtime("w/mtime", kNewTime);
  BOOST_TEST(lstat_of(tree / "l0/mtime").st_size != lstat_of(tree / "w/mtime").st_size);
  const Lines expected = {"C /mode"};
  BOOST_TEST(tree.changes() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_first_lower_with_the_path_is_compared) {
  LayerTree tree;
  tree.file("l0/f", "new\n", 0644, kNewTime);
  tree.file("l1/f", "old\n");
  tree.file("w/f", "new\n", 0644, kNewTime);
  BOOST_TEST(tree.changes().empty());
}

BOOST_AUTO_TEST_CASE(a_symlink_target_is_not_compared, *utf::description("Docker 20.10's statDifferent ignores it")) {
  LayerTree tree;
  tree.symlink("l0/link", "aaaa");
  tree.symlink("w/link", "bbbb");
  BOOST_TEST(tree.changes().empty());
}

BOOST_AUTO_TEST_CASE(each_ancestor_of_a_change_is_listed_once_before_it) {
  LayerTree tree;
  tree.file("l0/a/b/c/old", "o");
  tree.file("l0/a/b/sibling", "s");
  tree.file("w/a/b/c/new", "n");
  tree.file("w/a/b/c/new2", "n");
  tree.file("w/a/b/sibling", "changed");
  const Lines expected = {"C /a", "C /a/b", "C /a/b/c", "A /a/b/c/new", "A /a/b/c/new2", "C /a/b/sibling"};
  BOOST_TEST(tree.changes() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(order_is_depth_first_with_names_sorted_bytewise) {
  LayerTree tree;
  for (const char* name : {"b", "a-b", "a/x", "A", "\xc3\xa9", "a/Z"}) tree.file(std::string("w/") + name, "");
  const Lines expected = {"A /A", "A /a", "A /a/Z", "A /a/x", "A /a-b", "A /b", "A /\xc3\xa9"};
  BOOST_TEST(tree.changes() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_file_replaced_by_a_dir_is_changed_and_its_content_added) {
  LayerTree tree;
  tree.file("l0/x", "file");
  tree.file("w/x/y", "y");
  const Lines expected = {"C /x", "A /x/y"};
  BOOST_TEST(tree.changes() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_dir_replaced_by_a_file_is_changed_and_its_old_content_not_listed) {
  LayerTree tree;
  tree.file("l0/x/y", "y");
  tree.file("w/x", "file");
  const Lines expected = {"C /x"};
  BOOST_TEST(tree.changes() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_whiteout_deletes_what_the_lowers_have, *utf::precondition(running_as_root)) {
  LayerTree tree;
  tree.file("l1/etc/passwd", "root\n");
  tree.file("l1/etc/group", "root\n");
  tree.file("l0/gone/deep/f", "f");
  tree.whiteout("w/etc/passwd");
  tree.whiteout("w/etc/group");
  tree.whiteout("w/gone");
  tree.whiteout("w/never-existed");
  const Lines expected = {"C /etc", "D /etc/group", "D /etc/passwd", "D /gone"};
  BOOST_TEST(tree.changes() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_opaque_dir_deletes_the_old_content_it_does_not_have, *utf::precondition(running_as_root)) {
  LayerTree tree;
  tree.file("l0/d/kept", "same", 0644);
  tree.file("l0/d/gone", "g");
  tree.file("l1/d/deeper/gone-too", "g");
  tree.file("l1/d/sub/old", "o");
  tree.file("l1/d/sub/also-old", "o");
  tree.opaque("w/d");
  tree.file("w/d/kept", "same", 0644);
  tree.file("w/d/again", "a");
  tree.file("w/d/sub/new", "n");
  const Lines expected = {"C /d",         "A /d/again",      "D /d/deeper",   "D /d/gone",
                          "C /d/sub",     "D /d/sub/also-old", "A /d/sub/new", "D /d/sub/old"};
  BOOST_TEST(tree.changes() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_opaque_dir_with_nothing_old_gone_is_not_listed, *utf::precondition(running_as_root)) {
  LayerTree tree;
  tree.file("l0/d/f", "f");
  tree.opaque("w/d");
  tree.file("w/d/f", "f");
  BOOST_TEST(tree.changes().empty());
}

BOOST_AUTO_TEST_CASE(the_lowers_are_merged_with_their_own_whiteouts_and_opaque_dirs,
                     *utf::precondition(running_as_root)) {
  LayerTree tree;
  tree.file("l1/a", "old a");
  tree.whiteout("l0/a");
  tree.file("l1/d/hidden", "h");
  tree.opaque("l0/d");
  tree.file("l0/d/visible", "v");
  tree.file("l1/f/x", "x");
  tree.file("l0/f", "now a file");
  tree.file("w/a", "new a");
  tree.file("w/d/hidden", "h");
  tree.whiteout("w/d/visible");
  tree.file("w/f/x", "x");
  const Lines expected = {"A /a", "C /d", "A /d/hidden", "D /d/visible", "C /f", "A /f/x"};
  BOOST_TEST(tree.changes() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_file_capability_change_is_a_change, *utf::precondition(running_as_root)) {
  LayerTree tree;
  tree.file("l0/bin/ping", "elf");
  tree.file("w/bin/ping", "elf");
  // VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, permitted CAP_NET_RAW (13).
  const unsigned char capability[20] = {0x01, 0, 0, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const fs::path ping = tree / "w/bin/ping";
  BOOST_TEST_REQUIRE(::setxattr(ping.c_str(), "security.capability", capability, sizeof capability, 0) == 0);
  const Lines expected = {"C /bin", "C /bin/ping"};
  BOOST_TEST(tree.changes() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(errors_of_the_store_fail_the_walk) {
  LayerTree tree;
  auto root = BeneathRoot::open(tree.root().string());
  BOOST_TEST_REQUIRE(root.has_value());
  auto missing = container_changes(*root, "no-such-layer", {"l0"});
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST((missing.error().code == ExitCode::not_found));
  fs::create_symlink("w", tree / "link-to-w");
  auto through_symlink = container_changes(*root, "link-to-w", {"l0"});
  BOOST_TEST_REQUIRE(!through_symlink.has_value());
  BOOST_TEST((through_symlink.error().code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_CASE(a_tree_too_deep_to_walk_fails_cleanly) {
  LayerTree tree;
  const UniqueFd top(::open((tree / "w").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  BOOST_TEST_REQUIRE(top.get() >= 0);
  constexpr int levels = 2100;
  {
    UniqueFd dir(::fcntl(top.get(), F_DUPFD_CLOEXEC, 0));
    for (int level = 0; level < levels; ++level) {
      BOOST_TEST_REQUIRE(::mkdirat(dir.get(), "d", 0755) == 0);
      dir = UniqueFd(::openat(dir.get(), "d", O_PATH | O_DIRECTORY | O_CLOEXEC));
      BOOST_TEST_REQUIRE(dir.get() >= 0);
    }
  }
  auto root = BeneathRoot::open(tree.root().string());
  BOOST_TEST_REQUIRE(root.has_value());
  BOOST_TEST(!container_changes(*root, "w", {"l0"}).has_value());
  for (int level = 0; level < levels; ++level) {
    if (level + 1 < levels) BOOST_TEST_REQUIRE(::renameat(top.get(), "d/d", top.get(), "next") == 0);
    BOOST_TEST_REQUIRE(::unlinkat(top.get(), "d", AT_REMOVEDIR) == 0);
    if (level + 1 < levels) BOOST_TEST_REQUIRE(::renameat(top.get(), "next", top.get(), "d") == 0);
  }
}

BOOST_AUTO_TEST_CASE(change_letters) {
  BOOST_TEST(change_letter(ChangeKind::modify) == 'C');
  BOOST_TEST(change_letter(ChangeKind::add) == 'A');
  BOOST_TEST(change_letter(ChangeKind::remove) == 'D');
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bodyfile)

BOOST_AUTO_TEST_CASE(a_regular_file) {
  LayerTree tree;
  tree.file("w/etc/hello", "hello\n", 0640, kNewTime);
  const struct stat st = lstat_of(tree / "w/etc/hello");
  const auto fields = split_fields(tree.bodyfile({ChangeKind::add, "/etc/hello"}));
  BOOST_TEST_REQUIRE(fields.size() == 11u);
  BOOST_TEST(fields[0] == "b1946ac92492d2347c6235b4d2611184");
  BOOST_TEST(fields[1] == "/etc/hello");
  BOOST_TEST(fields[2] == std::to_string(st.st_ino));
  BOOST_TEST(fields[3] == "r/rrw-r-----");
  BOOST_TEST(fields[4] == std::to_string(st.st_uid));
  BOOST_TEST(fields[5] == std::to_string(st.st_gid));
  BOOST_TEST(fields[6] == "6");
  BOOST_TEST(fields[7] == std::to_string(kNewTime.tv_sec));
  BOOST_TEST(fields[8] == std::to_string(kNewTime.tv_sec));
  BOOST_TEST(fields[9] == std::to_string(st.st_ctim.tv_sec));
  struct statx stx {};
  BOOST_TEST_REQUIRE(::statx(AT_FDCWD, (tree / "w/etc/hello").c_str(), AT_SYMLINK_NOFOLLOW, STATX_BTIME, &stx) == 0);
  BOOST_TEST(fields[10] == ((stx.stx_mask & STATX_BTIME) ? std::to_string(stx.stx_btime.tv_sec) : "0"));
}

BOOST_AUTO_TEST_CASE(a_large_file_is_hashed_whole) {
  LayerTree tree;
  tree.file("w/big", std::string(200000, 'a'));
  const auto fields = split_fields(tree.bodyfile({ChangeKind::modify, "/big"}));
  BOOST_TEST(fields[0] == "561b1994f6baacd6e5eaf4baaa12849f");
  BOOST_TEST(fields[6] == "200000");
}

BOOST_AUTO_TEST_CASE(a_dir_and_a_symlink) {
  LayerTree tree;
  tree.dir("w/etc", 0755);
  tree.symlink("w/etc/link", "../target");
  const auto dir_fields = split_fields(tree.bodyfile({ChangeKind::modify, "/etc"}));
  BOOST_TEST(dir_fields[0] == "0");
  BOOST_TEST(dir_fields[3] == "d/drwxr-xr-x");
  const auto link_fields = split_fields(tree.bodyfile({ChangeKind::add, "/etc/link"}));
  BOOST_TEST(link_fields[0] == "0");
  BOOST_TEST(link_fields[3] == "l/lrwxrwxrwx");
  BOOST_TEST(link_fields[6] == "9");
  BOOST_TEST(link_fields[8] == std::to_string(kOldTime.tv_sec));
}

BOOST_AUTO_TEST_CASE(special_mode_bits_and_types) {
  LayerTree tree;
  tree.file("w/suid-noexec", "", 04644);
  tree.file("w/sgid-exec", "", 02755);
  tree.dir("w/sticky", 01777);
  tree.dir("w/sticky-noexec", 01776);
  BOOST_TEST_REQUIRE(::mkfifo((tree / "w/fifo").c_str(), 0600) == 0);
  const std::map<std::string, std::string> expected = {{"/suid-noexec", "r/rrwSr--r--"},
                                                       {"/sgid-exec", "r/rrwxr-sr-x"},
                                                       {"/sticky", "d/drwxrwxrwt"},
                                                       {"/sticky-noexec", "d/drwxrwxrwT"},
                                                       {"/fifo", "p/prw-------"}};
  for (const auto& [path, mode] : expected)
    BOOST_TEST(split_fields(tree.bodyfile({ChangeKind::add, path}))[3] == mode, path);
}

BOOST_AUTO_TEST_CASE(names_cannot_break_the_line) {
  LayerTree tree;
  const std::string name = "a|b%c\nd";
  tree.file("w/" + name, "");
  const std::string line = tree.bodyfile({ChangeKind::add, "/" + name});
  BOOST_TEST(line.find('\n') == std::string::npos);
  const auto fields = split_fields(line);
  BOOST_TEST_REQUIRE(fields.size() == 11u);
  BOOST_TEST(fields[1] == "/a%7Cb%25c%0Ad");
}

BOOST_AUTO_TEST_CASE(a_deletion_is_described_by_its_whiteout, *utf::precondition(running_as_root)) {
  LayerTree tree;
  tree.whiteout("w/etc/passwd");
  const struct stat st = lstat_of(tree / "w/etc/passwd");
  const auto fields = split_fields(tree.bodyfile({ChangeKind::remove, "/etc/passwd"}));
  BOOST_TEST(fields[0] == "0");
  BOOST_TEST(fields[1] == "/etc/passwd (deleted)");
  BOOST_TEST(fields[2] == std::to_string(st.st_ino));
  BOOST_TEST(fields[3] == "c/c---------");
  BOOST_TEST(fields[6] == "0");
}

BOOST_AUTO_TEST_CASE(a_deletion_by_an_opaque_dir_is_described_by_that_dir, *utf::precondition(running_as_root)) {
  LayerTree tree;
  tree.opaque("w/d");
  tree.dir("w/d/sub");
  const struct stat st = lstat_of(tree / "w/d");
  const auto fields = split_fields(tree.bodyfile({ChangeKind::remove, "/d/sub/old"}));
  BOOST_TEST(fields[1] == "/d/sub/old (deleted)");
  BOOST_TEST(fields[2] == std::to_string(st.st_ino));
  BOOST_TEST(fields[3] == "d/drwxr-xr-x");
}

BOOST_AUTO_TEST_CASE(missing_entries_and_bad_paths_are_errors) {
  LayerTree tree;
  auto root = BeneathRoot::open(tree.root().string());
  BOOST_TEST_REQUIRE(root.has_value());
  auto missing = bodyfile_line(*root, "w", {ChangeKind::add, "/nothing"});
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST((missing.error().code == ExitCode::not_found));
  auto no_record = bodyfile_line(*root, "w", {ChangeKind::remove, "/nothing"});
  BOOST_TEST_REQUIRE(!no_record.has_value());
  BOOST_TEST((no_record.error().code == ExitCode::not_found));
  for (const char* bad : {"", "/", "relative"}) {
    auto refused = bodyfile_line(*root, "w", {ChangeKind::add, bad});
    BOOST_TEST_REQUIRE(!refused.has_value());
    BOOST_TEST((refused.error().code == ExitCode::usage));
  }
}

BOOST_AUTO_TEST_CASE(reading_changes_no_timestamp, *utf::precondition(running_as_root)) {
  const fs::path mount_point = fs::temp_directory_path() / ("ovlmount-atime-" + std::to_string(::getpid()));
  fs::create_directory(mount_point);
  std::fflush(nullptr);
  const pid_t child = ::fork();
  BOOST_TEST_REQUIRE(child >= 0);
  if (child == 0) {
    int code = 1;
    try {
      code = check_no_timestamp_changes(mount_point);
    } catch (...) {
    }
    ::_exit(code);
  }
  int status = 0;
  BOOST_TEST_REQUIRE(::waitpid(child, &status, 0) == child);
  fs::remove(mount_point);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0, "see the no-timestamp check's message above");
}

BOOST_AUTO_TEST_SUITE_END()
