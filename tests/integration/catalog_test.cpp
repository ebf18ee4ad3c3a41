// The catalog commands: `images`, `containers` and `inspect` answer what Docker itself answers
// about every image and container of the data root (docker images -a, docker ps -a, docker
// image/container inspect, and the raw files of the store), and a broken entry is listed with
// its problem without hiding the others.
#define BOOST_TEST_MODULE ovlmount_integration_catalog
#include "itest.hpp"

#include <algorithm>
#include <cctype>

using namespace ovltest;

namespace {

bool is_hex(std::string_view s, std::size_t n) {
    return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

std::string dstr(const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return (v != nullptr && v->is_string()) ? std::string(v->as_string()) : std::string();
}

// The entries of a listing (an array of objects with "id") by ID.
std::map<std::string, boost::json::object> by_id(const boost::json::value& v, const std::string& what) {
    if (!v.is_array()) throw std::runtime_error(what + " is not a JSON array: " + boost::json::serialize(v));
    std::map<std::string, boost::json::object> out;
    for (const auto& e : v.as_array()) out[jstr(e, "id")] = e.as_object();
    return out;
}

std::vector<std::string> ids_in_order(const boost::json::value& v) {
    std::vector<std::string> out;
    for (const auto& e : v.as_array()) out.push_back(jstr(e, "id"));
    return out;
}

// stderr of a listing with problems: one "ovlmount: " line per problem at most.
void expect_problem_lines(const Result& r, std::size_t problems) {
    auto ls = lines_of(r.err, false);
    BOOST_TEST(ls.size() <= problems, "more stderr lines than problems: " << r.describe());
    for (const auto& l : ls) BOOST_TEST(l.rfind("ovlmount: ", 0) == 0, "stderr line: " << l);
}

// Checks one `images --json` entry against docker image inspect.
void expect_image_entry(const boost::json::object& e, const boost::json::object& insp) {
    OVLT_EXPECT_SAME_LIST(sorted(jstrings(e, "references")), docker_image_refs(insp), "references");
    BOOST_TEST(json_int(e.at("layers")) ==
               static_cast<std::int64_t>(insp.at("RootFS").as_object().at("Layers").as_array().size()));
    BOOST_TEST(json_int(e.at("size")) == json_int(insp.at("Size")));
    BOOST_TEST(rfc3339_ns(jstr(e, "created")) == rfc3339_ns(dstr(insp, "Created")),
               "created " << jstr(e, "created") << ", docker says " << dstr(insp, "Created"));
    BOOST_TEST(e.at("problem").is_null(), boost::json::serialize(e));
}

// Checks one `containers --json` entry against docker container inspect.
void expect_container_entry(const boost::json::object& e, const boost::json::object& insp) {
    std::string name = dstr(insp, "Name");
    if (!name.empty() && name[0] == '/') name.erase(0, 1);
    BOOST_TEST(jstr(e, "name") == name);
    BOOST_TEST(jstr(e, "image_id") == dstr(insp, "Image"));
    BOOST_TEST(jstr(e, "image") == dstr(insp.at("Config").as_object(), "Image"));
    BOOST_TEST(jstr(e, "state") == dstr(insp.at("State").as_object(), "Status"));
    BOOST_TEST(rfc3339_ns(jstr(e, "created")) == rfc3339_ns(dstr(insp, "Created")),
               "created " << jstr(e, "created") << ", docker says " << dstr(insp, "Created"));
    BOOST_TEST(jstr(e, "mount_id") == layer_dir_name(graph_dirs(insp).front()));
    BOOST_TEST(e.at("problem").is_null(), boost::json::serialize(e));
}

// A copy of the data root for a test to damage, and every image and container ID Docker lists.
struct DamagedCopy {
    TempDir t{"cat"};
    fs::path root = t / "root";
    std::vector<std::string> image_ids, container_ids;
    DamagedCopy() {
        copy_data_root(root);
        image_ids = docker_all_image_ids();
        container_ids = docker_all_container_ids();
    }
};

// One kind of catalog entry: `<kind>s` lists them, Docker inspects many at once, and a healthy
// entry is checked against Docker's inspect object.
struct Listing {
    std::string kind;          // "image" or "container"
    std::string docker_lists;  // how Docker lists them all: "docker images -a"
    std::map<std::string, boost::json::object> (*docker_inspect)(const std::vector<std::string>&);
    void (*expect_entry)(const boost::json::object& entry, const boost::json::object& insp);
};
const Listing kImages{"image", "docker images -a", docker_inspect_images, expect_image_entry};
const Listing kContainers{"container", "docker ps -a", docker_inspect_containers, expect_container_entry};

// A listing by ID, and Docker's inspect object of each ID.
struct Listed {
    std::map<std::string, boost::json::object> entries, docker;
};

// `out`, the `<kind>s --json` of the live data root, against `ids`, every ID Docker lists:
// sorted by ID, exactly those IDs, each entry as Docker's inspect has it (an entry Docker does
// not know is reported by the ID comparison alone).
Listed expect_listed_as_docker(const Listing& l, const std::string& out, const std::vector<std::string>& ids) {
    const std::string what = l.kind + "s --json";
    const auto v = parse_json(out, what);
    Listed got{by_id(v, what), {}};
    const auto order = ids_in_order(v);
    BOOST_TEST(std::is_sorted(order.begin(), order.end()), what << " is not sorted by ID");
    OVLT_EXPECT_SAME_LIST(sorted(order), ids, l.kind + " IDs: ovlmount " + what + " vs " + l.docker_lists);
    got.docker = l.docker_inspect(ids);
    for (const auto& [id, e] : got.entries) {
        auto it = got.docker.find(id);
        if (it == got.docker.end()) continue;
        BOOST_TEST_CONTEXT(l.kind << " " << id) { l.expect_entry(e, it->second); }
    }
    return got;
}

// The one entry a test damaged in its data root copy, and how its listing may show it.
struct Damaged {
    std::string id;
    bool may_be_left_out = false;   // it need not be listed (an image whose config is gone)
    bool problem_nonempty = true;   // its "problem" must be a non-empty string, not just a string
};

// `<kind>s --json` of the copy `root`: an exit code among `exits`, at most one problem line,
// every ID of `ids` listed (`bad` only if it must be), `bad` with its problem and every other
// entry as Docker has it.
void expect_listing(const Listing& l, const fs::path& root, const std::vector<std::string>& ids, const Damaged& bad,
                    std::initializer_list<int> exits) {
    const std::string command = l.kind + "s";
    Result r = ovl({"--data-root", root.string(), command, "--json"});
    std::vector<std::string> codes;
    for (int e : exits) codes.push_back(std::to_string(e));
    BOOST_TEST((std::find(exits.begin(), exits.end(), r.code) != exits.end()),
               "expected exit " << joined(codes, " or ").substr(4) << ": " << r.describe());
    expect_problem_lines(r, 1);
    const auto listed = by_id(parse_json(r.out, command + " --json"), command + " --json");
    const auto insp = l.docker_inspect(ids);
    for (const auto& id : ids) {
        BOOST_TEST_CONTEXT(l.kind << " " << id) {
            auto it = listed.find(id);
            if (id != bad.id || !bad.may_be_left_out) BOOST_TEST_REQUIRE((it != listed.end()), "not listed");
            if (it == listed.end()) continue;
            if (id != bad.id) {
                l.expect_entry(it->second, insp.at(id));
                continue;
            }
            const auto& problem = it->second.at("problem");
            BOOST_TEST((problem.is_string() && (!bad.problem_nonempty || !problem.as_string().empty())),
                       boost::json::serialize(it->second));
        }
    }
}

// Plain `<command>` of a damaged copy `root`: exit 4, at most one problem line, `shown` still listed.
void expect_plain_listing(const fs::path& root, const std::string& command, const std::string& shown) {
    Result r = ovl({"--data-root", root.string(), command});
    OVLT_EXPECT_EXIT(r, 4);
    expect_problem_lines(r, 1);
    BOOST_TEST(r.out.find(shown) != std::string::npos, r.describe());
}

// The layers of an `inspect --json` answer against Docker's dirs (top first) and the store.
void expect_inspect_layers(const boost::json::value& v, const std::vector<std::string>& dirs_top_first,
                           const std::vector<std::string>& diff_ids, bool container) {
    const auto& layers = jat(v, "layers").as_array();
    std::vector<std::string> bottom_first(dirs_top_first.rbegin(), dirs_top_first.rend());
    BOOST_TEST_REQUIRE(layers.size() == bottom_first.size(), boost::json::serialize(v));
    const fs::path root = data_root();
    std::vector<std::string> paths;
    for (const auto& l : layers) paths.push_back(jstr(l, "path"));
    OVLT_EXPECT_SAME_LIST(paths, bottom_first, "layer paths, bottom first (docker's GraphDriver dirs reversed)");
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const auto& l = layers[i];
        const std::string dir = layer_dir_name(bottom_first[i]);
        BOOST_TEST_CONTEXT("layer " << i + 1 << " (" << dir << ")") {
            BOOST_TEST(json_int(jat(l, "index")) == static_cast<std::int64_t>(i + 1));
            std::string role = "image";
            if (container && i + 1 == layers.size()) role = "writable";
            if (container && i + 2 == layers.size()) role = "init";
            BOOST_TEST(jstr(l, "role") == role);
            BOOST_TEST(jat(l, "exists") == true);
            const fs::path link_file = root / "overlay2" / dir / "link";
            if (fs::exists(link_file))
                BOOST_TEST(jstr(l, "link") == trim(read_file(link_file)));
            else
                BOOST_TEST(jat(l, "link").is_null());
            if (role == "image") {
                BOOST_TEST(jstr(l, "diff_id") == diff_ids.at(i));
                BOOST_TEST(jstr(l, "cache_id") == dir);
                const fs::path ldb = layerdb_dir_of_cache(root, dir);
                BOOST_TEST(jstr(l, "chain_id") == "sha256:" + ldb.filename().string());
                BOOST_TEST(json_int(jat(l, "size")) == std::stoll(trim(read_file(ldb / "size"))));
            }
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(images_json_lists_what_docker_lists) {
    std::vector<std::string> ids;
    Result r;
    {
        DataRootLock lock;  // no test program changes the store meanwhile
        ids = docker_all_image_ids();
        r = ovl({"--data-root", data_root(), "images", "--json"});
    }
    OVLT_REQUIRE_EXIT(r, 0);
    BOOST_TEST(r.err.empty(), r.describe());
    std::vector<std::string> imagedb;
    for (auto& h : imagedb_ids(data_root())) imagedb.push_back("sha256:" + h);
    OVLT_EXPECT_SAME_LIST(imagedb, ids, "self-check: docker images -a vs the imagedb");
    const auto got = expect_listed_as_docker(kImages, r.out, ids).entries;
    // The fixture's references are among them, as Docker spells them.
    const auto& multi = got.at(docker_image_id(kMulti));
    for (const std::string& ref : {kMulti, std::string("ovltest-multi:v2"), std::string("localhost:5000/team/app:v1"),
                                   std::string("registry.local:5000/team/app:v1"), std::string("someuser/app:latest"),
                                   digest_reference()}) {
        auto refs = jstrings(multi, "references");
        BOOST_TEST((std::find(refs.begin(), refs.end(), ref) != refs.end()), ref << " not in " << joined(refs, " "));
    }
}

BOOST_AUTO_TEST_CASE(images_plain_has_one_line_per_image) {
    std::vector<std::string> ids;
    Result r;
    {
        DataRootLock lock;
        ids = docker_all_image_ids();
        r = ovl({"--data-root", data_root(), "images"});
    }
    OVLT_REQUIRE_EXIT(r, 0);
    const auto insp = docker_inspect_images(ids);
    std::map<std::string, std::string> line_of;  // 12-char ID -> line
    std::size_t id_lines = 0;
    const auto ls = lines_of(r.out, false);
    for (std::size_t i = 0; i < ls.size(); ++i) {
        auto w = words(ls[i]);
        if (!w.empty() && is_hex(w[0], 12)) {
            ++id_lines;
            line_of[w[0]] = ls[i];
        } else {
            BOOST_TEST(i == 0, "a line that is neither the header nor an image: " << ls[i]);
        }
    }
    BOOST_TEST(id_lines == ids.size(), r.describe());
    std::vector<std::string> expect12, got12;
    for (const auto& id : ids) expect12.push_back(id.substr(7, 12));
    for (const auto& [k, l] : line_of) got12.push_back(k);
    OVLT_EXPECT_SAME_LIST(got12, sorted(expect12), "12-char IDs of the plain listing");
    for (const auto& [id, o] : insp) {
        auto it = line_of.find(id.substr(7, 12));
        if (it == line_of.end()) continue;
        BOOST_TEST_CONTEXT("line " << it->second) {
            auto w = words(it->second);
            BOOST_TEST_REQUIRE(w.size() >= 5u);
            BOOST_TEST(w[1] == std::to_string(o.at("RootFS").as_object().at("Layers").as_array().size()), "LAYERS column");
            auto refs = docker_image_refs(o);
            if (refs.empty()) BOOST_TEST(it->second.find("<none>") != std::string::npos);
            for (const auto& ref : refs) BOOST_TEST(it->second.find(ref) != std::string::npos, "reference " << ref);
        }
    }
}

BOOST_AUTO_TEST_CASE(containers_json_lists_what_docker_lists) {
    std::vector<std::string> ids;
    std::string ps;
    Result r, plain;
    {
        DataRootLock lock;
        ids = docker_all_container_ids();
        ps = docker_ok({"ps", "-a", "--no-trunc", "--format", "{{json .}}"});
        r = ovl({"--data-root", data_root(), "containers", "--json"});
        plain = ovl({"--data-root", data_root(), "containers"});
    }
    OVLT_REQUIRE_EXIT(r, 0);
    BOOST_TEST(r.err.empty(), r.describe());
    // Self-check: both ways of asking Docker agree and the fixture's containers are there.
    std::vector<std::string> ps_ids;
    for (const auto& l : lines_of(ps, false)) ps_ids.push_back(jstr(parse_json(l, "docker ps line"), "ID"));
    OVLT_EXPECT_SAME_LIST(sorted(ps_ids), ids, "self-check: docker ps -a --format json vs -q");
    for (const auto& n : {kChanges, kVols, kCreated})
        BOOST_TEST((std::find(ids.begin(), ids.end(), docker_container_id(n)) != ids.end()), "fixture container " << n);

    const auto [got, insp] = expect_listed_as_docker(kContainers, r.out, ids);
    BOOST_TEST(jstr(got.at(docker_container_id(kCreated)), "state") == "created");
    BOOST_TEST(jstr(got.at(docker_container_id(kChanges)), "state") == "exited");

    // Plain: each container's 12-char ID and name on one line.
    OVLT_EXPECT_EXIT(plain, 0);
    std::size_t id_lines = 0;
    for (const auto& l : lines_of(plain.out, false)) {
        auto w = words(l);
        if (!w.empty() && is_hex(w[0], 12)) ++id_lines;
    }
    BOOST_TEST(id_lines == ids.size(), plain.describe());
    for (const auto& [id, o] : insp) {
        std::string name = dstr(o, "Name").substr(1);
        bool found = false;
        for (const auto& l : lines_of(plain.out, false)) {
            auto w = words(l);
            if (!w.empty() && w[0] == id.substr(0, 12) && std::find(w.begin(), w.end(), name) != w.end()) found = true;
        }
        BOOST_TEST(found, "no line with " << id.substr(0, 12) << " and " << name << ":\n" << plain.out);
    }
}

BOOST_AUTO_TEST_CASE(broken_entries_are_listed_with_their_problem) {
    // A copy with a truncated container config and an image config with one byte changed.
    const DamagedCopy copy;
    const fs::path& root = copy.root;
    const std::string bad_container = docker_container_id(kCreated);
    const std::string bad_image = docker_image_id(kDeep);
    {
        const fs::path cfg = root / "containers" / bad_container / "config.v2.json";
        std::string s = read_file(cfg);
        write_file(cfg, s.substr(0, s.size() / 2));
        change_created_digit(root, bad_image);
    }
    const Snapshot before = snapshot(root, false);

    expect_listing(kImages, root, copy.image_ids, {bad_image}, {4});
    expect_plain_listing(root, "images", docker_image_id(kMulti).substr(7, 12));
    expect_listing(kContainers, root, copy.container_ids, {bad_container}, {4});
    expect_plain_listing(root, "containers", kChanges);
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(root, false)), "the data root copy changed");
}

BOOST_AUTO_TEST_CASE(missing_files_are_listed_with_their_problem) {
    // A copy without one image's config (still named in repositories.json) and without one
    // container's config.v2.json.
    const DamagedCopy copy;
    const fs::path& root = copy.root;
    const std::string gone_image = docker_image_id(kDeep);
    const std::string gone_container = docker_container_id(kVols);
    fs::remove(root / "image/overlay2/imagedb/content/sha256" / gone_image.substr(7));
    fs::remove(root / "containers" / gone_container / "config.v2.json");

    expect_listing(kImages, root, copy.image_ids, {gone_image, true, false}, {3, 4});
    expect_listing(kContainers, root, copy.container_ids, {gone_container, false, false}, {3, 4});
}

BOOST_AUTO_TEST_CASE(inspect_image_walks_dockers_layers) {
    const auto insp = docker_inspect_images({docker_image_id(kMulti)}).begin()->second;
    const auto v = ovl_json({"--data-root", data_root(), "inspect", "--json", kMulti});
    BOOST_TEST(jstr(v, "kind") == "image");
    BOOST_TEST(jstr(v, "image_id") == dstr(insp, "Id"));
    BOOST_TEST(jstr(v, "config_digest") == "ok");
    BOOST_TEST(rfc3339_ns(jstr(v, "created")) == rfc3339_ns(dstr(insp, "Created")));
    OVLT_EXPECT_SAME_LIST(sorted(jstrings(v, "references")), docker_image_refs(insp), "references");
    OVLT_EXPECT_SAME_LIST(jstrings(v, "lowerdir"), graph_dirs(insp), "lowerdir (top first)");
    expect_inspect_layers(v, graph_dirs(insp), docker_diff_ids(kMulti), false);

    Result plain = ovl({"--data-root", data_root(), "inspect", kMulti});
    OVLT_EXPECT_EXIT(plain, 0);
    for (const auto& d : graph_dirs(insp))
        BOOST_TEST(plain.out.find(layer_dir_name(d).substr(0, 12)) != std::string::npos, "cache-id " << layer_dir_name(d));
}

BOOST_AUTO_TEST_CASE(inspect_container_walks_dockers_layers_and_volumes) {
    for (const std::string& name : {kChanges, kVols}) {
        BOOST_TEST_CONTEXT("container " << name) {
            const std::string id = docker_container_id(name);
            const auto insp = docker_inspect_containers({id}).begin()->second;
            const std::string image_id = dstr(insp, "Image");
            const auto dirs = graph_dirs(insp);  // writable, init, image layers (top first)
            const auto v = ovl_json({"--data-root", data_root(), "inspect", "--json", name});
            BOOST_TEST(jstr(v, "kind") == "container");
            BOOST_TEST(jstr(v, "image_id") == image_id);
            expect_inspect_layers(v, dirs, docker_diff_ids(image_id), true);

            const auto& c = jat(v, "container");
            const std::string mount_id = layer_dir_name(dirs.front());
            BOOST_TEST(jstr(c, "id") == id);
            BOOST_TEST(jstr(c, "name") == name);
            BOOST_TEST(jstr(c, "state") == dstr(insp.at("State").as_object(), "Status"));
            BOOST_TEST(rfc3339_ns(jstr(c, "created")) == rfc3339_ns(dstr(insp, "Created")));
            BOOST_TEST(jstr(c, "mount_id") == mount_id);
            BOOST_TEST(jstr(c, "init_id") == mount_id + "-init");
            BOOST_TEST(layer_dir_name(dirs.at(1)) == mount_id + "-init", "self-check: docker's init layer");
            auto [files, bytes] = regular_files(dirs.front());
            BOOST_TEST(json_int(jat(c, "writable_files")) == files);
            BOOST_TEST(json_int(jat(c, "writable_bytes")) == bytes);

            // Volumes: destination, type, name, source and rw as docker inspect .Mounts has them.
            std::vector<std::string> expect, got;
            for (const auto& m : insp.at("Mounts").as_array()) {
                const auto& o = m.as_object();
                expect.push_back(dstr(o, "Destination") + " " + dstr(o, "Type") + " name=" + dstr(o, "Name") +
                                 " source=" + dstr(o, "Source") + (o.at("RW").as_bool() ? " rw" : " ro"));
            }
            for (const auto& m : jat(c, "volumes").as_array()) {
                const auto& o = m.as_object();
                got.push_back(jstr(m, "destination") + " " + jstr(m, "type") + " name=" + dstr(o, "name") +
                              " source=" + dstr(o, "source") + (jat(m, "rw").as_bool() ? " rw" : " ro"));
            }
            OVLT_EXPECT_SAME_LIST(sorted(got), sorted(expect), "volumes vs docker inspect .Mounts");
            if (name == kVols) BOOST_TEST(expect.size() == 3u, "self-check: the fixture's three mounts");

            Result plain = ovl({"--data-root", data_root(), "inspect", name});
            OVLT_EXPECT_EXIT(plain, 0);
            for (const auto& d : dirs)
                BOOST_TEST(plain.out.find(layer_dir_name(d).substr(0, 12)) != std::string::npos,
                           "layer dir " << layer_dir_name(d) << " not in:\n" << plain.out);
        }
    }
}
