// Why: ovlmount must mount a containerd root (ctr, nerdctl, Kubernetes, Docker's containerd
// image store) exactly as containerd itself does, and never change or lock it. containerd is
// the oracle: tests/containerd/store.sh (fixture `containerd_store`) imported the test images
// into namespaces `default` and `k8s.io` of a private containerd and saved, for each, the
// mount containerd itself gives a view of the image (`ctr snapshots mounts`), and the mount of
// a container it made and changed. The tests read the store offline, and once more while a
// containerd runs on a copy of it (holding its flock on the bolt files).
//
// docker.io/library/ovltest-multiarch:1 (namespace `default`) is an OCI image index of
// linux/arm64/v8 (listed first) and linux/amd64, both unpacked; for each platform store.sh
// saved containerd's own mount of its top chainID and its config digest. `--platform` picks
// the manifest; without it the host's is used.
#define BOOST_TEST_MODULE ovlmount_integration_containerd
#include "itest.hpp"

#include <sys/mount.h>
#include <sys/utsname.h>

#include <cstdlib>
#include <csignal>
#include <functional>
#include <map>

using namespace ovltest;

namespace {

const std::string kCtrMulti = "docker.io/library/ovltest-multi:latest";
const std::string kCtrChanges = "ovltest-cchanges";  // of ovltest-multi, changed through containerd's mount
const std::string kCtrMultiarch = "docker.io/library/ovltest-multiarch:1";  // an index: arm64/v8, amd64
const std::vector<std::string> kImages{"ovltest-base:1", "ovltest-one:latest", "ovltest-multi:latest",
                                       "ovltest-deep:latest"};

// $OVLMOUNT_TEST_CONTAINERD_DIR, else "containerd" beside the Docker data root (as store.sh decides).
const fs::path& containerd_dir() {
    static const fs::path dir = [] {
        const char* given = std::getenv("OVLMOUNT_TEST_CONTAINERD_DIR");
        fs::path d = given && *given ? fs::path(given) : fs::path(data_root()).parent_path() / "containerd";
        if (!fs::exists(d / "ready"))
            throw std::runtime_error((d / "ready").string() + " is missing: the containerd_store fixture did not run");
        return d;
    }();
    return dir;
}

const fs::path& store_root() {
    static const fs::path root = containerd_dir() / "root";
    return root;
}

// `ovlmount --containerd-root R --namespace NS --state-dir S <args...>`
std::vector<std::string> with_containerd(const fs::path& state, std::vector<std::string> args,
                                         const std::string& ns = "default", const fs::path& root = store_root()) {
    std::vector<std::string> v{"--containerd-root", root.string(), "--state-dir", state.string()};
    if (!ns.empty()) v.insert(v.end(), {"--namespace", ns});
    v.insert(v.end(), args.begin(), args.end());
    return v;
}

std::string file_name(const std::string& image) {
    std::string name = image;
    for (char& c : name)
        if (c == '/' || c == ':') c = '_';
    return name;
}

// containerd's own mount (a saved `ctr snapshots mounts` line): type and its -o options.
struct OracleMount {
    std::string type;
    std::string source;
    std::vector<std::string> options;
    std::vector<std::string> lowerdir;  // top first; the bind source for a one-layer view
    std::string upperdir;
};

OracleMount oracle(const std::string& ns, const std::string& name) {
    const std::string line = trim(read_file(containerd_dir() / "oracle" / ns / (name + ".mount")));
    const auto w = words(line);
    OracleMount m;
    for (size_t i = 0; i + 1 < w.size(); ++i) {
        if (w[i] == "-t") m.type = w[i + 1];
        if (w[i] == "-o") m.options = split(w[i + 1], ',');
    }
    if (w.size() < 5) throw std::runtime_error("unexpected oracle line: " + line);
    m.source = w[3];
    for (const std::string& option : m.options) {
        if (option.starts_with("lowerdir=")) m.lowerdir = split(option.substr(9), ':');
        if (option.starts_with("upperdir=")) m.upperdir = option.substr(9);
    }
    if (m.type == "bind") m.lowerdir = {m.source};
    return m;
}

std::vector<std::string> resolved_lowerdir(const fs::path& state, const std::string& image, const std::string& ns,
                                           const fs::path& root = store_root()) {
    Result r = ovl(with_containerd(state, {"resolve", "--json", image}, ns, root));
    if (r.code != 0) throw std::runtime_error("resolve failed: " + r.describe());
    return jstrings(parse_json(r.out, "resolve --json"), "lowerdir");
}

// Mounts containerd's own mount of `m` read-only at `target` (the upper, if any, as a lower).
void mount_oracle(const OracleMount& m, const fs::path& target) {
    int rc;
    if (m.type == "bind") {
        rc = ::mount(m.source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr);
    } else {
        std::vector<std::string> lowers = m.lowerdir;
        if (!m.upperdir.empty()) lowers.insert(lowers.begin(), m.upperdir);
        std::string joined;
        for (const auto& l : lowers) joined += (joined.empty() ? "" : ":") + l;
        const std::string options = "index=off,lowerdir=" + joined;
        rc = ::mount("overlay", target.c_str(), "overlay", MS_RDONLY, options.c_str());
    }
    if (rc != 0) throw std::runtime_error("mounting containerd's own mount at " + target.string() + " failed: " +
                                          std::strerror(errno));
}

// The name of store.sh's oracle files for one platform ("linux/arm64") of kCtrMultiarch.
std::string multiarch_oracle(const std::string& platform) { return "ovltest-multiarch_1-" + file_name(platform); }

// The config digest ("sha256:<hex>") of one platform of kCtrMultiarch, as store.sh wrote it.
std::string multiarch_config(const std::string& platform) {
    return trim(read_file(containerd_dir() / "oracle/default" / (multiarch_oracle(platform) + ".config")));
}

// The platform of kCtrMultiarch this host's containerd would pick (the image holds only these two).
std::string host_platform() {
    utsname name{};
    ::uname(&name);
    return std::string(name.machine) == "aarch64" ? "linux/arm64" : "linux/amd64";
}

void copy_store_root(const fs::path& dest) {
    Result r = run({"cp", "-a", "--one-file-system", store_root().string(), dest.string()});
    if (r.code != 0) throw std::runtime_error("copying the containerd root failed: " + r.describe());
}

// Flips one byte of both meta pages' checksums of the bolt file at `file`.
void break_meta_checksums(const fs::path& file, std::size_t page_size = 4096) {
    std::string bytes = read_file(file);
    for (const std::size_t page : {std::size_t{0}, page_size}) bytes.at(page + 16 + 56) ^= 0x5a;
    write_file(file, bytes);
}

std::string config_hex(const fs::path& state, const std::string& image) {
    Result r = ovl(with_containerd(state, {"resolve", "--json", image}));
    if (r.code != 0) throw std::runtime_error("resolve failed: " + r.describe());
    return jstr(parse_json(r.out, "resolve --json"), "image_id").substr(7);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(containerd)

BOOST_AUTO_TEST_CASE(image_layers_are_stacked_as_containerd_mounts_them_in_each_namespace) {
    TempDir t("cres");
    for (const std::string ns : {"default", "k8s.io"}) {
        for (const std::string& image : kImages) {
            BOOST_TEST_CONTEXT(ns << " " << image) {
                BOOST_TEST(resolved_lowerdir(t / "state", image, ns) == oracle(ns, file_name(image)).lowerdir,
                           boost::test_tools::per_element());
                BOOST_TEST(config_hex(t / "state", image) == trim(docker_image_id(image)).substr(7));
            }
        }
    }
    BOOST_TEST(resolved_lowerdir(t / "state", kCtrMulti, "default") !=
               resolved_lowerdir(t / "state", kCtrMulti, "k8s.io"));
}

BOOST_AUTO_TEST_CASE(a_mounted_image_is_the_tree_containerd_mounts) {
    TempDir t("ctree");
    struct Unmount {
        fs::path dir;
        ~Unmount() { unmount_below(dir); }
    } unmount{t.path()};
    for (const std::string& image : {std::string("ovltest-multi:latest"), std::string("ovltest-base:1")}) {
        BOOST_TEST_CONTEXT(image) {
            const fs::path ours = t / ("ours-" + file_name(image));
            const fs::path theirs = t / ("theirs-" + file_name(image));
            fs::create_directories(ours);
            fs::create_directories(theirs);
            OVLT_EXPECT_EXIT(ovl(with_containerd(t / "state", {"mount", image, ours.string()})), 0);
            mount_oracle(oracle("default", file_name(image)), theirs);
            OVLT_EXPECT_NO_DIFFS(compare_trees(theirs, ours, {}), "ovlmount's mount differs from containerd's");
            OVLT_EXPECT_EXIT(ovl(with_containerd(t / "state", {"umount", ours.string()})), 0);
            BOOST_TEST(::umount2(theirs.c_str(), MNT_DETACH) == 0);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_container_is_its_writable_snapshot_on_its_image_as_containerd_mounts_it) {
    TempDir t("cctr");
    struct Unmount {
        fs::path dir;
        ~Unmount() { unmount_below(dir); }
    } unmount{t.path()};
    const OracleMount theirs_mount = oracle("default", kCtrChanges);
    const fs::path ours = t / "ours";
    const fs::path theirs = t / "theirs";
    fs::create_directories(ours);
    fs::create_directories(theirs);
    OVLT_EXPECT_EXIT(ovl(with_containerd(t / "state", {"container", kCtrChanges, ours.string()})), 0);
    const auto inspect = ovl_json(with_containerd(t / "state", {"inspect", "--json", kCtrChanges}));
    std::vector<std::string> ours_top_first;
    for (const auto& layer : jat(inspect, "layers").as_array()) ours_top_first.insert(ours_top_first.begin(), jstr(layer, "path"));
    std::vector<std::string> expected = theirs_mount.lowerdir;
    expected.insert(expected.begin(), theirs_mount.upperdir);
    BOOST_TEST(ours_top_first == expected, boost::test_tools::per_element());
    mount_oracle(theirs_mount, theirs);
    OVLT_EXPECT_NO_DIFFS(compare_trees(theirs, ours, {}), "ovlmount's container mount differs from containerd's");
    BOOST_TEST(read_file(ours / "added-file") == "added\n");
    BOOST_TEST(!fs::exists(ours / "etc/group"));
    // Fails today: registry.cpp refuses a record whose container_id is not 64 hex, and
    // containerd's container IDs are free-form identifiers.
    OVLT_EXPECT_EXIT(ovl(with_containerd(t / "state", {"umount", ours.string()})), 0);
}

BOOST_AUTO_TEST_CASE(listings_inspect_and_which_read_the_containerd_root) {
    TempDir t("clist");
    const fs::path state = t / "state";
    Result images = ovl(with_containerd(state, {"images"}, ""));
    OVLT_EXPECT_EXIT(images, 0);
    const std::string multi = config_hex(state, kCtrMulti);
    BOOST_TEST(images.out.find(multi.substr(0, 12)) != std::string::npos);
    BOOST_TEST(images.out.find("containerd/default") != std::string::npos);
    BOOST_TEST(images.out.find("containerd/k8s.io") != std::string::npos);
    BOOST_TEST(images.out.find(kCtrMulti) != std::string::npos);
    Result containers = ovl(with_containerd(state, {"containers"}));
    OVLT_EXPECT_EXIT(containers, 0);
    BOOST_TEST(containers.out.find(kCtrChanges) != std::string::npos);
    Result inspect = ovl(with_containerd(state, {"inspect", "--json", kCtrChanges}));
    OVLT_EXPECT_EXIT(inspect, 0);
    BOOST_TEST(jstr(parse_json(inspect.out, "inspect"), "image_id") == "sha256:" + multi);
    Result which = ovl(with_containerd(state, {"which", kCtrChanges, "/added-file"}));
    OVLT_EXPECT_EXIT(which, 0);
    BOOST_TEST(which.out.find("writable") != std::string::npos);
    Result by_id = ovl(with_containerd(state, {"resolve", "--json", multi.substr(0, 12)}));
    OVLT_EXPECT_EXIT(by_id, 0);
}

BOOST_AUTO_TEST_CASE(verify_checks_image_layers_against_their_blobs_and_names_a_changed_file) {
    TempDir t("cver");
    const fs::path state = t / "state";
    const auto diff_ids = boost::json::parse(docker_ok({"image", "inspect", "--format", "{{json .RootFS.Layers}}", kMulti}));
    Result r = ovl(with_containerd(state, {"verify", "--json", kMulti}));
    OVLT_EXPECT_EXIT(r, 0);
    const auto report = parse_json(r.out, "verify --json");
    std::vector<std::string> actual;
    std::string changed_layer;
    for (const auto& layer : jat(report, "layers").as_array()) {
        BOOST_TEST(jstr(layer, "status") == "ok", jstr(layer, "cache_id"));
        if (jat(layer, "diff_id").is_string()) {
            actual.push_back(jstr(layer, "actual"));
            changed_layer = jstr(layer, "cache_id");
        }
    }
    std::vector<std::string> expected;
    for (const auto& id : diff_ids.as_array()) expected.push_back(std::string(id.as_string()));
    BOOST_TEST(actual == expected, boost::test_tools::per_element());

    const fs::path root = t / "root";
    copy_store_root(root);
    const fs::path fs_dir = root / "io.containerd.snapshotter.v1.overlayfs/snapshots" / changed_layer / "fs";
    fs::path victim;
    for (const auto& entry : fs::recursive_directory_iterator(fs_dir))
        if (entry.is_regular_file() && !entry.is_symlink() && entry.file_size() > 0) {
            victim = entry.path();
            break;
        }
    BOOST_TEST_REQUIRE(!victim.empty());
    std::string bytes = read_file(victim);
    bytes[0] = static_cast<char>(bytes[0] ^ 0x20);
    write_file(victim, bytes);
    Result bad = ovl(with_containerd(state, {"verify", kMulti}, "default", root));
    OVLT_EXPECT_EXIT(bad, 4);
    const std::string name = fs::relative(victim, fs_dir).string();
    BOOST_TEST(bad.out.find(name + ": content differs") != std::string::npos, bad.describe());

    const fs::path blobs = root / "io.containerd.content.v1.content/blobs/sha256";
    const std::string config = "sha256:" + config_hex(state, kCtrMulti);
    std::string top_blob;
    for (const auto& entry : fs::directory_iterator(blobs)) {
        if (entry.file_size() > (1 << 20)) continue;
        boost::system::error_code ec;
        const auto manifest = boost::json::parse(read_file(entry.path()), ec);
        if (ec || !manifest.is_object() || !manifest.as_object().contains("layers")) continue;
        if (jstr(jat(manifest, "config"), "digest") != config) continue;
        top_blob = jstr(manifest.at("layers").as_array().back(), "digest").substr(7);
    }
    BOOST_TEST_REQUIRE(!top_blob.empty());
    fs::remove(blobs / top_blob);
    Result uncovered = ovl(with_containerd(state, {"verify", "--json", kMulti}, "default", root));
    OVLT_EXPECT_EXIT(uncovered, 0);
    const auto layers = jat(parse_json(uncovered.out, "verify --json"), "layers").as_array();
    std::string last_image_layer_status;
    for (const auto& layer : layers)
        if (jat(layer, "diff_id").is_string()) last_image_layer_status = jstr(layer, "status");
    BOOST_TEST(last_image_layer_status == "not covered", uncovered.describe());
}

BOOST_AUTO_TEST_CASE(a_corrupt_containerd_root_is_exit_4_in_one_line_and_mounts_nothing) {
    struct Case {
        std::string name;
        std::function<void(const fs::path& root)> corrupt;
    };
    const std::vector<Case> cases{
        {"meta.db with both meta checksums broken",
         [](const fs::path& root) { break_meta_checksums(root / "io.containerd.metadata.v1.bolt/meta.db"); }},
        {"metadata.db with both meta checksums broken",
         [](const fs::path& root) { break_meta_checksums(root / "io.containerd.snapshotter.v1.overlayfs/metadata.db"); }},
        {"a config blob whose bytes are not its digest",
         [](const fs::path& root) {
             TempDir s("cst");
             const fs::path blob =
                 root / "io.containerd.content.v1.content/blobs/sha256" / config_hex(s / "state", kCtrMulti);
             std::string bytes = read_file(blob);
             bytes.back() = bytes.back() == ' ' ? '\n' : ' ';
             write_file(blob, bytes);
         }},
    };
    for (const Case& c : cases) {
        BOOST_TEST_CONTEXT("case " << c.name) {
            TempDir t("cbad");
            const fs::path root = t / "root";
            const fs::path state = t / "state";
            const fs::path target = t / "mnt";
            fs::create_directories(target);
            copy_store_root(root);
            c.corrupt(root);
            const auto mounts_before = mounts_below(t.path()).size();
            for (const auto& command : std::vector<std::vector<std::string>>{
                     {"resolve", "--json", kCtrMulti}, {"mount", kCtrMulti, target.string()}, {"inspect", kCtrMulti}}) {
                Result r = ovl(with_containerd(state, command, "default", root));
                OVLT_EXPECT_EXIT(r, 4);
                OVLT_EXPECT_ONE_ERROR_LINE(r);
            }
            BOOST_TEST(mounts_below(t.path()).size() == mounts_before);
            BOOST_TEST(ovl_list(state).empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(no_command_changes_anything_in_the_containerd_root) {
    TempDir t("cev");
    const fs::path fs_dir = t / "fs";
    const fs::path root = fs_dir / "root";
    const fs::path state = t / "state";
    fs::create_directories(fs_dir);
    BOOST_TEST_REQUIRE(::mount("tmpfs", fs_dir.c_str(), "tmpfs", MS_STRICTATIME, "mode=0755") == 0);
    struct Unmount {
        fs::path dir;
        ~Unmount() { unmount_below(dir); }
    } unmount{t.path()};
    copy_store_root(root);
    const Snapshot before = snapshot(root, true);
    const fs::path image_target = t / "mnt/image";
    const fs::path container_target = t / "mnt/container";
    fs::create_directories(image_target);
    fs::create_directories(container_target);
    const std::vector<std::vector<std::string>> commands{
        {"images", "--json"},
        {"containers", "--json"},
        {"resolve", "--json", kCtrMulti},
        {"inspect", "--json", kCtrChanges},
        {"which", kCtrChanges, "/added-file"},
        {"verify", "--json", kCtrMulti},
        {"verify", kCtrChanges},
        {"mount", kCtrMulti, image_target.string()},
        {"container", kCtrChanges, container_target.string()},
        {"list", "--json"},
    };
    for (const auto& command : commands) OVLT_EXPECT_EXIT(ovl(with_containerd(state, command, "default", root)), 0);
    BOOST_TEST(read_every_file(image_target) > 0u);
    BOOST_TEST(read_every_file(container_target) > 0u);
    OVLT_EXPECT_EXIT(ovl(with_containerd(state, {"umount", image_target.string()}, "default", root)), 0);
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(root, true)), "the containerd root copy changed");
}

BOOST_AUTO_TEST_CASE(a_running_containerd_holding_its_locks_does_not_block_reading) {
    TempDir t("clive");
    const fs::path root = t / "root";
    copy_store_root(root);
    fs::create_directories(t / "run");
    Result started = run({"bash", OVLMOUNT_CONTAINERD_STORE_SH, "--serve", root.string(), (t / "run/c.sock").string()});
    BOOST_TEST_REQUIRE(started.code == 0, started.describe());
    const pid_t pid = static_cast<pid_t>(std::stol(trim(started.out)));
    struct Stop {
        pid_t pid;
        ~Stop() {
            ::kill(pid, SIGTERM);
            for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) ::usleep(100000);
        }
    } stop{pid};
    RunOptions quick;
    quick.timeout = std::chrono::seconds(30);
    Result r = ovl(with_containerd(t / "state", {"resolve", "--json", kCtrMulti}, "default", root), quick);
    OVLT_EXPECT_EXIT(r, 0);
    BOOST_TEST(jstrings(parse_json(r.out, "resolve"), "lowerdir").size() == 10u);
}

BOOST_AUTO_TEST_CASE(a_multi_platform_image_resolves_to_the_manifest_of_the_platform_asked_for) {
    TempDir t("cplat");
    std::map<std::string, std::vector<std::string>> lowerdirs;
    for (const std::string platform : {"linux/arm64", "linux/amd64"}) {
        BOOST_TEST_CONTEXT(platform) {
            Result r = ovl(with_containerd(t / "state", {"--platform", platform, "resolve", "--json", kCtrMultiarch}));
            OVLT_REQUIRE_EXIT(r, 0);
            const auto resolved = parse_json(r.out, "resolve --json");
            lowerdirs[platform] = jstrings(resolved, "lowerdir");
            OVLT_EXPECT_SAME_LIST(lowerdirs[platform], oracle("default", multiarch_oracle(platform)).lowerdir,
                                  "lowerdir against containerd's own mount");
            BOOST_TEST(jstr(resolved, "image_id") == multiarch_config(platform));
        }
    }
    BOOST_TEST(lowerdirs["linux/arm64"].front() != lowerdirs["linux/amd64"].front());
    BOOST_TEST(lowerdirs["linux/arm64"].back() == lowerdirs["linux/amd64"].back());
    BOOST_TEST(multiarch_config("linux/arm64") != multiarch_config("linux/amd64"));

    Result host = ovl(with_containerd(t / "state", {"resolve", "--json", kCtrMultiarch}));
    OVLT_REQUIRE_EXIT(host, 0);
    BOOST_TEST(jstr(parse_json(host.out, "resolve --json"), "image_id") == multiarch_config(host_platform()));
}

BOOST_AUTO_TEST_CASE(a_platform_the_index_does_not_hold_is_not_found_in_one_line_and_mounts_nothing) {
    TempDir t("cplatno");
    const fs::path target = t / "mnt";
    fs::create_directories(target);
    for (const auto& command : std::vector<std::vector<std::string>>{{"resolve", "--json", kCtrMultiarch},
                                                                     {"mount", kCtrMultiarch, target.string()}}) {
        BOOST_TEST_CONTEXT(command.front()) {
            std::vector<std::string> args{"--platform", "linux/s390x"};
            args.insert(args.end(), command.begin(), command.end());
            Result r = ovl(with_containerd(t / "state", args));
            OVLT_EXPECT_EXIT(r, 3);
            OVLT_EXPECT_ONE_ERROR_LINE(r);
            BOOST_TEST(r.err.find("linux/s390x") != std::string::npos, r.describe());
        }
    }
    BOOST_TEST(mounts_below(t.path()).empty());
    BOOST_TEST(ovl_list(t / "state").empty());
}

BOOST_AUTO_TEST_CASE(the_arm64_variant_mounts_as_the_tree_containerd_mounts) {
    TempDir t("cplatmnt");
    struct Unmount {
        fs::path dir;
        ~Unmount() { unmount_below(dir); }
    } unmount{t.path()};
    const fs::path ours = t / "ours";
    const fs::path theirs = t / "theirs";
    fs::create_directories(ours);
    fs::create_directories(theirs);
    OVLT_REQUIRE_EXIT(ovl(with_containerd(t / "state", {"--platform", "linux/arm64", "mount", kCtrMultiarch, ours.string()})), 0);
    BOOST_TEST(read_file(ours / "platform") == "arm64\n");
    BOOST_TEST(read_file(ours / "etc/ovltest-multiarch") == "common\n");
    expect_writes_refused(ours, "platform");
    mount_oracle(oracle("default", multiarch_oracle("linux/arm64")), theirs);
    OVLT_EXPECT_NO_DIFFS(compare_trees(theirs, ours, {}), "ovlmount's arm64 mount differs from containerd's");
    OVLT_EXPECT_EXIT(ovl(with_containerd(t / "state", {"umount", ours.string()})), 0);
}

BOOST_AUTO_TEST_SUITE_END()
