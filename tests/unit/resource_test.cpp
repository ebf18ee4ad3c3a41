// Why: a data root may come from a hostile host (issue 9, threats 3 and 4), and every file
// ovlmount reads from it can be built to exhaust memory, the stack or time, or to point a read
// outside the store. Each case here is one such attack on one reader: it must end in a corrupt
// error (exit 4) naming what it refused, quickly, never in a crash, a hang or a huge allocation.
// The real binary against copied data roots (100,000 layers, a 10 GB sparse file, a FIFO
// where a layer dir belongs) is in tests/integration/hostile_test.cpp.
#include "fakes.hpp"
#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/json_input.hpp"
#include "ovlmount/core/root_dir.hpp"
#include "ovlmount/forensics/tar_split.hpp"
#include "ovlmount/store/config.hpp"
#include "ovlmount/store/containerd_store.hpp"
#include "ovlmount/store/containers_storage.hpp"
#include "ovlmount/store/docker_store.hpp"
#include "ovlmount/store/resolver.hpp"
#include "tar_split_lines.hpp"
#include "temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

using namespace ovlmount;
using namespace ovlmount::test;

namespace {

namespace stdfs = std::filesystem;

constexpr size_t deep = 100'000;

std::string nested_json(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// A JSON array of zeros `bytes` long: about 25 bytes of boost::json memory per byte of text.
std::string zeros_array(size_t bytes) {
  std::string text = "[";
  text.reserve(bytes + 2);
  while (text.size() + 2 < bytes) text += "0,";
  return text + "0]";
}

template <class T>
Error error_of(const Result<T>& result) {
  BOOST_TEST_REQUIRE(!result.has_value());
  BOOST_TEST_MESSAGE(result.error().message());
  return result.error();
}

bool is_corrupt(const Error& error, std::string_view problem_part) {
  return error.code == ExitCode::corrupt && error.problem.find(problem_part) != std::string::npos;
}

void write(const stdfs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string read(const stdfs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Replaces every `from` in the file at `path` by `to` (the same length, so a bolt page keeps
// its layout); the test stops unless there was at least one.
void patch_each(const stdfs::path& path, const std::string& from, const std::string& to) {
  BOOST_TEST_REQUIRE(from.size() == to.size());
  std::string bytes = read(path);
  size_t count = 0;
  for (size_t at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + to.size()), ++count)
    bytes.replace(at, from.size(), to);
  BOOST_TEST_REQUIRE(count > 0u, from << " is not in " << path);
  write(path, bytes);
}

// A listening unix socket bound at `path`, closed (the socket file stays) when it goes.
struct BoundSocket {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  explicit BoundSocket(const stdfs::path& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    BOOST_TEST_REQUIRE(path.string().size() < sizeof address.sun_path);
    std::copy_n(path.c_str(), path.string().size(), address.sun_path);
    BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  }
  BoundSocket(const BoundSocket&) = delete;
  BoundSocket& operator=(const BoundSocket&) = delete;
  ~BoundSocket() { ::close(fd); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(resource)

BOOST_AUTO_TEST_CASE(a_hard_linked_metadata_file_is_corrupt_and_not_read) {
  TempDir dir{"hardlink"};
  stdfs::create_directories(dir.path() / "store");
  write(dir.path() / "secret", "root:$6$hash:19000:0:99999:7:::\n");
  stdfs::create_hard_link(dir.path() / "secret", dir.path() / "store/cache-id");
  write(dir.path() / "store/size", "0");
  const BeneathRoot root = BeneathRoot::open((dir.path() / "store").string()).value();
  const Error linked = error_of(root.read_file("cache-id", 4096));
  BOOST_TEST(is_corrupt(linked, "metadata file has 2 hard links"));
  BOOST_TEST(linked.object == (dir.path() / "store/cache-id").string());
  BOOST_TEST(linked.message().find("root:") == std::string::npos);
  BOOST_TEST(root.read_file("size", 4096).value() == "0");
}

BOOST_AUTO_TEST_CASE(a_fifo_or_socket_where_a_directory_belongs_is_corrupt_without_blocking) {
  TempDir dir{"special"};
  BOOST_TEST_REQUIRE(::mkfifo((dir.path() / "fifo").c_str(), 0600) == 0);
  const BoundSocket socket(dir.path() / "socket");
  const BeneathRoot root = BeneathRoot::open(dir.path().string()).value();
  ::alarm(10);
  for (const std::string name : {"fifo", "socket"}) {
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(is_corrupt(error_of(root.list_dir(name)), "not a directory"));
      BOOST_TEST(is_corrupt(error_of(root.open_dir(name)), "not a directory"));
      BOOST_TEST(is_corrupt(error_of(root.open_subdir(name)), "not a directory"));
      BOOST_TEST(is_corrupt(error_of(root.list_dir(name + "/diff")), "not a directory"));
      BOOST_TEST(is_corrupt(error_of(root.read_file(name, 4096)), "not a regular file"));
      BOOST_TEST((root.kind(name).value() == EntryKind::other));
    }
  }
  ::alarm(0);
}

BOOST_AUTO_TEST_CASE(a_device_where_a_file_or_directory_belongs_is_corrupt,
                     *boost::unit_test::precondition(running_as_root)) {
  TempDir dir{"device"};
  BOOST_TEST_REQUIRE(::mknod((dir.path() / "zero").c_str(), S_IFCHR | 0600, makedev(1, 5)) == 0);
  BOOST_TEST_REQUIRE(::mknod((dir.path() / "disk").c_str(), S_IFBLK | 0600, makedev(7, 0)) == 0);
  const BeneathRoot root = BeneathRoot::open(dir.path().string()).value();
  for (const std::string name : {"zero", "disk"}) {
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(is_corrupt(error_of(root.read_file(name, 4096)), "not a regular file"));
      BOOST_TEST(is_corrupt(error_of(root.list_dir(name)), "not a directory"));
      BOOST_TEST(is_corrupt(error_of(root.open_dir(name)), "not a directory"));
    }
  }
}

BOOST_AUTO_TEST_CASE(deeply_nested_json_is_corrupt_in_every_docker_file) {
  FakeDockerStore fake;
  const std::string id = fake.add_image({diff_id("base")});
  const std::string container = fake.add_container("web", id);
  fake.root.add_file("image/overlay2/repositories.json", nested_json(deep));
  BOOST_TEST(is_corrupt(error_of(resolve_image(open_fake_store(fake), "app")), "malformed JSON"));

  fake.set_repositories({{"app", {{"app:latest", id}}}});
  const std::string deep_config = R"({"rootfs":{"type":"layers","diff_ids":[]},"x":)" + nested_json(deep) + "}";
  const std::string deep_id = sha256_hex(deep_config);
  fake.root.add_file("image/overlay2/imagedb/content/sha256/" + deep_id, deep_config);
  BOOST_TEST(is_corrupt(error_of(resolve_image(open_fake_store(fake), deep_id)), "malformed JSON"));

  fake.root.add_file("containers/" + container + "/config.v2.json", nested_json(deep));
  BOOST_TEST(is_corrupt(error_of(resolve_container(open_fake_store(fake), container)), "malformed JSON"));

  BOOST_TEST((error_of(parse_daemon_json(nested_json(deep), "/etc/docker/daemon.json")).code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_CASE(deeply_nested_json_is_corrupt_in_containers_storage) {
  for (const std::string file : {"overlay-images/images.json", "overlay-layers/layers.json",
                                 "overlay-containers/containers.json"}) {
    BOOST_TEST_CONTEXT(file) {
      FakeContainersStorage fake;
      fake.add_image({diff_id("base")}, {"localhost/app:latest"});
      fake.root.add_file(file, nested_json(deep));
      auto store = ContainersStorage::open(fake.root);
      const Error error = store ? error_of(resolve_any(*store, "localhost/app:latest")) : store.error();
      BOOST_TEST(is_corrupt(error, "malformed JSON"));
      BOOST_TEST(error.object.ends_with(file));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_json_bomb_fails_within_its_memory_budget) {
  boost::system::error_code ec;
  const boost::json::value bomb = parse_untrusted_json(zeros_array(size_t{16} << 20), ec);
  BOOST_TEST(bomb.is_null());
  BOOST_TEST(ec.message().find("needs more memory") != std::string::npos, ec.message());
  ec.clear();
  parse_untrusted_json(zeros_array(size_t{1} << 20), ec, size_t{1} << 20);
  BOOST_TEST(ec.message().find("needs more memory") != std::string::npos, ec.message());
  ec.clear();
  const boost::json::value fits = parse_untrusted_json(zeros_array(size_t{1} << 20), ec);
  BOOST_TEST(!ec, ec.message());
  BOOST_TEST(fits.as_array().size() == (size_t{1} << 19));

  ec.clear();
  parse_untrusted_json(nested_json(json_max_depth), ec);
  BOOST_TEST(!ec, ec.message());
  parse_untrusted_json(nested_json(json_max_depth + 1), ec);
  BOOST_TEST((ec == boost::json::error::too_deep), ec.message());
  parse_untrusted_json("{\"a\":1} {", ec);
  BOOST_TEST(ec.failed());
}

BOOST_AUTO_TEST_CASE(a_json_bomb_in_a_store_file_is_corrupt) {
  FakeContainersStorage fake;
  fake.add_image({diff_id("base")}, {"localhost/app:latest"});
  fake.root.add_file("overlay-layers/layers.json", zeros_array(size_t{32} << 20));
  auto store = ContainersStorage::open(fake.root);
  const Error error = store ? error_of(resolve_any(*store, "localhost/app:latest")) : store.error();
  BOOST_TEST(is_corrupt(error, "malformed JSON: needs more memory"), error.message());
  BOOST_TEST(error.object.ends_with("overlay-layers/layers.json"));
}

BOOST_AUTO_TEST_CASE(a_json_bomb_line_in_a_tar_split_is_corrupt) {
  TempDir dir{"tar-split-bomb"};
  write_gzip(dir.path() / "t.json.gz", zeros_array(tar_split_max_line - 16) + "\n");
  const BeneathRoot root = BeneathRoot::open(dir.path().string()).value();
  auto reader = TarSplitReader::open(root, "t.json.gz");
  BOOST_TEST_REQUIRE(reader.has_value());
  TarSplitEntry entry;
  const Error error = error_of(reader->next(entry));
  BOOST_TEST(is_corrupt(error, "needs more memory"));
  BOOST_TEST(error.object.ends_with("t.json.gz"));
}

BOOST_AUTO_TEST_CASE(a_gzip_bomb_of_blank_lines_is_corrupt_at_once) {
  TempDir dir{"tar-split-blank"};
  const BeneathRoot root = BeneathRoot::open(dir.path().string()).value();
  write_gzip(dir.path() / "t.json.gz", std::string(tar_split_max_blank_lines, '\n') + R"({"type":2,"payload":""})" + "\n");
  auto fits = TarSplitReader::open(root, "t.json.gz");
  BOOST_TEST_REQUIRE(fits.has_value());
  TarSplitEntry entry;
  BOOST_TEST(fits->next(entry).value());

  write_gzip(dir.path() / "t.json.gz", std::string(tar_split_max_blank_lines + 1, '\n'));
  auto bomb = TarSplitReader::open(root, "t.json.gz");
  BOOST_TEST_REQUIRE(bomb.has_value());
  const Error error = error_of(bomb->next(entry));
  BOOST_TEST(is_corrupt(error, "more than 1048576 blank lines"));
  BOOST_TEST(error.object.ends_with("t.json.gz"));
}

BOOST_AUTO_TEST_CASE(more_layers_than_overlayfs_stacks_are_corrupt_before_any_layer_is_read) {
  for (const size_t count : {size_t{100'000}, max_layers + 1}) {
    BOOST_TEST_CONTEXT(count << " layers") {
      FakeDockerStore fake;
      std::string config = R"({"rootfs":{"type":"layers","diff_ids":[)";
      for (size_t i = 0; i < count; ++i) config += (i ? ",\"" : "\"") + diff_id("layer " + std::to_string(i % 7)) + "\"";
      config += "]}}";
      const std::string id = sha256_hex(config);
      fake.root.add_file("image/overlay2/imagedb/content/sha256/" + id, config);
      const Error error = error_of(resolve_image(open_fake_store(fake), id));
      BOOST_TEST(is_corrupt(error, "image has " + std::to_string(count) + " layers; overlayfs stacks at most 500"));
      BOOST_TEST(error.object == "sha256:" + id);
    }
  }
  FakeDockerStore fake;
  std::vector<std::string> diffs;
  for (size_t i = 0; i < max_layers; ++i) diffs.push_back(diff_id("layer " + std::to_string(i)));
  const std::string id = fake.add_image(diffs);
  auto stack = resolve_image(open_fake_store(fake), id);
  BOOST_TEST_REQUIRE(stack.has_value(), stack.error().message());
  BOOST_TEST(stack->layers.size() == max_layers);
}

BOOST_AUTO_TEST_CASE(a_docker_layerdb_parent_loop_is_corrupt) {
  FakeDockerStore fake;
  const std::vector<std::string> diffs = {diff_id("base"), diff_id("top")};
  const std::string id = fake.add_image(diffs);
  const auto chain = chain_ids(diffs);
  fake.root.add_file("image/overlay2/layerdb/sha256/" + chain[1].substr(7) + "/parent", chain[1]);
  const Error looped = error_of(resolve_image(open_fake_store(fake), id));
  BOOST_TEST(is_corrupt(looped, "layerdb parent is \"" + chain[1] + "\""));
  BOOST_TEST(looped.object == "layer " + chain[1]);
  fake.root.add_file("image/overlay2/layerdb/sha256/" + chain[1].substr(7) + "/parent", chain[0]);
  fake.root.add_file("image/overlay2/layerdb/sha256/" + chain[0].substr(7) + "/parent", chain[1]);
  BOOST_TEST(is_corrupt(error_of(resolve_image(open_fake_store(fake), id)), "layerdb parent is \"" + chain[1] + "\""));
}

BOOST_AUTO_TEST_CASE(a_containerd_snapshot_parent_loop_is_corrupt_naming_the_snapshot) {
  const stdfs::path fixtures = stdfs::path(OVLMOUNT_TEST_DATA) / "bolt";
  const std::string diff1 = "sha256:c1c20ecc3ceab095236bf59eccb5a6e1ab0b1b46f43b4c5391caff05a53c1032";
  const std::string diff2 = "sha256:32f982d85593473b2bad7e892f95084c0b86ff51c1136382d169fd448410c547";
  const std::string config = R"({"architecture":"amd64","config":{"Cmd":["/bin/sh"]},"os":"linux","rootfs":{"type":"layers","diff_ids":[")" +
                             diff1 + R"(",")" + diff2 + R"("]}})";
  const std::string config_hex = sha256_hex(config);
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
      config_hex + R"(","size":)" + std::to_string(config.size()) +
      R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" + diff1 +
      R"(","size":10240},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" + diff2 +
      R"(","size":10240}]})";
  const auto chain = chain_ids({diff1, diff2});
  TempDir dir{"ctrd-loop"};
  const stdfs::path meta_db = dir.path() / "io.containerd.metadata.v1.bolt/meta.db";
  const stdfs::path snapshots = dir.path() / "io.containerd.snapshotter.v1.overlayfs";
  stdfs::create_directories(meta_db.parent_path());
  stdfs::create_directories(snapshots);
  stdfs::copy_file(fixtures / "meta.db", meta_db);
  stdfs::copy_file(fixtures / "metadata.db", snapshots / "metadata.db");
  stdfs::create_directories(dir.path() / "io.containerd.content.v1.content/blobs/sha256");
  write(dir.path() / "io.containerd.content.v1.content/blobs/sha256" / config_hex, config);
  write(dir.path() / "io.containerd.content.v1.content/blobs/sha256" / sha256_hex(manifest), manifest);
  for (int id = 1; id <= 8; ++id) stdfs::create_directories(snapshots / "snapshots" / std::to_string(id) / "fs");
  patch_each(meta_db, "parent" + chain[0], "parent" + chain[1]);
  patch_each(snapshots / "metadata.db", "parentdefault/2/" + chain[0], "parentdefault/4/" + chain[1]);

