// Why: ovlmount must mount a containers-storage graph root (podman, CRI-O, buildah) exactly as
// podman itself does, and never change it. Podman is the oracle: `podman image mount` and
// `podman mount` give the layer order (the lowerdir of the overlay they mount, its l/ links
// mapped to layer dirs) and the tree, `podman export` a container's tree. The graph root is
// the one tests/podman/store.sh builds (fixture `podman_store`); podman runs only in this
// test's own mount namespace, with tmpfs over /var/lib, /dev/shm and its run dirs (the same
// script sets them up), never against the host's /var/lib/containers. State and volumes come
// from libpod's own database: `podman ps` and `podman inspect` are the oracles for those.
#define BOOST_TEST_MODULE ovlmount_integration_podman
#include "itest.hpp"

#include <sys/mount.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <set>

using namespace ovltest;

namespace {

const std::string kPodMulti = "localhost/ovltest-multi:latest";
const std::string kPodDeep = "localhost/ovltest-deep:latest";  // 100 layers
const std::string kPodOne = "localhost/ovltest-one:latest";    // one layer
const std::string kPodChanges = "ovltest-pchanges";  // of ovltest-multi, changed through podman mount
const std::string kPodOneContainer = "ovltest-pone";  // of ovltest-one, one file added
const std::string kPodVols = "ovltest-pvols";  // of ovltest-one, ran: volume kPodVolume at /vol, a host bind at /host
const std::string kPodVolume = "ovltest-pvol";

// $OVLMOUNT_TEST_PODMAN_DIR, else "podman" beside the Docker data root (as store.sh decides).
const fs::path& podman_dir() {
    static const fs::path dir = [] {
        const char* given = std::getenv("OVLMOUNT_TEST_PODMAN_DIR");
        return fs::path(given && *given ? given : (fs::path(data_root()).parent_path() / "podman").string());
    }();
    return dir;
}

const fs::path& graph_root() {
    static const fs::path root = podman_dir() / "root";
    return root;
}

// `ovlmount --storage-root R --state-dir S <args...>`
std::vector<std::string> with_storage(const fs::path& state, std::vector<std::string> args,
                                      const fs::path& root = graph_root()) {
    std::vector<std::string> v{"--storage-root", root.string(), "--state-dir", state.string()};
    v.insert(v.end(), args.begin(), args.end());
    return v;
}

// The podman options store.sh wrote, after making this namespace private for podman (once).
const std::vector<std::string>& podman_flags() {
    static const std::vector<std::string> flags = [] {
        if (!fs::exists(podman_dir() / "ready"))
            throw std::runtime_error(podman_dir().string() + "/ready is missing: the podman_store fixture did not run");
        Result r = run({"bash", OVLMOUNT_PODMAN_STORE_SH, "--private-namespace", podman_dir().string()});
        if (r.code != 0) throw std::runtime_error("store.sh --private-namespace failed: " + r.describe());
        return words(read_file(podman_dir() / "flags"));
    }();
    return flags;
}

std::string podman_ok(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"podman"};
    argv.insert(argv.end(), podman_flags().begin(), podman_flags().end());
    argv.insert(argv.end(), args.begin(), args.end());
    Result r = run(argv);
    if (r.code != 0) throw std::runtime_error("podman failed: " + r.describe());
    return trim(r.out);
}

// The layers of the overlay mounted at `target`: upperdir (if any), then lowerdir top first,
// each canonical (podman's relative l/ links resolve to <graph root>/overlay/<id>/diff). The
// `empty` dir podman adds below a one-layer image is left out.
std::vector<std::string> overlay_layers(const fs::path& target) {
    auto entry = mount_at(target);
    if (!entry || entry->fstype != "overlay") throw std::runtime_error("no overlay at " + target.string());
    std::vector<std::string> layers;
    for (const std::string& option : split(entry->super_options, ',')) {
        const bool upper = option.starts_with("upperdir=");
        if (!upper && !option.starts_with("lowerdir=")) continue;
        for (const std::string& dir : split(option.substr(9), ':')) {
            const fs::path path = dir.starts_with("/") ? fs::path(dir) : graph_root() / "overlay" / dir;
            const std::string real = canon(path);
            if (!upper && fs::path(real).filename() == "empty") continue;
            if (upper) layers.insert(layers.begin(), real);
            else layers.push_back(real);
        }
    }
    return layers;
}

