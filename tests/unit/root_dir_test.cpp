// Why: a data root may come from a hostile host, and a FIFO where a metadata file belongs must
// make a read fail at once, never block (issue 9 measured `resolve` hanging forever on a FIFO
// planted as a cache-id). An alarm ends the test program if a read blocks.
#include "ovlmount/core/root_dir.hpp"
#include "temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <filesystem>

#include <sys/stat.h>
#include <unistd.h>

using namespace ovlmount;
using namespace ovlmount::test;

BOOST_AUTO_TEST_SUITE(root_dir)

BOOST_AUTO_TEST_CASE(a_fifo_where_a_file_belongs_is_corrupt_without_blocking) {
  TempDir dir{"fifo"};
  BOOST_TEST_REQUIRE(::mkfifo((dir.path() / "cache-id").c_str(), 0600) == 0);
  const BeneathRoot root = BeneathRoot::open(dir.path().string()).value();
  ::alarm(10);
  auto read = root.read_file("cache-id", 4096);
  auto opened = root.open_file("cache-id");
  ::alarm(0);
  BOOST_TEST_REQUIRE(!read);
  BOOST_TEST((read.error().code == ExitCode::corrupt));
  BOOST_TEST(read.error().problem.find("not a regular file") != std::string::npos);
  BOOST_TEST_REQUIRE(!opened);
  BOOST_TEST((opened.error().code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_CASE(a_fifo_where_a_host_config_belongs_is_corrupt_without_blocking) {
  TempDir dir{"host-fifo"};
  std::filesystem::create_directories(dir.path() / "etc/docker");
  BOOST_TEST_REQUIRE(::mkfifo((dir.path() / "etc/docker/daemon.json").c_str(), 0600) == 0);
  const BeneathRoot root = BeneathRoot::open(dir.path().string()).value();
  ::alarm(10);
  auto read = root.read_system_file("/etc/docker/daemon.json", 4096);
  ::alarm(0);
  BOOST_TEST_REQUIRE(!read);
  BOOST_TEST((read.error().code == ExitCode::corrupt));
  BOOST_TEST(read.error().problem.find("not a regular file") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(several_files_of_one_dir_read_as_one_by_one) {
  TempDir dir{"read-files"};
  std::filesystem::create_directories(dir.path() / "layer");
  const auto write = [&](const std::string& name, const std::string& text) {
    FILE* file = std::fopen((dir.path() / "layer" / name).c_str(), "w");
    BOOST_TEST_REQUIRE(file);
    std::fputs(text.c_str(), file);
    std::fclose(file);
  };
  write("diff", "sha256:abc");
  write("empty", "");
  write("big", std::string(5000, 'x'));
  BOOST_TEST_REQUIRE(::mkfifo((dir.path() / "layer/fifo").c_str(), 0600) == 0);
  BOOST_TEST_REQUIRE(::symlink("diff", (dir.path() / "layer/link").c_str()) == 0);
  const BeneathRoot root = BeneathRoot::open(dir.path().string()).value();

  auto files = root.read_files("layer", {"diff", "missing", "empty", "big"}, 8192);
  BOOST_TEST_REQUIRE(files.has_value());
  BOOST_TEST((*files)[0].value() == root.read_file("layer/diff", 8192).value());
  BOOST_TEST(!(*files)[1].has_value());
  BOOST_TEST((*files)[2].value().empty());
  BOOST_TEST((*files)[3].value() == std::string(5000, 'x'));

  BOOST_TEST((root.read_files("layer", {"big"}, 4096).error().code == ExitCode::corrupt));
  ::alarm(10);
  auto fifo = root.read_files("layer", {"diff", "fifo"}, 4096);
  ::alarm(0);
  BOOST_TEST((fifo.error().code == ExitCode::corrupt));
  BOOST_TEST((root.read_files("layer", {"link"}, 4096).error().code == ExitCode::corrupt));
  BOOST_TEST((root.read_files("nowhere", {"diff"}, 4096).error().code == ExitCode::not_found));
  BOOST_TEST((root.read_files("layer/diff", {"x"}, 4096).error().code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_SUITE_END()
