// Why: Docker 29 keeps its images in containerd (namespace moby), with no image/overlay2; a
// container is a config.v2.json whose writable snapshot, keyed by its ID, sits on `<id>-init`
// and the image's snapshot chain. ovlmount must mount such a store as Docker does, wherever its
// containerd root is (a: dockerd's own, below the data root; b: a separate one), and never
// change it. The oracles are Docker's and containerd's own answers, saved next to each store
// by tests/docker29/store.sh (fixture `docker29_store`); path-map.tsv maps the paths they name.
// The tests need no daemon, so they run the binary themselves rather than with ovltest::ovl(),
// which insists on the test dockerd.
#define BOOST_TEST_MODULE ovlmount_integration_docker29
#include "itest.hpp"

#include <sys/mount.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>

using namespace ovltest;

namespace {

// The fixture's images (slug as in the oracle file names, reference) and its changed container.
const std::vector<std::pair<std::string, std::string>> kImages{
    {"base", "ovltest-base:1"},
    {"multi", "ovltest-multi:latest"},
    {"deep", "ovltest-deep:latest"},  // 100 layers
    {"built", "d29-built:latest"},    // classic builder: one snapshot more than diff_ids
};
const std::string kChanged = "d29-changes";  // of ovltest-multi: every kind of change
const std::string kMultiRef = "ovltest-multi:latest";

std::string getenv_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
}

// $OVLMOUNT_TEST_DOCKER29_DIR, else "docker29" beside the test data root (as store.sh decides).
const fs::path& fixture_dir() {
    static const fs::path dir = [] {
        fs::path d = getenv_or_empty("OVLMOUNT_TEST_DOCKER29_DIR");
        if (d.empty()) {
            std::string data_root = getenv_or_empty("OVLMOUNT_TEST_DATA_ROOT");
            while (data_root.size() > 1 && data_root.back() == '/') data_root.pop_back();
            if (data_root.empty())
                throw std::runtime_error("OVLMOUNT_TEST_DOCKER29_DIR or OVLMOUNT_TEST_DATA_ROOT must be set "
                                         "(bash tests/run.sh sets the latter)");
            d = fs::path(data_root).parent_path() / "docker29";
        }
        if (!fs::exists(d / "ready"))
            throw std::runtime_error((d / "ready").string() + " is missing: the docker29_store fixture did not run");
        return fs::canonical(d);
    }();
    return dir;
}

// ovlmount with `args`, the binary $OVLMOUNT_BIN (set by ctest).
Result ovl29(const std::vector<std::string>& args) {
    static const std::string bin = [] {
        const std::string b = getenv_or_empty("OVLMOUNT_BIN");
        if (b.empty()) throw std::runtime_error("OVLMOUNT_BIN is not set (ctest sets it to the built ovlmount)");
        if (::access(b.c_str(), X_OK) != 0) throw std::runtime_error("OVLMOUNT_BIN=" + b + " is not executable");
        if (::geteuid() != 0) throw std::runtime_error("the integration tests must run as root");
        return b;
    }();
    std::vector<std::string> argv{bin};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
}

boost::json::value ovl29_json(const std::vector<std::string>& args) {
    Result r = ovl29(args);
    if (r.code != 0) throw std::runtime_error("ovlmount failed: " + r.describe());
    return parse_json(r.out, "output of `" + r.cmdline + "`");
}

boost::json::array records(const fs::path& state) {
    auto v = ovl29_json({"--state-dir", state.string(), "list", "--json"});
    if (!v.is_array()) throw std::runtime_error("list --json did not print an array: " + boost::json::serialize(v));
    return v.as_array();
}

std::vector<std::string> tsv_rows(const fs::path& file) { return lines_of(read_file(file), false); }

boost::json::value read_json(const fs::path& file) { return parse_json(read_file(file), file.string()); }

// What images.tsv says of one image.
struct ImageRow {
    std::string ref, id, top_chain_id;
    std::size_t diff_ids = 0, dirs = 0;
};

// One variant of the fixture (`base` = DIR/variant-<name>) or a copy of one (`base` elsewhere;
// the oracles are always read from the fixture).
struct Variant {
    std::string name;  // "a": dockerd's own containerd; "b": a containerd of its own
    fs::path base;

    fs::path oracle(const std::string& file) const { return fixture_dir() / ("variant-" + name) / "oracle" / file; }
    fs::path data_root() const { return base / "docker"; }
    fs::path containerd_root() const { return name == "a" ? base / "docker/containerd/daemon" : base / "containerd"; }

    // The options that name this store: the data root, and for b its containerd root too.
    std::vector<std::string> args(const fs::path& state, const std::vector<std::string>& command) const {
        std::vector<std::string> v{"--data-root", data_root().string()};
        if (name == "b") v.insert(v.end(), {"--containerd-root", containerd_root().string()});
        v.insert(v.end(), {"--state-dir", state.string()});
        v.insert(v.end(), command.begin(), command.end());
        return v;
    }

    // A path as the oracles name it (inside the container that wrote the store) below `under`
    // (default: base), by the longest prefix in path-map.tsv.
    std::string translate(const std::string& path, const fs::path& under = {}) const {
        std::string best_from, best_to;
        for (const auto& row : tsv_rows(oracle("path-map.tsv"))) {
            const auto cols = split(row, '\t');
            if (cols.size() != 2) throw std::runtime_error("bad path-map.tsv row: " + row);
            const bool prefix = path == cols[0] || path.starts_with(cols[0] + "/");
            if (prefix && cols[0].size() > best_from.size()) best_from = cols[0], best_to = cols[1];
        }
        if (best_from.empty()) throw std::runtime_error("path-map.tsv does not map " + path);
        return ((under.empty() ? base : under) / best_to).string() + path.substr(best_from.size());
    }

