// Why: the tar `export` writes must hold exactly what Docker's holds, in Docker's order. Each
// case builds a small tree under /tmp with the kinds of entries an image has (and a few it
// should not carry over: a socket, overlayfs's and SELinux's xattrs), writes it, and reads the
// tar back with libarchive's reader under C.UTF-8, entry by entry. The integration test
// compares whole images with `docker export`; this covers what the test images lack.
#include "ovlmount/forensics/tree_archive.hpp"
#include "temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <fcntl.h>
#include <locale.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <vector>

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

// One entry as libarchive reads it back.
struct ReadEntry {
  std::string path;
  mode_t type = 0;
  mode_t perm = 0;
  la_int64_t uid = 0, gid = 0, size = 0, mtime = 0;
  bool atime_set = false, ctime_set = false;
  std::string symlink, hardlink;
  dev_t rdev = 0;
  std::map<std::string, std::string> xattrs;
  std::string content;
};

// The entries of `tar` (plain, gzip or zstd), read under C.UTF-8 so UTF-8 names come back as written.
std::vector<ReadEntry> read_tar(const std::string& tar) {
  const locale_t utf8 = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  const locale_t previous = utf8 ? ::uselocale(utf8) : nullptr;
  std::vector<ReadEntry> entries;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  BOOST_TEST_REQUIRE(archive_read_open_memory(a, tar.data(), tar.size()) == ARCHIVE_OK);
  archive_entry* e = nullptr;
  int status = ARCHIVE_OK;
  while ((status = archive_read_next_header(a, &e)) >= ARCHIVE_WARN && status != ARCHIVE_EOF) {
    ReadEntry r;
    r.path = archive_entry_pathname(e);
    r.type = archive_entry_filetype(e);
    r.perm = archive_entry_perm(e);
    r.uid = archive_entry_uid(e);
    r.gid = archive_entry_gid(e);
    r.size = archive_entry_size(e);
    r.mtime = archive_entry_mtime(e);
    r.atime_set = archive_entry_atime_is_set(e);
    r.ctime_set = archive_entry_ctime_is_set(e);
    if (const char* s = archive_entry_symlink(e)) r.symlink = s;
    if (const char* h = archive_entry_hardlink(e)) r.hardlink = h;
    r.rdev = archive_entry_rdev(e);
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
      r.xattrs[name] = std::string(static_cast<const char*>(value), size);
    char buffer[65536];
    for (la_ssize_t n; (n = archive_read_data(a, buffer, sizeof buffer)) > 0;) r.content.append(buffer, static_cast<std::size_t>(n));
    entries.push_back(std::move(r));
  }
  BOOST_TEST(status == ARCHIVE_EOF, "reading the tar back: " << archive_error_string(a));
  archive_read_free(a);
  if (utf8) {
    ::uselocale(previous);
    ::freelocale(utf8);
  }
  return entries;
}

