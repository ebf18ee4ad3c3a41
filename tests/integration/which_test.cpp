// `which` and `owner`: which layer provides (or hides) a path, and which images and containers
// use a layer dir. The expected answers are computed from Docker's own GraphDriver dirs
// (docker image/container inspect) with lstat and getxattr, applying overlayfs' lookup rules:
// the top-most dir that has the path wins, unless a dir above has a whiteout (0/0 char device)
// at the path or at a parent, a parent that is not a directory, or an opaque parent
// (trusted.overlay.opaque=y) that cuts the layers below off.
#define BOOST_TEST_MODULE ovlmount_integration_which
#include "itest.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>

using namespace ovltest;

namespace {

// ---- the oracle ---------------------------------------------------------------------------

struct Answer {
    std::string status;  // provided, hidden, absent
    std::size_t top = 0;  // index into the dirs, top first
    std::string how;     // for messages
};

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

Answer overlay_lookup(const std::vector<std::string>& dirs_top_first, const std::string& path) {
    std::vector<std::string> comps;
    for (auto& c : split(path, '/'))
        if (!c.empty()) comps.push_back(c);
    if (comps.empty()) throw std::runtime_error("overlay_lookup: empty path");
    for (std::size_t i = 0; i < dirs_top_first.size(); ++i) {
        fs::path cur = dirs_top_first[i];
        bool opaque = false, missing = false;
        struct stat st {};
        for (std::size_t k = 0; k + 1 < comps.size(); ++k) {
            cur /= comps[k];
            if (::lstat(cur.c_str(), &st) != 0) {
                missing = true;
                break;
            }
            if (is_whiteout(st)) return {"hidden", i, "whiteout of a parent " + cur.string()};
            if (!S_ISDIR(st.st_mode)) return {"hidden", i, "parent not a directory " + cur.string()};
            if (is_opaque(cur)) opaque = true;
        }
        if (!missing) {
            cur /= comps.back();
            if (::lstat(cur.c_str(), &st) == 0) {
                if (is_whiteout(st)) return {"hidden", i, "whiteout " + cur.string()};
                return {"provided", i, cur.string()};
            }
        }
        if (opaque) return {"hidden", i, "opaque parent in " + dirs_top_first[i]};
    }
    return {"absent", 0, ""};
}

std::string role_of(std::size_t top, bool container) {
    if (container && top == 0) return "writable";
    if (container && top == 1) return "init";
    return "image";
}

// Checks `which --json` and plain `which` of `ref` `path` against the oracle.
Answer check_which(const std::string& ref, const std::vector<std::string>& dirs, const std::vector<std::string>& diff_ids,
                   bool container, const std::string& path) {
    const Answer a = overlay_lookup(dirs, path);
    BOOST_TEST_CONTEXT("which " << ref << " " << path << " (expected " << a.status << ": " << a.how << ")") {
        Result r = ovl({"--data-root", data_root(), "which", "--json", ref, path});
        Result p = ovl({"--data-root", data_root(), "which", ref, path});
        if (a.status == "absent") {
            OVLT_EXPECT_EXIT(r, 3);
            OVLT_EXPECT_EXIT(p, 3);
            if (!trim(r.out).empty()) {
                const auto v = parse_json(r.out, "which --json");
                BOOST_TEST(jstr(v, "status") == "absent");
                BOOST_TEST(jat(v, "layer").is_null());
            } else {
                OVLT_EXPECT_ONE_ERROR_LINE(r);
            }
            if (trim(p.out).empty()) OVLT_EXPECT_ONE_ERROR_LINE(p);
            return a;
        }
        OVLT_REQUIRE_EXIT(r, 0);
        const auto v = parse_json(r.out, "which --json");
        const std::size_t index = dirs.size() - a.top;  // 1 = bottom
        const std::string cache = layer_dir_name(dirs[a.top]);
        BOOST_TEST(jstr(v, "status") == a.status);
        const auto& l = jat(v, "layer");
        BOOST_TEST_REQUIRE(l.is_object(), r.out);
        BOOST_TEST(json_int(jat(l, "index")) == static_cast<std::int64_t>(index));
        BOOST_TEST(jstr(l, "cache_id") == cache);
        BOOST_TEST(jstr(l, "path") == dirs[a.top]);
        BOOST_TEST(jstr(l, "role") == role_of(a.top, container));
        if (role_of(a.top, container) == "image") BOOST_TEST(jstr(l, "diff_id") == diff_ids.at(index - 1));
        if (a.status == "hidden") BOOST_TEST(jat(v, "detail").is_string(), r.out);

        OVLT_EXPECT_EXIT(p, 0);
        auto w = words(p.out);
        BOOST_TEST_REQUIRE(w.size() >= 6u, p.describe());
        BOOST_TEST(w[0] == a.status, p.out);
        BOOST_TEST(w[1] == path, p.out);
        BOOST_TEST(w[2] == "layer", p.out);
        BOOST_TEST(w[3] == std::to_string(index), p.out);
        BOOST_TEST(w[4] == role_of(a.top, container), p.out);
        BOOST_TEST((w[5].size() >= 12 && cache.rfind(w[5], 0) == 0), "cache-id " << cache << ": " << p.out);
    }
    return a;
}

// ---- owner ---------------------------------------------------------------------------------

// "image sha256:<id> index N [refs]" / "container <id> <name> index N role R" for every user of
// overlay2/<dir> according to docker inspect of every image and container.
std::vector<std::string> expected_users(const std::string& dir) {
    const std::string diff = (fs::path(data_root()) / "overlay2" / dir / "diff").string();
    std::vector<std::string> out;
    for (const auto& [id, o] : docker_inspect_images(docker_all_image_ids())) {
        auto dirs = graph_dirs(o);
        auto it = std::find(dirs.begin(), dirs.end(), diff);
        if (it == dirs.end()) continue;
        out.push_back("image " + id + " index " + std::to_string(dirs.end() - it) + " [" + joined(docker_image_refs(o), " ") + "]");
    }
    for (const auto& [id, o] : docker_inspect_containers(docker_all_container_ids())) {
        auto dirs = graph_dirs(o);
        auto it = std::find(dirs.begin(), dirs.end(), diff);
        if (it == dirs.end()) continue;
        const std::size_t top = static_cast<std::size_t>(it - dirs.begin());
        out.push_back("container " + id + " " + std::string(o.at("Name").as_string()).substr(1) + " index " +
                      std::to_string(dirs.end() - it) + " role " + role_of(top, true));
    }
    return sorted(out);
}

std::vector<std::string> owner_users(const boost::json::value& v) {
    std::vector<std::string> out;
    for (const auto& u : v.as_array()) {
        const std::string kind = jstr(u, "kind");
        if (kind == "image")
            out.push_back("image " + jstr(u, "id") + " index " + std::to_string(json_int(jat(u, "index"))) + " [" +
                          joined(sorted(jstrings(u, "references")), " ") + "]");
        else
            out.push_back("container " + jstr(u, "id") + " " + jstr(u, "name") + " index " +
                          std::to_string(json_int(jat(u, "index"))) + " role " + jstr(u, "role"));
    }
    return sorted(out);
}

// owner --json and plain of `arg` against Docker's users of overlay2/<dir>; returns the JSON.
boost::json::value check_owner(const std::string& arg, const std::string& dir) {
    std::vector<std::string> expect;
    Result r, p;
    {
        DataRootLock lock;  // no test program creates or removes a container meanwhile
        expect = expected_users(dir);
        r = ovl({"--data-root", data_root(), "owner", "--json", arg});
        p = ovl({"--data-root", data_root(), "owner", arg});
    }
    boost::json::value v;
    BOOST_TEST_CONTEXT("owner " << arg << " (overlay2/" << dir << ")") {
        BOOST_TEST(!expect.empty(), "self-check: docker names no user of " << dir);
        OVLT_REQUIRE_EXIT(r, 0);
        v = parse_json(r.out, "owner --json");
        BOOST_TEST_REQUIRE(v.is_array(), r.out);
        OVLT_EXPECT_SAME_LIST(owner_users(v), expect, "users of overlay2/" + dir);
        OVLT_EXPECT_EXIT(p, 0);
        const auto ls = lines_of(p.out);
        BOOST_TEST(ls.size() == expect.size(), p.describe());
        for (const auto& l : ls)
            BOOST_TEST((l.rfind("image sha256:", 0) == 0 || l.rfind("container ", 0) == 0), "line: " << l);
    }
    return v;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_oracle_knows_the_fixture) {
    // Self-check of the method on what build-images.sh did to ovltest-multi.
    const auto dirs = docker_lowerdirs(kMulti);
    BOOST_TEST(overlay_lookup(dirs, "/etc/passwd").top == dirs.size() - 1);
    BOOST_TEST(overlay_lookup(dirs, "/dup.txt").top == 0u);
    BOOST_TEST(overlay_lookup(dirs, "/gone").status == "hidden");
    BOOST_TEST(overlay_lookup(dirs, "/gone/deep/g").status == "hidden");
    BOOST_TEST(overlay_lookup(dirs, "/d/a").status == "hidden");
    BOOST_TEST(overlay_lookup(dirs, "/d/new").status == "provided");
    BOOST_TEST(overlay_lookup(dirs, "/nonexistent").status == "absent");
    BOOST_TEST(overlay_lookup(dirs, "/data/random.bin").status == "hidden");
    BOOST_TEST(overlay_lookup(dirs, "/d/a").top == overlay_lookup(dirs, "/d/new").top, "the opaque /d hides /d/a");
}

BOOST_AUTO_TEST_CASE(which_in_an_image_follows_overlay_rules) {
    const auto dirs = docker_lowerdirs(kMulti);
    const auto diff_ids = docker_diff_ids(kMulti);
    for (const char* path :
         {"/etc/passwd", "/data/keep", "/data/more/more.txt", "/dup.txt", "/d/new", "/gone", "/gone/deep/g", "/d/a",
          "/d/sub/b", "/data/random.bin", "/data/file-then-dir/x", "/data/dir-then-file", "/perm/secret", "/nonexistent",
          "/data/nonexistent"})
        check_which(kMulti, dirs, diff_ids, false, path);
    // A one-layer image, by ID.
    check_which(docker_image_id(kBase), docker_lowerdirs(kBase), docker_diff_ids(kBase), false, "/bin/busybox");
}

BOOST_AUTO_TEST_CASE(which_in_a_container_names_its_own_layers) {
    const auto insp = docker_inspect_containers({docker_container_id(kChanges)}).begin()->second;
    const auto dirs = graph_dirs(insp);  // writable, init, image layers
    const auto diff_ids = docker_diff_ids(std::string(insp.at("Image").as_string()));
    auto a = check_which(kChanges, dirs, diff_ids, true, "/added-file");
    BOOST_TEST((a.status == "provided" && a.top == 0u), "self-check: /added-file is in the writable layer");
    a = check_which(kChanges, dirs, diff_ids, true, "/etc/passwd");
    BOOST_TEST((a.status == "hidden" && a.top == 0u), "self-check: /etc/passwd was renamed away in the container");
    a = check_which(kChanges, dirs, diff_ids, true, "/etc/hostname");
    BOOST_TEST((a.status == "provided" && a.top == 1u), "self-check: /etc/hostname is the init layer's");
    for (const char* path : {"/etc/passwd.renamed", "/d/again", "/d/new", "/data/hl-b", "/etc/ovltest-release",
                                    "/data/keep", "/nonexistent"})
        check_which(kChanges, dirs, diff_ids, true, path);
}

BOOST_AUTO_TEST_CASE(owner_of_the_base_layer_is_everyone_using_it) {
    const auto dirs = docker_lowerdirs(kBase);
    BOOST_TEST_REQUIRE(dirs.size() == 1u);
    check_owner(layer_dir_name(dirs[0]), layer_dir_name(dirs[0]));
}

BOOST_AUTO_TEST_CASE(owner_by_cache_id_and_by_link_name_agree) {
    const auto dirs = docker_lowerdirs(kMulti);
    const std::string mid = layer_dir_name(dirs.at(dirs.size() / 2));
    const std::string link = trim(read_file(fs::path(data_root()) / "overlay2" / mid / "link"));
    BOOST_TEST_REQUIRE(link.size() == 26u);
    const auto by_cache = check_owner(mid, mid);
    const auto by_link = check_owner(link, mid);
    BOOST_TEST(boost::json::serialize(by_cache) == boost::json::serialize(by_link));
}

BOOST_AUTO_TEST_CASE(owner_of_a_containers_own_layers) {
    const std::string id = docker_container_id(kChanges);
    const auto insp = docker_inspect_containers({id}).begin()->second;
    const auto dirs = graph_dirs(insp);
    const std::string mount_id = layer_dir_name(dirs.at(0));
    BOOST_TEST_REQUIRE(layer_dir_name(dirs.at(1)) == mount_id + "-init");
    for (const auto& [arg, role] : std::vector<std::pair<std::string, std::string>>{{mount_id, "writable"},
                                                                                    {mount_id + "-init", "init"}}) {
        BOOST_TEST_CONTEXT("owner " << arg) {
            const auto v = check_owner(arg, arg);
            BOOST_TEST_REQUIRE((v.is_array() && v.as_array().size() == 1u), boost::json::serialize(v));
            const auto& u = v.as_array()[0];
            BOOST_TEST(jstr(u, "kind") == "container");
            BOOST_TEST(jstr(u, "id") == id);
            BOOST_TEST(jstr(u, "name") == kChanges);
            BOOST_TEST(jstr(u, "role") == role);
        }
    }
}

BOOST_AUTO_TEST_CASE(owner_of_an_unknown_layer_is_not_found) {
    const std::string unknown = sha256_hex("no such layer");
    BOOST_TEST_REQUIRE(!fs::exists(fs::path(data_root()) / "overlay2" / unknown));
    for (const std::vector<std::string>& args : {std::vector<std::string>{"owner", unknown},
                                                 std::vector<std::string>{"owner", "--json", unknown}}) {
        std::vector<std::string> a{"--data-root", data_root()};
        a.insert(a.end(), args.begin(), args.end());
        Result r = ovl(a);
        OVLT_EXPECT_EXIT(r, 3);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
    }
}