// Podman's image mount of `image`: its layers (top first) and, while `use` runs, its tree.
std::vector<std::string> with_podman_image_mount(const std::string& image,
                                                 const std::function<void(const fs::path&)>& use = {}) {
    const fs::path mounted = podman_ok({"image", "mount", image});
    std::vector<std::string> layers;
    try {
        layers = overlay_layers(mounted);
        if (use) use(mounted);
    } catch (...) {
        podman_ok({"image", "umount", image});
        throw;
    }
    podman_ok({"image", "umount", image});
    return layers;
}

std::vector<std::string> with_podman_container_mount(const std::string& container) {
    const fs::path mounted = podman_ok({"mount", container});
    std::vector<std::string> layers;
    try {
        layers = overlay_layers(mounted);
    } catch (...) {
        podman_ok({"umount", container});
        throw;
    }
    podman_ok({"umount", container});
    return layers;
}

// `podman export` of container `container`, extracted into `dest`.
void podman_export(const std::string& container, const fs::path& dest) {
    const fs::path tarball = dest.string() + ".tar";
    podman_ok({"export", "-o", tarball.string(), container});
    fs::create_directories(dest);
    Result t = run({"tar", "-C", dest.string(), "--numeric-owner", "-xpf", tarball.string()});
    fs::remove(tarball);
    if (t.code != 0) throw std::runtime_error("extracting the export of " + container + " failed: " + t.describe());
}

// The record's lowerdir, canonical, without ovlmount's own empty bottom dir of a one-layer mount.
std::vector<std::string> record_layers(const fs::path& state, const fs::path& target) {
    std::vector<std::string> layers;
    for (const std::string& dir : jstrings(record_of(ovl_list(state), target), "lowerdir")) {
        const std::string real = canon(dir);
        if (real.starts_with(canon(state) + "/")) continue;
        layers.push_back(real);
    }
    return layers;
}

// A copy of the graph root at `dest` (cp -a, one file system).
void copy_graph_root(const fs::path& dest) {
    Result r = run({"cp", "-a", "--one-file-system", graph_root().string(), dest.string()});
    if (r.code != 0) throw std::runtime_error("copying the graph root failed: " + r.describe());
}

boost::json::value read_json(const fs::path& file) { return parse_json(read_file(file), file.string()); }
void write_json(const fs::path& file, const boost::json::value& value) { write_file(file, boost::json::serialize(value)); }

// The images.json entry of the image named `name`.
boost::json::object& image_entry(boost::json::value& images, const std::string& name) {
    for (auto& entry : images.as_array())
        for (const auto& each : entry.as_object().at("names").as_array())
            if (each.as_string() == name) return entry.as_object();
    throw std::runtime_error("no image named " + name + " in images.json");
}

// The layers.json entry with ID `id`.
boost::json::object& layer_entry(boost::json::value& layers, const std::string& id) {
    for (auto& entry : layers.as_array())
        if (entry.as_object().at("id").as_string() == id) return entry.as_object();
    throw std::runtime_error("no layer " + id + " in layers.json");
}

std::string top_layer_of(const fs::path& root, const std::string& name) {
    auto images = read_json(root / "overlay-images/images.json");
    return std::string(image_entry(images, name).at("layer").as_string());
}

// Replaces every `from` in `file` by `to` (same length, so a bbolt page stays intact; stale
// copies in freed pages change too, which nothing reads); returns how many it replaced.
std::size_t replace_bytes(const fs::path& file, const std::string& from, const std::string& to) {
    if (from.size() != to.size()) throw std::runtime_error("replace_bytes needs equal lengths");
    std::string bytes = read_file(file);
    std::size_t count = 0;
    for (std::size_t at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + to.size())) {
        bytes.replace(at, from.size(), to);
        ++count;
    }
    write_file(file, bytes);
    return count;
}