  const BeneathRoot root = BeneathRoot::open(dir.path().string()).value();
  auto store = ContainerdStore::open(root, "default");
  BOOST_TEST_REQUIRE(store.has_value(), store.error().message());
  const Error looped = error_of(resolve_image(*store, config_hex));
  BOOST_TEST(is_corrupt(looped, "parent loop through snapshot default/4/" + chain[1]));
}

BOOST_AUTO_TEST_CASE(deeply_nested_toml_is_corrupt_not_a_stack_overflow) {
  std::string dotted = "a";
  for (size_t i = 1; i < deep; ++i) dotted += ".a";
  std::string inline_tables = "x = ";
  for (size_t i = 0; i < deep; ++i) inline_tables += "{a=";
  inline_tables += "1" + std::string(deep, '}') + "\n";
  for (const std::string& text : {"[storage]\n" + dotted + " = 1\n", "[" + dotted + "]\n",
                                  "x = " + std::string(deep, '[') + std::string(deep, ']') + "\n", inline_tables}) {
    BOOST_TEST((error_of(parse_storage_conf(text, "/etc/containers/storage.conf")).code == ExitCode::corrupt));
    BOOST_TEST((error_of(parse_containerd_config(text, "/etc/containerd/config.toml")).code == ExitCode::corrupt));
  }
  const std::string real = R"(version = 2
root = "/data/containerd"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
  endpoint = ["https://registry-1.docker.io"]
)";
  BOOST_TEST(parse_containerd_config(real, "/etc/containerd/config.toml").value() == "/data/containerd");
}

BOOST_AUTO_TEST_SUITE_END()