    // The dirs of a saved `ctr snapshots mounts` line, top first (upperdir first, then lowerdir;
    // a bind mount's source), below `under`.
    std::vector<std::string> mount_dirs(const std::string& file, const fs::path& under = {}) const {
        const std::string line = trim(read_file(oracle(file)));
        const auto w = words(line);
        if (w.size() < 7 || w[0] != "mount" || w[1] != "-t" || w[5] != "-o")
            throw std::runtime_error("unexpected oracle line in " + file + ": " + line);
        std::vector<std::string> dirs;
        if (w[2] == "bind") {
            dirs.push_back(translate(w[3], under));
            return dirs;
        }
        std::string upper;
        for (const std::string& option : split(w[6], ',')) {
            if (option.starts_with("upperdir=")) upper = translate(option.substr(9), under);
            if (option.starts_with("lowerdir="))
                for (const auto& dir : split(option.substr(9), ':')) dirs.push_back(translate(dir, under));
        }
        if (!upper.empty()) dirs.insert(dirs.begin(), upper);
        return dirs;
    }

    ImageRow image_row(const std::string& ref) const {
        for (const auto& row : tsv_rows(oracle("images.tsv"))) {
            const auto c = split(row, '\t');
            if (c.size() == 5 && c[0] == ref) return {c[0], c[1], c[2], std::stoul(c[3]), std::stoul(c[4])};
        }
        throw std::runtime_error("images.tsv has no row for " + ref);
    }

    // container-ids.tsv: name -> full ID.
    std::map<std::string, std::string> container_ids() const {
        std::map<std::string, std::string> out;
        for (const auto& row : tsv_rows(oracle("container-ids.tsv"))) {
            const auto c = split(row, '\t');
            if (c.size() != 2) throw std::runtime_error("bad container-ids.tsv row: " + row);
            out[c[0]] = c[1];
        }
        return out;
    }

    // docker image inspect of every image (images-inspect.json), by ID.
    std::map<std::string, boost::json::object> images_inspect() const {
        std::map<std::string, boost::json::object> out;
        const auto all = read_json(oracle("images-inspect.json"));
        for (const auto& o : all.as_array()) out[jstr(o, "Id")] = o.as_object();
        return out;
    }

    boost::json::object image_inspect(const std::string& slug) const {
        return read_json(oracle("image-inspect-" + slug + ".json")).as_array().at(0).as_object();
    }

    // docker container inspect of every container, by ID.
    std::map<std::string, boost::json::object> containers_inspect() const {
        std::map<std::string, boost::json::object> out;
        const auto all = read_json(oracle("containers-inspect.json"));
        for (const auto& o : all.as_array()) out[jstr(o, "Id")] = o.as_object();
        return out;
    }

    // A copy of this variant at `dest` (cp -a: xattrs, whiteouts and hard links kept).
    Variant copy_to(const fs::path& dest) const {
        Result r = run({"cp", "-a", "--one-file-system", base.string(), dest.string()});
        if (r.code != 0) throw std::runtime_error("copying variant " + name + " failed: " + r.describe());
        return {name, dest};
    }
};

const std::vector<Variant>& variants() {
    static const std::vector<Variant> all{{"a", fixture_dir() / "variant-a"}, {"b", fixture_dir() / "variant-b"}};
    return all;
}

std::vector<std::string> diff_ids_of(const boost::json::object& image_inspect) {
    std::vector<std::string> out;
    for (const auto& d : image_inspect.at("RootFS").as_object().at("Layers").as_array()) out.emplace_back(d.as_string());
    return out;
}

std::string ostr(const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return (v != nullptr && v->is_string()) ? std::string(v->as_string()) : std::string();
}

// The layers of a resolve/inspect --json object, top first (its "layers" are bottom first).
std::vector<boost::json::object> layers_top_first(const boost::json::value& v) {
    std::vector<boost::json::object> out;
    for (const auto& layer : jat(v, "layers").as_array()) out.insert(out.begin(), layer.as_object());
    return out;
}

std::vector<std::string> paths_of(const std::vector<boost::json::object>& layers) {
    std::vector<std::string> out;
    for (const auto& layer : layers) out.push_back(jstr(layer, "path"));
    return out;
}

// The diff_ids of the layers that have one, bottom first.
std::vector<std::string> layer_diff_ids(const boost::json::value& v) {
    std::vector<std::string> out;
    for (const auto& layer : jat(v, "layers").as_array())
        if (jat(layer, "diff_id").is_string()) out.push_back(jstr(layer, "diff_id"));
    return out;
}

// A record's lowerdir, canonical, without ovlmount's own empty bottom dir of a one-layer mount.
std::vector<std::string> record_dirs(const fs::path& state, const fs::path& target) {
    std::vector<std::string> dirs;
    for (const std::string& dir : jstrings(record_of(records(state), target), "lowerdir")) {
        const std::string real = canon(dir);
        if (!real.starts_with(canon(state) + "/")) dirs.push_back(real);
    }
    return dirs;
}

std::vector<std::string> canonical(const std::vector<std::string>& paths) {
    std::vector<std::string> out;
    for (const auto& p : paths) out.push_back(canon(p));
    return out;
}

// Docker's export of `name` (oracle export-<name>.tar) extracted into `dest`.
void extract_export(const Variant& v, const std::string& name, const fs::path& dest) {
    fs::create_directories(dest);
    Result r = run({"tar", "-C", dest.string(), "--numeric-owner", "-xpf", v.oracle("export-" + name + ".tar").string()});
    if (r.code != 0) throw std::runtime_error("extracting the export of " + name + " failed: " + r.describe());
}