// A bind of `source` at `at`: the same directory, read-only, nosuid, nodev, the same tree, and
// a write into it fails with EROFS.
void expect_ro_bind(const fs::path& at, const fs::path& source) {
    BOOST_TEST_CONTEXT("bind of " << source << " at " << at) {
        auto m = mount_at(at);
        BOOST_TEST_REQUIRE(m.has_value(), "nothing is mounted at " << at);
        BOOST_TEST_REQUIRE(m->has_option("ro"), "mount options: " << m->options);
        BOOST_TEST(m->has_option("nosuid"), "mount options: " << m->options);
        BOOST_TEST(m->has_option("nodev"), "mount options: " << m->options);
        struct stat bound{}, original{};
        BOOST_TEST_REQUIRE(::stat(at.c_str(), &bound) == 0);
        BOOST_TEST_REQUIRE(::stat(source.c_str(), &original) == 0);
        BOOST_TEST((bound.st_dev == original.st_dev && bound.st_ino == original.st_ino), "not the same directory");
        OVLT_EXPECT_NO_DIFFS(compare_trees(source, at, {}), "bind at " + at.string() + " vs its source");
        expect_erofs("creating a file in " + at.string(),
                     ::open((at / "ovltest-new-file").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    }
}

// podman's container states in ovlmount's (Docker's) words.
std::string docker_state_word(const std::string& podman_state) {
    static const std::map<std::string, std::string> words{
        {"created", "created"}, {"initialized", "created"}, {"running", "running"}, {"stopping", "running"},
        {"stopped", "exited"},  {"exited", "exited"},       {"paused", "paused"},   {"removing", "removing"},
        {"unknown", "unknown"}};
    const auto found = words.find(podman_state);
    if (found == words.end()) throw std::runtime_error("podman state " + podman_state + " is not known to the test");
    return found->second;
}

// "name state" of each container, as `containers --json` of `root` lists them.
std::set<std::string> listed_states(const fs::path& state, const fs::path& root = graph_root()) {
    std::set<std::string> states;
    const auto listed = ovl_json(with_storage(state, {"containers", "--json"}, root));
    for (const auto& container : listed.as_array()) {
        BOOST_TEST(container.as_object().at("problem").is_null(), boost::json::serialize(container));
        states.insert(jstr(container, "name") + " " + jstr(container, "state"));
    }
    return states;
}

// "type name source -> destination rw|ro" of each mount `inspect --json` lists for `container`.
std::vector<std::string> inspected_mounts(const fs::path& state, const std::string& container,
                                          const fs::path& root = graph_root()) {
    std::vector<std::string> mounts;
    const auto inspected = ovl_json(with_storage(state, {"inspect", "--json", container}, root));
    for (const auto& volume : jat(jat(inspected, "container"), "volumes").as_array()) {
        const auto& name = jat(volume, "name");
        mounts.push_back(jstr(volume, "type") + " " + (name.is_string() ? std::string(name.as_string()) : "-") + " " +
                         jstr(volume, "source") + " -> " + jstr(volume, "destination") +
                         (jat(volume, "rw").as_bool() ? " rw" : " ro"));
    }
    return sorted(mounts);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(podman)

BOOST_AUTO_TEST_CASE(image_layers_are_stacked_as_podman_image_mount_stacks_them) {
    for (const std::string& image : {kPodMulti, kPodDeep, kPodOne}) {
        BOOST_TEST_CONTEXT("image " << image) {
            TempDir t("pimg");
            const fs::path state = t / "state";
            const fs::path target = t / "mnt";
            fs::create_directories(target);
            std::vector<std::string> expected;
            std::vector<std::string> mismatches;
            expected = with_podman_image_mount(image, [&](const fs::path& podman_tree) {
                OVLT_REQUIRE_EXIT(ovl(with_storage(state, {"mount", image, target.string()})), 0);
                mismatches = compare_trees(podman_tree, target, {});
            });
            OVLT_EXPECT_SAME_LIST(record_layers(state, target), expected, "record lowerdir of " + image);
            OVLT_EXPECT_NO_DIFFS(mismatches, "ovlmount's tree against podman image mount's");
            auto resolved = ovl_json(with_storage(state, {"resolve", "--json", image}));
            std::vector<std::string> lowerdir;
            for (const auto& dir : jstrings(resolved, "lowerdir")) lowerdir.push_back(canon(dir));
            OVLT_EXPECT_SAME_LIST(lowerdir, expected, "resolve --json lowerdir of " + image);
            OVLT_EXPECT_EXIT(ovl(with_storage(state, {"umount", target.string()})), 0);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_container_is_its_writable_layer_on_its_image_as_podman_mounts_it) {
    for (const std::string& container : {kPodChanges, kPodOneContainer, kPodVols}) {
        BOOST_TEST_CONTEXT("container " << container) {
            TempDir t("pctr");
            const fs::path state = t / "state";
            const fs::path target = t / "mnt";
            fs::create_directories(target);
            const std::vector<std::string> expected = with_podman_container_mount(container);
            OVLT_REQUIRE_EXIT(ovl(with_storage(state, {"container", container, target.string()})), 0);
            OVLT_EXPECT_SAME_LIST(record_layers(state, target), expected, "record lowerdir of " + container);
            podman_export(container, t / "export");
            OVLT_EXPECT_NO_DIFFS(compare_trees(t / "export", target, {}), "ovlmount's tree against podman export");
            OVLT_EXPECT_EXIT(ovl(with_storage(state, {"umount", target.string()})), 0);
        }
    }
}

BOOST_AUTO_TEST_CASE(listings_inspect_verify_and_which_read_the_graph_root) {
    TempDir t("pcmd");
    const fs::path state = t / "state";
    auto images = ovl_json(with_storage(state, {"images", "--json"}));
    std::set<std::string> references;
    for (const auto& image : images.as_array()) {
        BOOST_TEST(image.as_object().at("problem").is_null(), boost::json::serialize(image));
        for (const auto& each : jstrings(image, "references")) references.insert(each);
    }
    BOOST_TEST(images.as_array().size() == 3u);
    for (const std::string& name : {kPodMulti, kPodDeep, kPodOne, std::string("localhost/ovltest-base:1"),
                                    std::string("registry.local:5000/team/app:v1")})
        BOOST_TEST(references.contains(name), name << " is not listed by images --json");

    auto containers = ovl_json(with_storage(state, {"containers", "--json"}));
    std::set<std::string> names;
    for (const auto& container : containers.as_array()) names.insert(jstr(container, "name"));
    BOOST_TEST((names == std::set<std::string>{kPodChanges, kPodOneContainer, kPodVols}));

    auto inspected = ovl_json(with_storage(state, {"inspect", "--json", kPodChanges}));
    BOOST_TEST(jstr(inspected, "kind") == "container");
    for (const std::string& reference : {std::string("ovltest-multi"), kPodDeep, kPodChanges}) {
        Result verified = ovl(with_storage(state, {"verify", reference}));
        OVLT_EXPECT_EXIT(verified, 0);
        BOOST_TEST(verified.out.find("verify: ok") != std::string::npos, verified.describe());
    }
    Result which = ovl(with_storage(state, {"which", kPodChanges, "/added-file"}));
    OVLT_EXPECT_EXIT(which, 0);
    BOOST_TEST(which.out.starts_with("provided /added-file"), which.describe());
}

BOOST_AUTO_TEST_CASE(export_is_podman_export_and_run_sees_the_same_tree) {
    TempDir t("pexp");
    const fs::path state = t / "state";
    for (const std::string& container : {kPodChanges, kPodOneContainer}) {
        BOOST_TEST_CONTEXT("container " << container) {
            podman_export(container, t / ("theirs-" + container));
            const fs::path tarball = t / (container + ".tar");
            OVLT_REQUIRE_EXIT(ovl(with_storage(state, {"export", "-o", tarball.string(), container})), 0);
            const fs::path ours = t / ("ours-" + container);
            fs::create_directories(ours);
            OVLT_REQUIRE_EXIT(run({"tar", "-C", ours.string(), "--numeric-owner", "-xpf", tarball.string()}), 0);
            OVLT_EXPECT_NO_DIFFS(compare_trees(t / ("theirs-" + container), ours, {}), "ovlmount export vs podman export");
        }
    }
    Result ran = ovl(with_storage(state, {"run", kPodChanges, "--", "cat", "/added-file", "/etc/ovltest-release"}));
    OVLT_REQUIRE_EXIT(ran, 0);
    BOOST_TEST(ran.out == read_file(t / ("theirs-" + kPodChanges) / "added-file") +
                              read_file(t / ("theirs-" + kPodChanges) / "etc/ovltest-release"));
}

BOOST_AUTO_TEST_CASE(diff_is_what_podman_diff_says_and_owner_takes_a_layer_id) {
    TempDir t("pdiff");
    const fs::path state = t / "state";
    for (const std::string& container : {kPodChanges, kPodOneContainer, kPodVols}) {
        BOOST_TEST_CONTEXT("container " << container) {
            const auto expected = split(podman_ok({"diff", container}), '\n');
            Result diff = ovl(with_storage(state, {"diff", container}));
            OVLT_REQUIRE_EXIT(diff, 0);
            const auto actual = split(trim(diff.out), '\n');
            BOOST_TEST((std::set<std::string>(actual.begin(), actual.end()) ==
                        std::set<std::string>(expected.begin(), expected.end())),
                       "ovlmount diff:\n" << diff.out << "podman diff:\n" << podman_ok({"diff", container}));
        }
    }
    const fs::path upper = podman_ok({"image", "inspect", "--format", "{{.GraphDriver.Data.UpperDir}}", kPodMulti});
    const std::string top_layer = upper.parent_path().filename().string();
    Result owner = ovl(with_storage(state, {"owner", "--json", top_layer}));
    OVLT_REQUIRE_EXIT(owner, 0);
    std::set<std::string> users;
    const boost::json::value rows = boost::json::parse(owner.out);
    for (const auto& row : rows.as_array())
        users.insert(jstr(row, "kind") + " " + (jstr(row, "kind") == "container" ? jstr(row, "name") : jstr(row, "id")));
    const std::string image_id = "sha256:" + podman_ok({"image", "inspect", "--format", "{{.Id}}", kPodMulti});
    BOOST_TEST(users.contains("image " + image_id), owner.out);
    BOOST_TEST(users.contains("container " + kPodChanges), owner.out);
}

BOOST_AUTO_TEST_CASE(container_states_are_what_podman_ps_says) {
    std::set<std::string> expected;
    const auto listed = parse_json(podman_ok({"ps", "-a", "--format", "json"}), "podman ps -a --format json");
    for (const auto& container : listed.as_array())
        expected.insert(jstrings(container, "Names").front() + " " + docker_state_word(jstr(container, "State")));
    TempDir t("pstate");
    const std::set<std::string> actual = listed_states(t / "state");
    OVLT_EXPECT_SAME_LIST(std::vector<std::string>(actual.begin(), actual.end()),
                          std::vector<std::string>(expected.begin(), expected.end()), "containers --json states");
    BOOST_TEST(expected.contains(kPodVols + " exited"), "the fixture's " << kPodVols << " did not run");
    BOOST_TEST(expected.contains(kPodChanges + " created"));
}

BOOST_AUTO_TEST_CASE(inspect_lists_the_mounts_podman_inspect_lists) {
    TempDir t("pinsp");
    const auto podman_mounts =
        parse_json(podman_ok({"inspect", "--format", "{{json .Mounts}}", kPodVols}), "podman inspect .Mounts");
    std::vector<std::string> expected;
    for (const auto& mount : podman_mounts.as_array()) {
        const std::string type = jstr(mount, "Type");
        expected.push_back(type + " " + (type == "volume" ? jstr(mount, "Name") : "-") + " " + jstr(mount, "Source") +
                           " -> " + jstr(mount, "Destination") + (jat(mount, "RW").as_bool() ? " rw" : " ro"));
    }
    BOOST_TEST_REQUIRE(expected.size() == 2u, "the fixture's " << kPodVols << " has a volume and a bind: "
                                                                << boost::json::serialize(podman_mounts));
    OVLT_EXPECT_SAME_LIST(inspected_mounts(t / "state", kPodVols), sorted(expected), "inspect --json volumes");
    const auto inspected = ovl_json(with_storage(t / "state", {"inspect", "--json", kPodVols}));
    for (const auto& volume : jat(jat(inspected, "container"), "volumes").as_array())
        BOOST_TEST(jat(volume, "in_store").as_bool() == (jstr(volume, "type") == "volume"),
                   boost::json::serialize(volume));
    BOOST_TEST(inspected_mounts(t / "state", kPodChanges).empty());
}

BOOST_AUTO_TEST_CASE(volumes_are_bound_read_only_and_host_binds_only_on_request) {
    TempDir t("pvol");
    const fs::path state = t / "state";
    const fs::path volume = podman_ok({"volume", "inspect", "--format", "{{.Mountpoint}}", kPodVolume});
    BOOST_TEST_REQUIRE(canon(volume) == canon(graph_root() / "volumes" / kPodVolume / "_data"),
                       "podman keeps " << kPodVolume << " at " << volume);
    const fs::path host_source = podman_dir() / "bind-src";
    for (bool host_binds : {false, true}) {
        BOOST_TEST_CONTEXT((host_binds ? "--volumes --host-binds" : "--volumes")) {
            const fs::path target = t / (host_binds ? "with-host" : "volumes");
            fs::create_directories(target);
            std::vector<std::string> args{"container", "--volumes"};
            if (host_binds) args.push_back("--host-binds");
            args.insert(args.end(), {kPodVols, target.string()});
            Result r = ovl(with_storage(state, args));
            OVLT_REQUIRE_EXIT(r, 0);
            expect_ro_bind(target / "vol", volume);
            BOOST_TEST(read_file(target / "vol/inside") == "written-inside\n");
            BOOST_TEST(read_file(target / "vol/sub/file") == "from-host\n");
            BOOST_TEST(fs::is_symlink(target / "vol/link"));
            std::vector<std::string> submounts{canon(target / "vol")};
            if (host_binds) {
                expect_ro_bind(target / "host", host_source);
                submounts.push_back(canon(target / "host"));
            } else {
                BOOST_TEST(!mount_at(target / "host").has_value(), "the host bind was bound without --host-binds");
                BOOST_TEST(r.err.find("/host") != std::string::npos,
                           "the skipped host bind is not reported: " << r.describe());
            }
            OVLT_EXPECT_SAME_LIST(sorted(jstrings(record_of(ovl_list(state), target), "submounts")), sorted(submounts),
                                  "record submounts");
            OVLT_EXPECT_EXIT(ovl(with_storage(state, {"umount", target.string()})), 0);
            BOOST_TEST(mounts_below(target).empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(without_libpods_database_state_is_unknown_and_there_are_no_volumes) {
    TempDir t("pnodb");
    const fs::path root = t / "root";
    copy_graph_root(root);
    fs::remove(root / "libpod/bolt_state.db");
    for (const std::string& listed : listed_states(t / "state", root))
        BOOST_TEST(listed.ends_with(" unknown"), listed);
    BOOST_TEST(inspected_mounts(t / "state", kPodVols, root).empty());
}

BOOST_AUTO_TEST_CASE(a_volume_outside_the_graph_root_is_reported_not_bound) {
    TempDir t("pvout");
    const fs::path root = t / "root";
    const fs::path target = t / "mnt";
    fs::create_directories(target);
    copy_graph_root(root);
    BOOST_TEST_REQUIRE(replace_bytes(root / "libpod/bolt_state.db", R"("volumeDriver":"local")",
                                     R"("volumeDriver":"other")") > 0u);
    const auto inspected = ovl_json(with_storage(t / "state", {"inspect", "--json", kPodVols}, root));
    for (const auto& volume : jat(jat(inspected, "container"), "volumes").as_array()) {
        if (jstr(volume, "type") != "volume") continue;
        BOOST_TEST(!jat(volume, "in_store").as_bool(), boost::json::serialize(volume));
        BOOST_TEST(jstr(volume, "source") == (graph_root() / "volumes" / kPodVolume / "_data").string());
    }
    Result r = ovl(with_storage(t / "state", {"container", "--volumes", kPodVols, target.string()}, root));
    OVLT_REQUIRE_EXIT(r, 0);
    BOOST_TEST(!mount_at(target / "vol").has_value(), "a volume of driver \"other\" was bound");
    BOOST_TEST(r.err.find("not a local volume") != std::string::npos, r.describe());
    OVLT_EXPECT_EXIT(ovl(with_storage(t / "state", {"umount", target.string()})), 0);
}

BOOST_AUTO_TEST_CASE(a_corrupt_libpod_database_is_exit_4_naming_the_file_and_the_key) {
    struct Case {
        std::string name, from, to, key;
    };
    const std::vector<Case> cases{
        {"malformed state JSON", R"({"state":6,)", R"({"state":6:)", "/state"},
        {"a state that is not libpod's", R"({"state":6,)", R"({"state":9,)", "/state"},
        {"a volume name ../../../etc", R"("volumeName":"ovltest-pvol")", R"("volumeName":"../../../etc")", "/config"},
        {"a volume record under another name", R"("name":"ovltest-pvol")", R"("name":"ovltest-pvo1")",
         "vol/ovltest-pvol/config"},
    };
    // By full ID: a name is matched only against containers whose records read cleanly.
    const std::string id = podman_ok({"inspect", "--format", "{{.Id}}", kPodVols});
    for (const Case& c : cases) {
        BOOST_TEST_CONTEXT("case " << c.name) {
            TempDir t("pdbbad");
            const fs::path root = t / "root";
            const fs::path state = t / "state";
            const fs::path target = t / "mnt";
            fs::create_directories(target);
            copy_graph_root(root);
            const fs::path db = root / "libpod/bolt_state.db";
            BOOST_TEST_REQUIRE(replace_bytes(db, c.from, c.to) > 0u);
            for (const auto& command : std::vector<std::vector<std::string>>{
                     {"inspect", "--json", id}, {"container", "--volumes", id, target.string()}}) {
                Result r = ovl(with_storage(state, command, root));
                OVLT_EXPECT_EXIT(r, 4);
                OVLT_EXPECT_ONE_ERROR_LINE(r);
                BOOST_TEST(r.err.find(db.string() + ": ") != std::string::npos, r.describe());
                BOOST_TEST(r.err.find(c.key) != std::string::npos, r.describe());
            }
            BOOST_TEST(mounts_below(t.path()).empty());
            BOOST_TEST(ovl_list(state).empty());
            Result listed = ovl(with_storage(state, {"containers", "--json"}, root));
            BOOST_TEST(listed.out.find("bolt_state.db") != std::string::npos,
                       "the broken container is not listed with its problem: " << listed.describe());
        }
    }
}

BOOST_AUTO_TEST_CASE(a_corrupt_graph_root_is_exit_4_in_one_line_and_mounts_nothing) {
    struct Case {
        std::string name;
        std::function<void(const fs::path& root)> corrupt;
    };
    const std::vector<Case> cases{
        {"images.json of the wrong type",
         [](const fs::path& root) { write_file(root / "overlay-images/images.json", R"({"images":[]})"); }},
        {"a parent loop in layers.json",
         [](const fs::path& root) {
             auto layers = read_json(root / "overlay-layers/layers.json");
             const std::string top = top_layer_of(root, kPodMulti);
             std::string base = top;
             for (;;) {
                 auto& entry = layer_entry(layers, base);
                 if (!entry.contains("parent")) break;
                 base = std::string(entry.at("parent").as_string());
             }
             layer_entry(layers, base)["parent"] = top;
             write_json(root / "overlay-layers/layers.json", layers);
         }},
        {"a diff-digest that is not the config's",
         [](const fs::path& root) {
             auto layers = read_json(root / "overlay-layers/layers.json");
             layer_entry(layers, top_layer_of(root, kPodMulti))["diff-digest"] = "sha256:" + std::string(64, 'a');
             write_json(root / "overlay-layers/layers.json", layers);
         }},
        {"a layer ID ../x",
         [](const fs::path& root) {
             auto images = read_json(root / "overlay-images/images.json");
             image_entry(images, kPodMulti)["layer"] = "../x";
             write_json(root / "overlay-images/images.json", images);
         }},
    };
    for (const Case& c : cases) {
        BOOST_TEST_CONTEXT("case " << c.name) {
            TempDir t("pbad");
            const fs::path root = t / "root";
            const fs::path state = t / "state";
            const fs::path target = t / "mnt";
            fs::create_directories(target);
            copy_graph_root(root);
            c.corrupt(root);
            const auto mounts_before = mounts_below(t.path()).size();
            for (const auto& command : std::vector<std::vector<std::string>>{
                     {"resolve", "--json", kPodMulti}, {"mount", kPodMulti, target.string()},
                     {"verify", kPodMulti}, {"inspect", kPodMulti}}) {
                Result r = ovl(with_storage(state, command, root));
                OVLT_EXPECT_EXIT(r, 4);
                OVLT_EXPECT_ONE_ERROR_LINE(r);
            }
            BOOST_TEST(mounts_below(t.path()).size() == mounts_before);
            BOOST_TEST(ovl_list(state).empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(no_command_changes_anything_in_the_graph_root) {
    TempDir t("pev");
    const fs::path fs_dir = t / "fs";
    const fs::path root = fs_dir / "root";
    const fs::path state = t / "state";
    fs::create_directories(fs_dir);
    BOOST_TEST_REQUIRE(::mount("tmpfs", fs_dir.c_str(), "tmpfs", MS_STRICTATIME, "mode=0755") == 0);
    struct Unmount {
        fs::path dir;
        ~Unmount() {
            unmount_below(dir);
        }
    } unmount{t.path()};
    copy_graph_root(root);
    const Snapshot before = snapshot(root, true);
    const fs::path image_target = t / "mnt/image";
    const fs::path container_target = t / "mnt/container";
    const fs::path volumes_target = t / "mnt/volumes";
    fs::create_directories(image_target);
    fs::create_directories(container_target);
    fs::create_directories(volumes_target);
    const std::vector<std::vector<std::string>> commands{
        {"images", "--json"},
        {"containers", "--json"},
        {"resolve", "--json", kPodMulti},
        {"inspect", "--json", kPodChanges},
        {"verify", kPodMulti},
        {"verify", kPodChanges},
        {"which", kPodChanges, "/added-file"},
        {"mount", kPodMulti, image_target.string()},
        {"container", kPodChanges, container_target.string()},
        {"inspect", "--json", kPodVols},
        {"container", "--volumes", kPodVols, volumes_target.string()},
        {"list", "--json"},
    };
    for (const auto& command : commands) OVLT_EXPECT_EXIT(ovl(with_storage(state, command, root)), 0);
    BOOST_TEST(read_every_file(image_target) > 0u);
    BOOST_TEST(read_every_file(container_target) > 0u);
    BOOST_TEST_REQUIRE(mount_at(volumes_target / "vol").has_value());
    BOOST_TEST(read_every_file(volumes_target / "vol") > 0u);
    OVLT_EXPECT_EXIT(ovl(with_storage(state, {"umount", image_target.string()}, root)), 0);
    OVLT_EXPECT_EXIT(ovl(with_storage(state, {"umount", container_target.string()}, root)), 0);
    OVLT_EXPECT_EXIT(ovl(with_storage(state, {"umount", volumes_target.string()}, root)), 0);
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(root, true)), "the graph root copy changed");
}

BOOST_AUTO_TEST_SUITE_END()