// The uncompressed bytes of `compressed` (gzip or zstd).
std::string decompress(const std::string& compressed) {
  archive* a = archive_read_new();
  archive_read_support_format_raw(a);
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  BOOST_TEST_REQUIRE(archive_read_open_memory(a, compressed.data(), compressed.size()) == ARCHIVE_OK);
  archive_entry* e = nullptr;
  BOOST_TEST_REQUIRE(archive_read_next_header(a, &e) == ARCHIVE_OK);
  BOOST_TEST(archive_filter_count(a) == 2);
  std::string out;
  char buffer[65536];
  for (la_ssize_t n; (n = archive_read_data(a, buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
  archive_read_free(a);
  return out;
}

// Writes the tree at `root` into <out> and returns the tar's bytes; the test stops if it fails.
std::string archive_of(const fs::path& root, const fs::path& out, TreeArchiveOptions options = {}) {
  const int root_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  BOOST_TEST_REQUIRE((root_fd >= 0 && out_fd >= 0));
  auto written = write_tree_archive(root_fd, out_fd, out.string(), options, {});
  ::close(root_fd);
  ::close(out_fd);
  BOOST_TEST_REQUIRE(written.has_value(), (written ? "" : written.error().message()));
  return read_all(out);
}

std::vector<std::string> paths_of(const std::vector<ReadEntry>& entries) {
  std::vector<std::string> paths;
  for (const ReadEntry& e : entries) paths.push_back(e.path);
  return paths;
}

const ReadEntry& entry_named(const std::vector<ReadEntry>& entries, const std::string& path) {
  for (const ReadEntry& e : entries)
    if (e.path == path) return e;
  BOOST_TEST_REQUIRE(false, "no entry " << path);
  return entries.front();
}

// A listening unix socket at `path` (closed again; the node stays).
void make_socket(const fs::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  ::close(fd);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tree_archive)

BOOST_AUTO_TEST_CASE(walk_order_names_types_and_hard_links_as_docker_writes_them) {
  TempDir dir("tar");
  const fs::path root = dir.path() / "root";
  const std::string long_dir(120, 'd');
  const std::string long_name(200, 'n');
  const std::string big(3 * 1024 * 1024 + 17, 'b');
  write_file(root / "a/x", "x\n");
  write_file(root / "a-b", "dash\n");
  write_file(root / "with space", "space\n");
  write_file(root / "\xc3\xbc\xe5\x90\x8d", "utf-8\n");
  write_file(root / "bad\xff", "not utf-8\n");
  write_file(root / long_dir / "file", "deep\n");
  write_file(root / long_name, "long\n");
  write_file(root / "empty", "");
  write_file(root / "big", big);
  write_file(root / "a/hard3", "three names\n");
  fs::create_hard_link(root / "a/hard3", root / "hard1");
  fs::create_hard_link(root / "a/hard3", root / "hard2");
  fs::create_symlink("a/x", root / "link");
  fs::create_symlink("/nonexistent", root / "dangling");
  BOOST_TEST_REQUIRE(::mkfifo((root / "fifo").c_str(), 0640) == 0);
  make_socket(root / "sock");
  const timespec times[2] = {{1, 0}, {1234567890, 987654321}};
  BOOST_TEST_REQUIRE(::utimensat(AT_FDCWD, (root / "a-b").c_str(), times, 0) == 0);

  const auto entries = read_tar(archive_of(root, dir.path() / "out.tar"));
  const std::vector<std::string> expected{"a/", "a/hard3", "a/x", "a-b", "bad\xff", "big", "dangling", long_dir + "/",
                                          long_dir + "/file", "empty", "fifo", "hard1", "hard2", "link", long_name,
                                          "with space", "\xc3\xbc\xe5\x90\x8d"};
  BOOST_TEST(paths_of(entries) == expected, boost::test_tools::per_element());

  BOOST_TEST(entry_named(entries, "a/").type == AE_IFDIR);
  BOOST_TEST(entry_named(entries, "a/x").content == "x\n");
  BOOST_TEST(entry_named(entries, "big").content == big);
  BOOST_TEST(entry_named(entries, "bad\xff").content == "not utf-8\n");
  BOOST_TEST(entry_named(entries, long_dir + "/file").content == "deep\n");
  BOOST_TEST(entry_named(entries, "a/hard3").content == "three names\n");
  for (const char* link : {"hard1", "hard2"}) {
    BOOST_TEST(entry_named(entries, link).hardlink == "a/hard3");
    BOOST_TEST(entry_named(entries, link).size == 0);
  }
  BOOST_TEST(entry_named(entries, "link").type == AE_IFLNK);
  BOOST_TEST(entry_named(entries, "link").symlink == "a/x");
  BOOST_TEST(entry_named(entries, "dangling").symlink == "/nonexistent");
  BOOST_TEST(entry_named(entries, "fifo").type == AE_IFIFO);
  BOOST_TEST(entry_named(entries, "fifo").perm == 0640u);
  BOOST_TEST(entry_named(entries, "a-b").mtime == 1234567890);
  for (const ReadEntry& e : entries) {
    BOOST_TEST(!e.atime_set, e.path);
    BOOST_TEST(!e.ctime_set, e.path);
  }

  const int root_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  auto measured = measure_tree(root_fd);
  ::close(root_fd);
  BOOST_TEST_REQUIRE(measured.has_value());
  BOOST_TEST(measured->entries == expected.size());
  BOOST_TEST(measured->bytes == 2 + 5 + 6 + 6 + 10 + 5 + 5 + big.size() + 12);
}

BOOST_AUTO_TEST_CASE(reproducible_output_is_byte_identical_and_compressed_forms_hold_it) {
  TempDir dir("tar");
  const fs::path root = dir.path() / "root";
  write_file(root / "etc/hostname", "host\n");
  write_file(root / "data/file", std::string(300000, 'x'));
  fs::create_symlink("../etc/hostname", root / "data/link");
  TreeArchiveOptions options;
  options.reproducible = true;
  const std::string first = archive_of(root, dir.path() / "1.tar", options);
  const timespec later[2] = {{0, UTIME_OMIT}, {2000000000, 0}};
  BOOST_TEST_REQUIRE(::utimensat(AT_FDCWD, (root / "data/file").c_str(), later, 0) == 0);
  BOOST_TEST((archive_of(root, dir.path() / "2.tar", options) == first), "two reproducible runs differ");
  for (const ReadEntry& e : read_tar(first)) BOOST_TEST(e.mtime == 0, e.path);

  options.compression = TarCompression::gzip;
  const std::string gzip = archive_of(root, dir.path() / "1.tar.gz", options);
  BOOST_TEST(gzip.substr(0, 2) == "\x1f\x8b");
  BOOST_TEST((decompress(gzip) == first), "tar.gz does not hold the plain tar");
  BOOST_TEST((archive_of(root, dir.path() / "2.tar.gz", options) == gzip), "two reproducible tar.gz differ");
  options.compression = TarCompression::zstd;
  const std::string zstd = archive_of(root, dir.path() / "1.tar.zst", options);
  BOOST_TEST(zstd.substr(0, 4) == "\x28\xb5\x2f\xfd");
  BOOST_TEST((decompress(zstd) == first), "tar.zst does not hold the plain tar");
}

BOOST_AUTO_TEST_CASE(owners_modes_devices_and_xattrs, *boost::unit_test::precondition(running_as_root)) {
  TempDir dir("tar");
  const fs::path root = dir.path() / "root";
  write_file(root / "suid", "s\n");
  BOOST_TEST_REQUIRE(::chown((root / "suid").c_str(), 1234, 2345) == 0);
  BOOST_TEST_REQUIRE(::chmod((root / "suid").c_str(), 04755) == 0);
  fs::create_directories(root / "sticky");
  BOOST_TEST_REQUIRE(::chmod((root / "sticky").c_str(), 01777) == 0);
  BOOST_TEST_REQUIRE(::mknod((root / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
  BOOST_TEST_REQUIRE(::mknod((root / "loop").c_str(), S_IFBLK | 0660, makedev(7, 300)) == 0);
  fs::create_directories(root / "opaque");
  make_opaque(root / "opaque");
  BOOST_TEST_REQUIRE(::setxattr((root / "opaque").c_str(), "trusted.kept", "k", 1, 0) == 0);
  fs::create_symlink("suid", root / "link");
  BOOST_TEST_REQUIRE(::lsetxattr((root / "link").c_str(), "trusted.on-link", "l", 1, 0) == 0);
  // A revision-3 file capability (cap_net_bind_service, root ID 1000) and an SELinux label.
  const unsigned char v3[24] = {0x01, 0, 0, 0x03, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe8, 0x03, 0, 0};
  BOOST_TEST_REQUIRE(::setxattr((root / "suid").c_str(), "security.capability", v3, sizeof v3, 0) == 0);
  const bool labelled = ::setxattr((root / "suid").c_str(), "security.selinux", "system_u:object_r:bin_t:s0", 26, 0) == 0;
  if (!labelled) BOOST_TEST_MESSAGE("security.selinux cannot be set here; its exclusion is not checked");

  const auto entries = read_tar(archive_of(root, dir.path() / "out.tar"));
  const ReadEntry& suid = entry_named(entries, "suid");
  BOOST_TEST(suid.perm == 04755u);
  BOOST_TEST(suid.uid == 1234);
  BOOST_TEST(suid.gid == 2345);
  BOOST_TEST(suid.xattrs.size() == 1u);
  const std::string v2("\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
  BOOST_TEST((suid.xattrs.count("security.capability") && suid.xattrs.at("security.capability") == v2),
             "the revision-3 capability is not written as Docker's revision 2");
  BOOST_TEST(entry_named(entries, "sticky/").perm == 01777u);
  BOOST_TEST(entry_named(entries, "null").type == AE_IFCHR);
  BOOST_TEST(entry_named(entries, "null").rdev == makedev(1, 3));
  BOOST_TEST(entry_named(entries, "loop").type == AE_IFBLK);
  BOOST_TEST(entry_named(entries, "loop").rdev == makedev(7, 300));
  const ReadEntry& opaque = entry_named(entries, "opaque/");
  BOOST_TEST(opaque.xattrs.size() == 1u);
  BOOST_TEST(opaque.xattrs.count("trusted.kept") == 1u);
  BOOST_TEST(entry_named(entries, "link").xattrs.count("trusted.on-link") == 1u);
}

BOOST_AUTO_TEST_CASE(nothing_is_written_after_an_interruption_or_a_write_error) {
  TempDir dir("tar");
  const fs::path root = dir.path() / "root";
  write_file(root / "file", std::string(200000, 'x'));
  const int root_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const int out_fd = ::open((dir.path() / "out.tar").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  BOOST_TEST_REQUIRE((root_fd >= 0 && out_fd >= 0));
  volatile std::sig_atomic_t stop = 1;
  TreeArchiveOptions options;
  options.interrupted = &stop;
  auto interrupted = write_tree_archive(root_fd, out_fd, "out.tar", options, {});
  BOOST_TEST_REQUIRE(!interrupted.has_value());
  BOOST_TEST(interrupted.error().message() == "ovlmount: out.tar: interrupted");
  BOOST_TEST(fs::file_size(dir.path() / "out.tar") == 0u);

  const int read_only = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  auto refused = write_tree_archive(root_fd, read_only, "the output", {}, {});
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().message() == "ovlmount: the output: cannot write: Bad file descriptor");
  for (const int fd : {root_fd, out_fd, read_only}) ::close(fd);
}

BOOST_AUTO_TEST_SUITE_END()