void expect_ro_overlay(const fs::path& target) {
    auto m = mount_at(target);
    BOOST_TEST_REQUIRE(m.has_value(), "nothing is mounted at " << target);
    BOOST_TEST(m->fstype == "overlay", "fstype " << m->fstype);
    BOOST_TEST(m->source == "ovlmount", "mount source " << m->source);
    BOOST_TEST_REQUIRE(m->has_option("ro"), "mount options: " << m->options);
}

void expect_umount(const fs::path& state, const fs::path& target) {
    OVLT_EXPECT_EXIT(ovl29({"--state-dir", state.string(), "umount", target.string()}), 0);
    BOOST_TEST(mounts_below(target).empty(), "still mounted after umount: " << target);
}

// The entries of a listing by "id".
std::map<std::string, boost::json::object> by_id(const boost::json::value& listing) {
    std::map<std::string, boost::json::object> out;
    for (const auto& e : listing.as_array()) out[jstr(e, "id")] = e.as_object();
    return out;
}

std::vector<std::string> keys(const std::map<std::string, boost::json::object>& map) {
    std::vector<std::string> out;
    for (const auto& entry : map) out.push_back(entry.first);
    return out;
}

// The first regular, non-empty file below `dir`.
fs::path some_file(const fs::path& dir) {
    for (const auto& entry : fs::recursive_directory_iterator(dir))
        if (entry.is_regular_file() && !entry.is_symlink() && entry.file_size() > 0) return entry.path();
    throw std::runtime_error("no regular file below " + dir.string());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(docker29)

BOOST_AUTO_TEST_CASE(containerds_own_container_mount_is_dockers_export) {
    // Self-check of the method and the oracles: containerd's mount of each container (its
    // upperdir as one more lower), made by the kernel, is exactly the tree `docker export`
    // wrote, with no entry to ignore. (deep's 102 paths exceed one page of mount options.)
    for (const Variant& v : variants()) {
        for (const auto& [name, id] : v.container_ids()) {
            if (name == "d29-created-deep") continue;
            BOOST_TEST_CONTEXT("variant " << v.name << " container " << name) {
                TempDir t("d29self");
                const fs::path theirs = t / "theirs";
                fs::create_directories(theirs);
                std::string lowerdir;
                for (const auto& dir : v.mount_dirs("mount-container-" + name + ".txt"))
                    lowerdir += (lowerdir.empty() ? "" : ":") + dir;
                const std::string options = "index=off,lowerdir=" + lowerdir;
                BOOST_TEST_REQUIRE(::mount("overlay", theirs.c_str(), "overlay", MS_RDONLY, options.c_str()) == 0,
                                   "mounting containerd's stack: " << std::strerror(errno));
                extract_export(v, name, t / "export");
                OVLT_EXPECT_NO_DIFFS(compare_trees(t / "export", theirs, {}), "containerd's mount vs docker export");
            }
        }
        const ImageRow built = v.image_row("d29-built:latest");
        BOOST_TEST(built.dirs == built.diff_ids + 1, "d29-built: the build container's -init snapshot is in its chain");
    }
}

BOOST_AUTO_TEST_CASE(images_resolve_to_the_snapshot_chain_containerd_mounts) {
    for (const Variant& v : variants()) {
        for (const auto& [slug, ref] : kImages) {
            BOOST_TEST_CONTEXT("variant " << v.name << " image " << ref) {
                TempDir t("d29res");
                const auto inspect = v.image_inspect(slug);
                const ImageRow row = v.image_row(ref);
                const auto expected = v.mount_dirs("mount-image-" + slug + ".txt");
                BOOST_TEST_REQUIRE(jstr(inspect, "Id") == row.id);
                const auto r = ovl29_json(v.args(t / "state", {"resolve", "--json", ref}));
                BOOST_TEST(jstr(r, "image_id") == row.id);
                BOOST_TEST(jstr(r, "reference") == ref);
                BOOST_TEST(canon(jstr(r, "data_root")) == canon(v.containerd_root()), "the root the layers are below");
                OVLT_EXPECT_SAME_LIST(canonical(jstrings(r, "lowerdir")), expected, "lowerdir vs containerd's mount");
                const auto layers = layers_top_first(r);
                OVLT_EXPECT_SAME_LIST(canonical(paths_of(layers)), expected, "layer paths (top first)");
                BOOST_TEST_REQUIRE(!layers.empty());
                BOOST_TEST(jstr(layers.front(), "chain_id") == row.top_chain_id);
                OVLT_EXPECT_SAME_LIST(layer_diff_ids(r), diff_ids_of(inspect), "diff_ids of the layers that have one");
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(images_are_found_by_id_prefix_and_digest_reference_as_docker_finds_them) {
    for (const Variant& v : variants()) {
        const auto all = keys(v.images_inspect());
        for (const auto& [slug, ref] : kImages) {
            const auto inspect = v.image_inspect(slug);
            const std::string id = jstr(inspect, "Id");
            const std::string prefix = id.substr(7, 12);
            BOOST_TEST_REQUIRE(std::count_if(all.begin(), all.end(), [&](const std::string& x) {
                                   return x.starts_with("sha256:" + prefix);
                               }) == 1);
            std::vector<std::string> forms{id, id.substr(7), prefix, "docker.io/library/" + ref};
            for (const auto& digest_ref : jstrings(inspect, "RepoDigests")) forms.push_back(digest_ref);
            for (const std::string& form : forms) {
                BOOST_TEST_CONTEXT("variant " << v.name << " image " << ref << " as " << quote(form)) {
                    TempDir t("d29ids");
                    Result r = ovl29(v.args(t / "state", {"resolve", "--json", form}));
                    OVLT_REQUIRE_EXIT(r, 0);
                    BOOST_TEST(jstr(parse_json(r.out, "resolve"), "image_id") == id);
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_mounted_image_is_dockers_export_without_the_init_layer) {
    for (const Variant& v : variants()) {
        for (const auto& [slug, ref] : kImages) {
            BOOST_TEST_CONTEXT("variant " << v.name << " image " << ref) {
                TempDir t("d29img");
                const fs::path state = t / "state";
                const fs::path target = t / "mnt";
                fs::create_directories(target);
                extract_export(v, "d29-created-" + slug, t / "export");
                OVLT_REQUIRE_EXIT(ovl29(v.args(state, {"mount", ref, target.string()})), 0);
                expect_ro_overlay(target);
                OVLT_EXPECT_SAME_LIST(record_dirs(state, target), v.mount_dirs("mount-image-" + slug + ".txt"),
                                      "record lowerdir vs containerd's mount");
                OVLT_EXPECT_NO_DIFFS(compare_trees(t / "export", target, docker_init_entries()),
                                     "image mount vs docker export of a container of it");
                expect_umount(state, target);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_container_is_its_writable_and_init_snapshots_on_the_image_chain) {
    for (const Variant& v : variants()) {
        const auto ids = v.container_ids();
        const auto inspects = v.containers_inspect();
        for (const auto& [name, id] : ids) {
            const auto expected = v.mount_dirs("mount-container-" + name + ".txt");
            const std::string prefix = id.substr(0, 12);
            BOOST_TEST_REQUIRE(std::count_if(ids.begin(), ids.end(),
                                             [&](const auto& each) { return each.second.starts_with(prefix); }) == 1);
            TempDir t("d29ctr");
            extract_export(v, name, t / "export");
            for (const std::string& ref : {name, "/" + name, id, prefix}) {
                BOOST_TEST_CONTEXT("variant " << v.name << " container " << name << " as " << quote(ref)) {
                    const fs::path state = t / "state";
                    const fs::path target = t / "mnt";
                    fs::create_directories(target);
                    OVLT_REQUIRE_EXIT(ovl29(v.args(state, {"container", ref, target.string()})), 0);
                    expect_ro_overlay(target);
                    const auto list = records(state);
                    const auto& rec = record_of(list, target);
                    BOOST_TEST(jstr(rec, "source") == "container");
                    BOOST_TEST(jstr(rec, "store") == "docker");
                    BOOST_TEST(jstr(rec, "container_id") == id);
                    BOOST_TEST(jstr(rec, "image_id") == ostr(inspects.at(id), "Image"));
                    OVLT_EXPECT_SAME_LIST(record_dirs(state, target), expected,
                                          "record lowerdir vs containerd's upperdir, then lowerdir");
                    if (ref == name) {
                        OVLT_EXPECT_NO_DIFFS(compare_trees(t / "export", target, {}), "container mount vs docker export");
                        expect_writes_refused(target, "etc/group");
                    }
                    expect_umount(state, target);
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(volumes_binds_the_named_volume_docker_mounted) {
    for (const Variant& v : variants()) {
        BOOST_TEST_CONTEXT("variant " << v.name) {
            const std::string id = v.container_ids().at(kChanged);
            const auto mounts = v.containers_inspect().at(id).at("Mounts").as_array();
            BOOST_TEST_REQUIRE(mounts.size() == 1u);
            const auto& volume = mounts.front().as_object();
            BOOST_TEST_REQUIRE(ostr(volume, "Type") == "volume");
            const fs::path source = v.translate(ostr(volume, "Source"));
            TempDir t("d29vol");
            const fs::path state = t / "state";
            const fs::path target = t / "mnt";
            fs::create_directories(target);
            OVLT_REQUIRE_EXIT(ovl29(v.args(state, {"container", "--volumes", kChanged, target.string()})), 0);
            const fs::path inside = target / ostr(volume, "Destination").substr(1);
            BOOST_TEST(trim(read_file(inside / "file")) == "in-volume");
            OVLT_EXPECT_NO_DIFFS(compare_trees(source, inside, {}), "the bound volume vs Docker's volume dir");
            expect_writes_refused(inside, "file");
            expect_umount(state, target);
            BOOST_TEST(mounts_below(t.path()).empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(export_is_dockers_export_and_owner_takes_a_snapshot_number) {
    for (const Variant& v : variants()) {
        BOOST_TEST_CONTEXT("variant " << v.name) {
            TempDir t("d29exp");
            extract_export(v, kChanged, t / "theirs");
            const fs::path tarball = t / "ours.tar";
            OVLT_REQUIRE_EXIT(ovl29(v.args(t / "state", {"export", "-o", tarball.string(), kChanged})), 0);
            fs::create_directories(t / "ours");
            OVLT_REQUIRE_EXIT(run({"tar", "-C", (t / "ours").string(), "--numeric-owner", "-xpf", tarball.string()}), 0);
            OVLT_EXPECT_NO_DIFFS(compare_trees(t / "theirs", t / "ours", {}), "ovlmount export vs docker export");

            const auto dirs = v.mount_dirs("mount-image-built.txt");
            BOOST_TEST_REQUIRE(dirs.size() == 3u, "d29-built's own mount has not 3 dirs");
            const std::string snapshot = fs::path(dirs[1]).parent_path().filename().string();
            Result owner = ovl29(v.args(t / "state", {"owner", "--json", snapshot}));
            OVLT_REQUIRE_EXIT(owner, 0);
            std::set<std::string> users;
            const auto rows = parse_json(owner.out, "owner --json");
            for (const auto& row : rows.as_array())
                users.insert(jstr(row, "kind") + " " + (jstr(row, "kind") == "container" ? jstr(row, "name") : jstr(row, "id")));
            BOOST_TEST(users.contains("image " + v.image_row("d29-built:latest").id), owner.out);
            BOOST_TEST(users.contains("container d29-created-built"), owner.out);
        }
    }
}

BOOST_AUTO_TEST_CASE(diff_is_dockers_diff) {
    for (const Variant& v : variants()) {
        BOOST_TEST_CONTEXT("variant " << v.name) {
            TempDir t("d29diff");
            const auto expected = sorted(lines_of(read_file(v.oracle("diff-d29-changes.txt")), false));
            Result r = ovl29(v.args(t / "state", {"diff", kChanged}));
            OVLT_REQUIRE_EXIT(r, 0);
            OVLT_EXPECT_SAME_LIST(sorted(lines_of(r.out, false)), expected, "diff lines (as a set)");
            std::vector<std::string> from_json;
            const auto changes = ovl29_json(v.args(t / "state", {"diff", "--json", kChanged}));
            for (const auto& change : changes.as_array())
                from_json.push_back(jstr(change, "kind") + " " + jstr(change, "path"));
            OVLT_EXPECT_SAME_LIST(sorted(from_json), expected, "diff --json (as a set)");
        }
    }
}

BOOST_AUTO_TEST_CASE(images_and_containers_are_listed_as_docker_lists_them_in_one_docker_store) {
    for (const Variant& v : variants()) {
        BOOST_TEST_CONTEXT("variant " << v.name) {
            TempDir t("d29list");
            const auto docker_images = v.images_inspect();
            const auto listed = ovl29_json(v.args(t / "state", {"images", "--json"}));
            const auto images = by_id(listed);
            OVLT_EXPECT_SAME_LIST(keys(images), keys(docker_images), "image IDs vs docker images -a");
            BOOST_TEST(listed.as_array().size() == docker_images.size(), "an image is listed twice (by a second store?)");
            std::vector<std::string> in_order;
            for (const auto& e : listed.as_array()) in_order.push_back(jstr(e, "id"));
            BOOST_TEST((in_order == sorted(in_order)), "images --json is not sorted by ID");
            for (const auto& [id, e] : images) {
                if (!docker_images.contains(id)) continue;
                const auto& insp = docker_images.at(id);
                BOOST_TEST_CONTEXT("image " << id) {
                    BOOST_TEST(jstr(e, "store") == "docker");
                    OVLT_EXPECT_SAME_LIST(sorted(jstrings(e, "references")), docker_image_refs(insp),
                                          "references vs RepoTags and RepoDigests");
                    // d29-built has 2 diff_ids and 3 snapshots; which one `layers` counts is open.
                    const auto diff_ids = static_cast<std::int64_t>(diff_ids_of(insp).size());
                    const std::int64_t layers = json_int(e.at("layers"));
                    BOOST_TEST((layers == diff_ids || (ostr(insp, "Id") == v.image_row("d29-built:latest").id &&
                                                       layers == diff_ids + 1)),
                               "layers " << layers << ", docker's diff_ids " << diff_ids);
                    BOOST_TEST(rfc3339_ns(jstr(e, "created")) == rfc3339_ns(ostr(insp, "Created")));
                    BOOST_TEST(e.at("problem").is_null(), boost::json::serialize(e));
                }
            }

            const auto docker_containers = v.containers_inspect();
            const auto containers = by_id(ovl29_json(v.args(t / "state", {"containers", "--json"})));
            OVLT_EXPECT_SAME_LIST(keys(containers), keys(docker_containers), "container IDs vs docker ps -a");
            for (const auto& [id, e] : containers) {
                if (!docker_containers.contains(id)) continue;
                const auto& insp = docker_containers.at(id);
                BOOST_TEST_CONTEXT("container " << id) {
                    const std::string name = ostr(insp, "Name").substr(1);
                    const auto dirs = v.mount_dirs("mount-container-" + name + ".txt");
                    BOOST_TEST(jstr(e, "store") == "docker");
                    BOOST_TEST(jstr(e, "name") == name);
                    BOOST_TEST(jstr(e, "image_id") == ostr(insp, "Image"));
                    BOOST_TEST(jstr(e, "image") == ostr(insp.at("Config").as_object(), "Image"));
                    BOOST_TEST(jstr(e, "state") == ostr(insp.at("State").as_object(), "Status"));
                    BOOST_TEST(rfc3339_ns(jstr(e, "created")) == rfc3339_ns(ostr(insp, "Created")));
                    BOOST_TEST(jstr(e, "mount_id") == fs::path(dirs.front()).parent_path().filename().string(),
                               "mount_id: the writable snapshot's directory");
                    BOOST_TEST(e.at("problem").is_null(), boost::json::serialize(e));
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(inspect_walks_the_stack_docker_mounts) {
    for (const Variant& v : variants()) {
        const auto ids = v.container_ids();
        const auto inspects = v.containers_inspect();
        const auto images = v.images_inspect();
        for (const std::string& name : {kChanged, std::string("d29-created-built")}) {
            BOOST_TEST_CONTEXT("variant " << v.name << " container " << name) {
                TempDir t("d29insp");
                const std::string id = ids.at(name);
                const auto& insp = inspects.at(id);
                const auto expected = v.mount_dirs("mount-container-" + name + ".txt");
                const auto r = ovl29_json(v.args(t / "state", {"inspect", "--json", name}));
                BOOST_TEST(jstr(r, "kind") == "container");
                BOOST_TEST(jstr(r, "image_id") == ostr(insp, "Image"));
                const auto layers = layers_top_first(r);
                OVLT_EXPECT_SAME_LIST(canonical(paths_of(layers)), expected, "layer paths (top first)");
                BOOST_TEST_REQUIRE(layers.size() == expected.size());
                for (std::size_t i = 0; i < layers.size(); ++i)
                    BOOST_TEST(json_int(layers[i].at("index")) == static_cast<std::int64_t>(layers.size() - i));
                BOOST_TEST(jstr(layers.at(0), "role") == "writable");
                BOOST_TEST(jstr(layers.at(1), "role") == "init");
                OVLT_EXPECT_SAME_LIST(layer_diff_ids(r), diff_ids_of(images.at(ostr(insp, "Image"))),
                                      "diff_ids of the layers that have one");
                if (name == kChanged)
                    for (std::size_t i = 2; i < layers.size(); ++i) BOOST_TEST(jstr(layers[i], "role") == "image");
                const auto& c = jat(r, "container");
                BOOST_TEST(jstr(c, "id") == id);
                BOOST_TEST(jstr(c, "name") == name);
                BOOST_TEST(jstr(c, "state") == ostr(insp.at("State").as_object(), "Status"));
                BOOST_TEST(rfc3339_ns(jstr(c, "created")) == rfc3339_ns(ostr(insp, "Created")));
                BOOST_TEST(jstr(c, "mount_id") == fs::path(expected.at(0)).parent_path().filename().string());
                BOOST_TEST(jstr(c, "init_id") == fs::path(expected.at(1)).parent_path().filename().string());
            }
        }
        BOOST_TEST_CONTEXT("variant " << v.name << " image " << kMultiRef) {
            TempDir t("d29insp");
            const auto insp = v.image_inspect("multi");
            const auto r = ovl29_json(v.args(t / "state", {"inspect", "--json", kMultiRef}));
            BOOST_TEST(jstr(r, "kind") == "image");
            BOOST_TEST(jstr(r, "image_id") == ostr(insp, "Id"));
            BOOST_TEST(jstr(r, "config_digest") == "ok");
            BOOST_TEST(rfc3339_ns(jstr(r, "created")) == rfc3339_ns(ostr(insp, "Created")));
            OVLT_EXPECT_SAME_LIST(sorted(jstrings(r, "references")), docker_image_refs(insp), "references");
            OVLT_EXPECT_SAME_LIST(canonical(jstrings(r, "lowerdir")), v.mount_dirs("mount-image-multi.txt"), "lowerdir");
        }
    }
}

BOOST_AUTO_TEST_CASE(variant_b_without_its_containerd_root_is_not_found_saying_so) {
    const Variant& b = variants().at(1);
    TempDir t("d29nocr");
    for (const auto& command : std::vector<std::vector<std::string>>{{"images"}, {"resolve", kMultiRef}}) {
        std::vector<std::string> args{"--data-root", b.data_root().string(), "--state-dir", (t / "state").string()};
        args.insert(args.end(), command.begin(), command.end());
        Result r = ovl29(args);
        OVLT_EXPECT_EXIT(r, 3);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        BOOST_TEST(r.err.find("--containerd-root") != std::string::npos, r.describe());
    }
}

BOOST_AUTO_TEST_CASE(host_root_finds_the_docker_store_its_configs_name_and_only_it) {
    for (const Variant& v : variants()) {
        BOOST_TEST_CONTEXT("variant " << v.name) {
            // A host whose daemon.json (and for b, config.toml) name /v/docker and /v/containerd,
            // with the variant bound read-only at /v.
            TempDir t("d29host");
            const fs::path host = t / "host";
            fs::create_directories(host / "etc/docker");
            fs::create_directories(host / "v");
            write_file(host / "etc/docker/daemon.json",
                       R"({"data-root":"/v/docker","features":{"containerd-snapshotter":true}})"
                       "\n");
            if (v.name == "b") {
                fs::create_directories(host / "etc/containerd");
                write_file(host / "etc/containerd/config.toml", "version = 2\nroot = \"/v/containerd\"\n");
            }
            BOOST_TEST_REQUIRE(::mount(v.base.c_str(), (host / "v").c_str(), nullptr, MS_BIND, nullptr) == 0,
                               "bind mount of the variant: " << std::strerror(errno));
            BOOST_TEST_REQUIRE(::mount(nullptr, (host / "v").c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) == 0,
                               "read-only remount: " << std::strerror(errno));
            const fs::path under = canon(host / "v");
            const auto on_host = [&](std::vector<std::string> command) {
                std::vector<std::string> args{"--host-root", host.string(), "--state-dir", (t / "state").string()};
                args.insert(args.end(), command.begin(), command.end());
                return ovl29(args);
            };

            Result images = on_host({"images", "--json"});
            OVLT_REQUIRE_EXIT(images, 0);
            std::set<std::string> stores;
            const auto listed = parse_json(images.out, "images --json");
            for (const auto& e : listed.as_array()) stores.insert(jstr(e, "store"));
            BOOST_TEST((stores == std::set<std::string>{"docker"}),
                       "stores listed: " << joined(std::vector<std::string>(stores.begin(), stores.end())));
            OVLT_EXPECT_SAME_LIST(keys(by_id(listed)), keys(v.images_inspect()), "image IDs vs docker images -a");
            BOOST_TEST(listed.as_array().size() == v.images_inspect().size(), "an image is listed twice");

            Result containers = on_host({"containers", "--json"});
            OVLT_REQUIRE_EXIT(containers, 0);
            OVLT_EXPECT_SAME_LIST(keys(by_id(parse_json(containers.out, "containers --json"))),
                                  keys(v.containers_inspect()), "container IDs vs docker ps -a");

            Result resolved = on_host({"resolve", "--json", kMultiRef});
            OVLT_REQUIRE_EXIT(resolved, 0);
            const auto r = parse_json(resolved.out, "resolve --json");
            BOOST_TEST(jstr(r, "image_id") == v.image_row(kMultiRef).id);
            BOOST_TEST(canon(jstr(r, "data_root")) ==
                       canon(under / (v.name == "a" ? "docker/containerd/daemon" : "containerd")));
            OVLT_EXPECT_SAME_LIST(canonical(jstrings(r, "lowerdir")), v.mount_dirs("mount-image-multi.txt", under),
                                  "lowerdir vs containerd's mount, below the host root");

            Result inspected = on_host({"inspect", "--json", kChanged});
            OVLT_REQUIRE_EXIT(inspected, 0);
            OVLT_EXPECT_SAME_LIST(canonical(paths_of(layers_top_first(parse_json(inspected.out, "inspect --json")))),
                                  v.mount_dirs("mount-container-" + kChanged + ".txt", under),
                                  "container layers vs containerd's mount, below the host root");
        }
    }
}

BOOST_AUTO_TEST_CASE(verify_checks_image_layers_against_their_blobs) {
    for (const Variant& v : variants()) {
        for (const auto& [slug, ref] : kImages) {
            BOOST_TEST_CONTEXT("variant " << v.name << " image " << ref) {
                TempDir t("d29ver");
                Result r = ovl29(v.args(t / "state", {"verify", "--json", ref}));
                OVLT_EXPECT_EXIT(r, 0);
                const auto report = parse_json(r.out, "verify --json");
                BOOST_TEST(jat(report, "ok") == true);
                std::vector<std::string> actual;
                for (const auto& layer : jat(report, "layers").as_array()) {
                    if (!jat(layer, "diff_id").is_string()) {
                        BOOST_TEST(jstr(layer, "status") == "not covered", boost::json::serialize(layer));
                        continue;
                    }
                    BOOST_TEST(jstr(layer, "status") == "ok", boost::json::serialize(layer));
                    actual.push_back(jat(layer, "actual").is_string() ? jstr(layer, "actual") : "null");
                }
                OVLT_EXPECT_SAME_LIST(actual, diff_ids_of(v.image_inspect(slug)), "digests of the blobs' streams vs diff_ids");
            }
        }
        BOOST_TEST_CONTEXT("variant " << v.name << " container " << kChanged) {
            TempDir t("d29ver");
            Result r = ovl29(v.args(t / "state", {"verify", "--json", kChanged}));
            OVLT_EXPECT_EXIT(r, 0);
            const auto report = parse_json(r.out, "verify --json");
            for (const auto& layer : jat(report, "layers").as_array()) {
                const std::string role = jstr(layer, "role");
                const std::string want = role == "image" ? "ok" : "not covered";
                BOOST_TEST(jstr(layer, "status") == want, boost::json::serialize(layer));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(verify_names_a_changed_file_of_an_image_snapshot) {
    TempDir t("d29vbad");
    const Variant copy = variants().at(0).copy_to(t / "copy");
    const fs::path top = copy.mount_dirs("mount-image-multi.txt").front();
    const fs::path victim = some_file(top);
    std::string bytes = read_file(victim);
    bytes[0] = static_cast<char>(bytes[0] ^ 0x20);
    write_file(victim, bytes);
    Result r = ovl29(copy.args(t / "state", {"verify", kMultiRef}));
    OVLT_EXPECT_EXIT(r, 4);
    BOOST_TEST(r.out.find(fs::relative(victim, top).string()) != std::string::npos, r.describe());
    BOOST_TEST(r.out.find("verify: FAILED") != std::string::npos, r.describe());
}

BOOST_AUTO_TEST_CASE(a_manifest_blob_that_is_not_its_digest_is_exit_4_naming_it) {
    TempDir t("d29man");
    const Variant copy = variants().at(0).copy_to(t / "copy");
    const std::string hex = copy.image_row(kMultiRef).id.substr(7);
    const fs::path blob = copy.containerd_root() / "io.containerd.content.v1.content/blobs/sha256" / hex;
    std::string manifest = read_file(blob);
    // Same size, still valid JSON, only its digest tells: one digit of a layer's size.
    const auto at = manifest.rfind("\"size\":");
    BOOST_TEST_REQUIRE(at != std::string::npos);
    char& digit = manifest.at(at + 7);
    BOOST_TEST_REQUIRE(std::isdigit(static_cast<unsigned char>(digit)) != 0);
    digit = digit == '1' ? '2' : '1';
    write_file(blob, manifest);

    const fs::path target = t / "mnt";
    fs::create_directories(target);
    for (const auto& command : std::vector<std::vector<std::string>>{
             {"resolve", "--json", kMultiRef}, {"mount", kMultiRef, target.string()}, {"inspect", kMultiRef}}) {
        Result r = ovl29(copy.args(t / "state", command));
        OVLT_EXPECT_EXIT(r, 4);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        BOOST_TEST(r.err.find(hex) != std::string::npos, "the error does not name the blob: " << r.describe());
    }
    BOOST_TEST(mounts_below(t.path()).empty());
    Result listed = ovl29(copy.args(t / "state", {"images", "--json"}));
    OVLT_EXPECT_EXIT(listed, 4);
    boost::json::error_code ec;
    const auto listing = boost::json::parse(listed.out, ec);
    BOOST_TEST_REQUIRE((!ec && listing.is_array()), "images --json lists every image, the broken one with its problem: "
                                                        << listed.describe());
    for (const auto& [id, e] : by_id(listing))
        BOOST_TEST(e.at("problem").is_null() == (id != "sha256:" + hex), boost::json::serialize(e));
}

// Replaces every `from` in the file at `path` with `to` (same length, so a bolt page keeps its
// layout); the number of replacements.
size_t replace_in_file(const fs::path& path, const std::string& from, const std::string& to) {
    BOOST_TEST_REQUIRE(from.size() == to.size());
    std::string bytes = read_file(path);
    size_t count = 0;
    for (size_t at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + to.size())) {
        bytes.replace(at, from.size(), to);
        ++count;
    }
    write_file(path, bytes);
    return count;
}

BOOST_AUTO_TEST_CASE(a_snapshot_chain_loop_in_both_bolt_files_is_exit_4) {
    TempDir t("d29loop");
    const Variant copy = variants().at(0).copy_to(t / "copy");
    std::vector<std::string> chain;
    for (const std::string& diff : diff_ids_of(copy.image_inspect("multi")))
        chain.push_back(chain.empty() ? diff : "sha256:" + sha256_hex(chain.back() + " " + diff));
    const fs::path meta_db = copy.containerd_root() / "io.containerd.metadata.v1.bolt/meta.db";
    const fs::path snap_db = copy.containerd_root() / "io.containerd.snapshotter.v1.overlayfs/metadata.db";
    const std::string snapshots = read_file(snap_db);
    // The snapshotter's key of a chain ID: "moby/<seq>/<chain ID>", as a key in metadata.db.
    const auto snap_key = [&](const std::string& chain_id) {
        const size_t end = snapshots.find("/" + chain_id);
        BOOST_TEST_REQUIRE(end != std::string::npos, "no snapshotter key of " << chain_id);
        size_t begin = end;
        while (begin > 0 && std::isdigit(static_cast<unsigned char>(snapshots[begin - 1])) != 0) --begin;
        BOOST_TEST_REQUIRE(snapshots.compare(begin - 5, 5, "moby/") == 0);
        return snapshots.substr(begin - 5, end + 1 + chain_id.size() - (begin - 5));
    };
    // A level whose parent's key has as many digits as its own: it becomes its own parent.
    size_t level = 1;
    while (level < chain.size() && snap_key(chain[level]).size() != snap_key(chain[level - 1]).size()) ++level;
    BOOST_TEST_REQUIRE(level < chain.size());
    BOOST_TEST(replace_in_file(meta_db, "parent" + chain[level - 1], "parent" + chain[level]) >= 1u);
    BOOST_TEST(replace_in_file(snap_db, "parent" + snap_key(chain[level - 1]), "parent" + snap_key(chain[level])) >= 1u);

    const fs::path target = t / "mnt";
    fs::create_directories(target);
    for (const auto& command : std::vector<std::vector<std::string>>{
             {"resolve", "--json", kMultiRef}, {"mount", kMultiRef, target.string()}, {"container", kChanged, target.string()}}) {
        Result r = ovl29(copy.args(t / "state", command));
        OVLT_EXPECT_EXIT(r, 4);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        BOOST_TEST(r.err.find("loop") != std::string::npos, r.describe());
    }
    BOOST_TEST(mounts_below(t.path()).empty());
}

BOOST_AUTO_TEST_CASE(a_container_config_whose_image_is_not_a_string_is_exit_4) {
    TempDir t("d29cfg");
    const Variant copy = variants().at(0).copy_to(t / "copy");
    const std::string id = copy.container_ids().at(kChanged);
    const fs::path config = copy.data_root() / "containers" / id / "config.v2.json";
    std::string text = read_file(config);
    const std::string image = "\"Image\":\"" + copy.image_row(kMultiRef).id + "\"";
    const auto at = text.find(image);
    BOOST_TEST_REQUIRE(at != std::string::npos, "no " << image << " in " << config);
    text.replace(at, image.size(), "\"Image\":5");
    write_file(config, text);

    // Named by ID, as container_test names a container whose config is unreadable.
    const fs::path target = t / "mnt";
    fs::create_directories(target);
    for (const auto& command : std::vector<std::vector<std::string>>{
             {"container", id, target.string()}, {"inspect", id}, {"diff", id.substr(0, 12)}}) {
        Result r = ovl29(copy.args(t / "state", command));
        OVLT_EXPECT_EXIT(r, 4);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        BOOST_TEST(r.err.find(id) != std::string::npos, "the error does not name the config: " << r.describe());
    }
    BOOST_TEST(mounts_below(t.path()).empty());
    Result listed = ovl29(copy.args(t / "state", {"containers", "--json"}));
    OVLT_EXPECT_EXIT(listed, 4);
    const auto listing = parse_json(listed.out, "containers --json");
    for (const auto& [each, e] : by_id(listing))
        BOOST_TEST(e.at("problem").is_null() == (each != id), boost::json::serialize(e));
}

BOOST_AUTO_TEST_CASE(no_command_changes_anything_in_the_store) {
    // On a strictatime tmpfs every access shows as an atime change.
    TempDir t("d29ev");
    const fs::path fs_dir = t / "fs";
    fs::create_directories(fs_dir);
    BOOST_TEST_REQUIRE(::mount("tmpfs", fs_dir.c_str(), "tmpfs", MS_STRICTATIME, "mode=0755") == 0);
    auto m = mount_at(fs_dir);
    BOOST_TEST_REQUIRE((m && !m->has_option("relatime") && !m->has_option("noatime")), "the tmpfs is not strictatime");
    const Variant copy = variants().at(0).copy_to(fs_dir / "variant-a");
    const fs::path state = t / "state";
    const Snapshot before = snapshot(copy.base, true);

    const fs::path image_target = t / "mnt/image";
    const fs::path container_target = t / "mnt/container";
    fs::create_directories(image_target);
    fs::create_directories(container_target);
    const std::vector<std::vector<std::string>> commands{
        {"images", "--json"},
        {"containers", "--json"},
        {"resolve", "--json", kMultiRef},
        {"resolve", "--json", "d29-built:latest"},
        {"inspect", "--json", kChanged},
        {"diff", kChanged},
        {"verify", "--json", kMultiRef},
        {"verify", kChanged},
        {"mount", kMultiRef, image_target.string()},
        {"container", kChanged, container_target.string()},
        {"list", "--json"},
    };
    for (const auto& command : commands) OVLT_EXPECT_EXIT(ovl29(copy.args(state, command)), 0);
    BOOST_TEST(read_every_file(image_target) > 0u);
    BOOST_TEST(read_every_file(container_target) > 0u);
    for (const fs::path& target : {image_target, container_target})
        OVLT_EXPECT_EXIT(ovl29({"--state-dir", state.string(), "umount", target.string()}), 0);
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(copy.base, true)), "the store copy changed");
}

BOOST_AUTO_TEST_SUITE_END()
