// Support code for the ovlmount integration tests: running commands, temp dirs, mount table,
// tree walking and comparison, and Docker as the oracle.
//
// The tests never link the ovlmount core: every expectation comes from Docker itself (the
// daemon at $OVLMOUNT_TEST_DOCKER_HOST, its data root $OVLMOUNT_TEST_DATA_ROOT) or the kernel.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

namespace ovltest {

namespace fs = std::filesystem;

// ---- environment -----------------------------------------------------------------------

struct Env {
    std::string bin;          // $OVLMOUNT_BIN
    std::string docker_host;  // $OVLMOUNT_TEST_DOCKER_HOST
    std::string data_root;    // $OVLMOUNT_TEST_DATA_ROOT
    std::string docker;       // $OVLMOUNT_TEST_DOCKER or /usr/bin/docker
    std::string docker_config;  // private client config dir
};

// Checks the environment once (root, variables set, daemon answers, data root matches the
// daemon's) and throws std::runtime_error with a clear message otherwise.
const Env& env();

// ---- processes -------------------------------------------------------------------------

struct Result {
    int code = -1;  // exit status; 128+N when killed by signal N; -1 when it could not run
    std::string out;
    std::string err;
    std::string cmdline;
    // "cmd -> exit N\nstdout: ...\nstderr: ..." for failure messages.
    std::string describe() const;
};

struct RunOptions {
    std::vector<std::string> env_add;  // "NAME=VALUE" added to (or replacing in) the environment
    std::string input;                 // stdin contents (empty: /dev/null)
    std::chrono::milliseconds timeout{std::chrono::minutes(5)};
};

// A started child process; its stdout/stderr go to memory files.
class Process {
public:
    Process(const std::vector<std::string>& argv, const RunOptions& opts = {});
    Process(Process&&) noexcept;
    Process& operator=(Process&&) = delete;
    Process(const Process&) = delete;
    ~Process();
    Result wait();
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    std::chrono::steady_clock::time_point deadline_;
    std::string cmdline_;
    bool waited_ = false;
};

Result run(const std::vector<std::string>& argv, const RunOptions& opts = {});

// ovlmount with the given arguments (no implicit options).
Result ovl(const std::vector<std::string>& args, const RunOptions& opts = {});
Process ovl_async(const std::vector<std::string>& args, const RunOptions& opts = {});

// docker -H $OVLMOUNT_TEST_DOCKER_HOST ...
Result docker(const std::vector<std::string>& args);
// Same, but throws (with the whole output) unless it exits 0; returns trimmed stdout.
std::string docker_ok(const std::vector<std::string>& args);

std::string trim(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
std::string quote(std::string_view s);  // for messages

// ---- files -----------------------------------------------------------------------------

// A private temporary directory (mode 0700) removed recursively, mounts below it unmounted
// first, without crossing into other filesystems.
class TempDir {
public:
    explicit TempDir(std::string_view tag = "t");
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir();
    const fs::path& path() const { return path_; }
    fs::path operator/(const fs::path& p) const { return path_ / p; }

private:
    fs::path path_;
};

// Unmounts (detaching if busy) every mount at or below `dir`, deepest first.
void unmount_below(const fs::path& dir);
// rm -rf that never crosses a mount point; returns false if something was left.
bool remove_tree(const fs::path& dir);

// `levels` directories nested in one another ("d/d/d/..."), the outermost at `top`, made through
// descriptors (the path may be longer than PATH_MAX); removed with GNU rm, which nftw cannot do.
class NestedDirs {
public:
    NestedDirs(fs::path top, std::size_t levels);
    NestedDirs(const NestedDirs&) = delete;
    NestedDirs& operator=(const NestedDirs&) = delete;
    ~NestedDirs();

private:
    fs::path top_;
};

std::string read_file(const fs::path& p);  // O_NOATIME when permitted
void write_file(const fs::path& p, std::string_view data);

std::string sha256_hex(std::string_view data);

// A lock shared by all test processes of one data root: held around `docker create/export/rm`
// and around copies of the data root, so a copy never races with Docker changing it.
class DataRootLock {
public:
    DataRootLock();
    ~DataRootLock();
    DataRootLock(const DataRootLock&) = delete;
    DataRootLock& operator=(const DataRootLock&) = delete;

private:
    int fd_ = -1;
};

// cp -a --one-file-system of the test data root to `dest` (which must not exist yet).
void copy_data_root(const fs::path& dest);

// A tmpfs mounted strictatime at `mnt` (= t/fs) holding a copy of the data root at `root`
// (= mnt/root), so that any access to the copy shows as an atime change. The constructor
// throws std::runtime_error if the tmpfs cannot be mounted or is not strictatime. The
// destructor unmounts whatever a test left mounted at or below t/"mnt" (mount targets over the
// copy go there), then detaches the tmpfs; TempDir removes the rest.
struct EvidenceCopy {
    explicit EvidenceCopy(std::string_view tag = "ev");
    EvidenceCopy(const EvidenceCopy&) = delete;
    EvidenceCopy& operator=(const EvidenceCopy&) = delete;
    ~EvidenceCopy();
    TempDir t;
    fs::path mnt;
    fs::path root;
};

// ---- mount table -----------------------------------------------------------------------

struct MountEntry {
    int id = 0;
    int parent = 0;
    std::string root;
    std::string target;
    std::string options;        // per-mount options
    std::string fstype;
    std::string source;
    std::string super_options;  // per-superblock options
    bool has_option(std::string_view opt) const;
    bool has_super_option_prefix(std::string_view prefix) const;
};

std::vector<MountEntry> mountinfo();
// The topmost mount whose mount point is exactly `target` (canonical path).
std::optional<MountEntry> mount_at(const fs::path& target);
// Overlay mounts with source "ovlmount".
std::vector<MountEntry> ovlmount_mounts();
// Every mount at or below `dir`.
std::vector<MountEntry> mounts_below(const fs::path& dir);

// ---- trees -----------------------------------------------------------------------------

struct Node {
    mode_t type = 0;  // S_IFMT bits
    mode_t perm = 0;  // 07777 bits
    uid_t uid = 0;
    gid_t gid = 0;
    std::int64_t size = 0;  // regular files
    std::string link;       // symlink target
    dev_t rdev = 0;         // devices
    dev_t dev = 0;
    ino_t ino = 0;
};

// Relative path ("a/b") -> node for everything below root (root itself excluded).
std::map<std::string, Node> walk_tree(const fs::path& root);

// Compares two trees: paths, types, permission bits, owners, sizes, symlink targets, contents
// of regular files, device numbers and hard-link groups. `ignore` names entries whose own
// attributes and presence are not compared (their children are). Returns the differences,
// at most `max` of them.
std::vector<std::string> compare_trees(const fs::path& expected_root, const fs::path& actual_root,
                                       const std::set<std::string>& ignore, std::size_t max = 40);

// The entries Docker's init layer adds to a container (never part of an image).
const std::set<std::string>& docker_init_entries();

// Reads every regular file below root (through a mount: exercises the lowers); returns the count.
std::size_t read_every_file(const fs::path& root);

// The regular files below `dir` and the sum of their sizes (lstat only, nothing is read).
std::pair<std::int64_t, std::int64_t> regular_files(const fs::path& dir);

// True if `p` (not followed) has trusted.overlay.opaque=y: overlayfs' opaque directory mark.
bool is_opaque(const fs::path& p);

// Everything about a tree that must not change: lstat with nanosecond times and SHA-256 of
// regular files. Reads with O_NOATIME and never readlink()s (that would touch the atimes it
// records). `with_atime` false leaves atimes out (filesystems mounted relatime).
struct Stamp {
    mode_t mode = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::int64_t size = 0;
    nlink_t nlink = 0;
    ino_t ino = 0;
    dev_t rdev = 0;
    std::int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
    std::string hash;
    std::string xattrs;  // "name=value;..." (values hex)
};
using Snapshot = std::map<std::string, Stamp>;
Snapshot snapshot(const fs::path& root, bool with_atime);
std::vector<std::string> diff_snapshots(const Snapshot& before, const Snapshot& after, std::size_t max = 40);

// ---- Docker as the oracle --------------------------------------------------------------

std::string docker_image_id(const std::string& ref);               // "sha256:<hex>"
std::vector<std::string> docker_lowerdirs(const std::string& ref);  // UpperDir, then LowerDir
std::vector<std::string> docker_diff_ids(const std::string& ref);
// docker create + export + rm; extracts into `dest` (created) with tar --numeric-owner -xpf.
void docker_export_image(const std::string& ref, const fs::path& dest);
// Every image ID in the data root's imagedb (hex, no "sha256:").
std::vector<std::string> imagedb_ids(const fs::path& data_root);
// The digest reference the fixture added ("ovltest-multi@sha256:...").
std::string digest_reference();

// ---- containers (Docker as the oracle) -------------------------------------------------

// The full ID (64 hex) of container `name` as `docker container inspect` gives it.
std::string docker_container_id(const std::string& name);

// `docker container inspect NAME`: the one object of its array.
boost::json::object docker_container_inspect(const std::string& name);
// A container's GraphDriver.Data: UpperDir (its writable layer), then LowerDir split on ':'
// (the init layer, then the image's layers, top first).
std::vector<std::string> docker_container_lowerdirs(const std::string& name);
// `docker export` of an existing container (no create, no rm) under DataRootLock; extracts into
// `dest` (created) with tar --numeric-owner -xpf.
void docker_export_container(const std::string& name, const fs::path& dest);
// `docker diff NAME` under DataRootLock: its lines ("A /path"), sorted bytewise.
std::vector<std::string> docker_diff_lines(const std::string& name);
// Names of every container `docker ps -a` lists.
std::vector<std::string> docker_container_names();
// MD5 of `data` as md5sum(1) computes it (fed on stdin), lowercase hex.
std::string md5sum_hex(std::string_view data);

// ---- ovlmount helpers ------------------------------------------------------------------

boost::json::value parse_json(const std::string& text, const std::string& what);
// Asserting helpers throw std::runtime_error with the full command description.
boost::json::value ovl_json(const std::vector<std::string>& args);
// list --json for a state dir.
boost::json::array ovl_list(const fs::path& state_dir, const std::string& data_root = {});

// True if `err` is exactly one line starting "ovlmount: ".
bool one_error_line(const std::string& err);

}  // namespace ovltest

// ---- catalog / verify / which helpers (Docker's answers about every image and container) ----

namespace ovltest {

// Every image ID `docker images -a` lists ("sha256:<hex>", sorted, unique).
std::vector<std::string> docker_all_image_ids();
// Every container ID `docker ps -a` lists (64 hex, sorted).
std::vector<std::string> docker_all_container_ids();
// `docker image inspect` / `docker container inspect` of many objects at once: ID -> object
// (image IDs as "sha256:<hex>", container IDs as 64 hex).
std::map<std::string, boost::json::object> docker_inspect_images(const std::vector<std::string>& ids);
std::map<std::string, boost::json::object> docker_inspect_containers(const std::vector<std::string>& ids);
// The GraphDriver dirs of one inspect object: UpperDir, then LowerDir's entries (top first).
std::vector<std::string> graph_dirs(const boost::json::object& inspect);
// RepoTags and RepoDigests of one `docker image inspect` object, sorted (empty if it has none).
std::vector<std::string> docker_image_refs(const boost::json::object& inspect);
// "<data-root>/overlay2/<dir>/diff" -> "<dir>".
std::string layer_dir_name(const std::string& diff_path);
// The layerdb/sha256/<chain> dir of `root` whose cache-id is `cache_id`.
fs::path layerdb_dir_of_cache(const fs::path& root, const std::string& cache_id);
// An RFC 3339 time ("2026-11-28T16:01:59.7669Z", "...+01:00") as nanoseconds since the epoch;
// throws if it is not one.
std::int64_t rfc3339_ns(const std::string& s);
// A JSON number (integer or integral double) as int64; throws otherwise.
std::int64_t json_int(const boost::json::value& v);

}  // namespace ovltest
