// Layer order and image lookup, with Docker as the oracle: `ovlmount resolve --json REF` must
// name the image `docker image inspect REF` names, with the lowerdirs Docker itself uses
// (GraphDriver.Data: UpperDir, then LowerDir) and the diff IDs of RootFS.Layers.
#define BOOST_TEST_MODULE ovlmount_integration_resolve
#include "itest.hpp"

#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>

using namespace ovltest;

namespace {

std::string layerdb_file(const std::string& chain_id, const char* name) {
    return trim(read_file(fs::path(data_root()) / "image/overlay2/layerdb/sha256" / chain_id.substr(7) / name));
}

// Checks `resolve --json ref` against Docker's answer for ref (which must resolve).
void check_against_docker(const std::string& ref, std::vector<std::string> extra_before = {},
                          std::vector<std::string> extra_after = {}) {
    BOOST_TEST_CONTEXT("reference " << quote(ref)) {
        const std::string id = docker_image_id(ref);
        const auto lowers = docker_lowerdirs(ref);
        const auto diffs = docker_diff_ids(ref);
        std::vector<std::string> args = extra_before;
        for (auto a : {"--data-root", data_root().c_str(), "resolve", "--json"}) args.emplace_back(a);
        args.insert(args.end(), extra_after.begin(), extra_after.end());
        args.push_back(ref);
        Result r = ovl(args);
        OVLT_REQUIRE_EXIT(r, 0);
        auto v = parse_json(r.out, "resolve --json " + ref);
        BOOST_TEST_REQUIRE(v.is_object(), r.out);
        BOOST_TEST(jstr(v, "image_id") == id);
        BOOST_TEST(jstr(v, "reference") == ref);
        BOOST_TEST(jstr(v, "data_root") == data_root());
        const auto lowerdir = jstrings(v, "lowerdir");
        BOOST_TEST(lowerdir.size() == lowers.size());
        BOOST_TEST(lowerdir == lowers, "lowerdir (top first) differs from Docker's UpperDir:LowerDir\n ovlmount:"
                                           << joined(lowerdir) << "\n docker:" << joined(lowers));
        const auto* layers = v.as_object().if_contains("layers");
        BOOST_TEST_REQUIRE((layers != nullptr && layers->is_array()), r.out);
        const auto& la = layers->as_array();
        BOOST_TEST_REQUIRE(la.size() == diffs.size());
        BOOST_TEST_REQUIRE(la.size() == lowers.size());
        std::string prev_chain;
        for (std::size_t i = 0; i < la.size(); ++i) {
            BOOST_TEST_CONTEXT("layer " << i << " (bottom = 0)") {
                const auto& l = la[i];
                BOOST_TEST(jstr(l, "diff_id") == diffs[i]);
                const std::string path = jstr(l, "path");
                BOOST_TEST(path == lowers[lowers.size() - 1 - i]);
                const std::string cache = jstr(l, "cache_id");
                BOOST_TEST(path == data_root() + "/overlay2/" + cache + "/diff");
                // The chain ID: DESIGN.md's formula, and Docker's layerdb must agree with it.
                const std::string chain = jstr(l, "chain_id");
                const std::string expect_chain =
                    i == 0 ? diffs[0] : "sha256:" + sha256_hex(prev_chain + " " + diffs[i]);
                BOOST_TEST(chain == expect_chain);
                BOOST_TEST(layerdb_file(chain, "cache-id") == cache);
                BOOST_TEST(layerdb_file(chain, "diff") == diffs[i]);
                prev_chain = chain;
            }
        }
    }
}

void check_not_found(const std::string& ref) {
    BOOST_TEST_CONTEXT("reference " << quote(ref)) {
        Result d = docker({"image", "inspect", "--format", "{{.Id}}", ref});
        BOOST_TEST_REQUIRE(d.code != 0, "docker itself resolves " << ref << " to " << d.out);
        Result r = ovl({"--data-root", data_root(), "resolve", "--json", ref});
        OVLT_EXPECT_EXIT(r, 3);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        BOOST_TEST(r.out.empty(), r.describe());
    }
}

std::string id_hex(const std::string& ref) { return docker_image_id(ref).substr(7); }

// The shortest prefix of `hex` that no other imagedb ID shares.
std::string shortest_unique_prefix(const std::string& hex) {
    auto ids = imagedb_ids(data_root());
    for (std::size_t n = 1; n <= 64; ++n) {
        std::string p = hex.substr(0, n);
        auto c = std::count_if(ids.begin(), ids.end(), [&](const std::string& x) { return x.rfind(p, 0) == 0; });
        if (c == 1) return p;
    }
    return hex;
}

}  // namespace

BOOST_AUTO_TEST_CASE(fixture_images_are_what_the_tests_expect) {
    BOOST_TEST(docker_diff_ids(kBase).size() == 1u);
    BOOST_TEST(docker_diff_ids(kDeep).size() == 100u);
    auto multi = docker_diff_ids(kMulti);
    BOOST_TEST(multi.size() >= 8u);
    // The same diff ID twice (two identical COPY layers): chain IDs must still differ.
    std::set<std::string> uniq(multi.begin(), multi.end());
    BOOST_TEST(uniq.size() < multi.size());
    // Whiteouts (0/0 char devices) and opaque dirs exist in multi's layers.
    std::size_t whiteouts = 0, opaque = 0;
    for (const auto& dir : docker_lowerdirs(kMulti)) {
        for (const auto& [p, n] : walk_tree(dir)) {
            if (n.type == S_IFCHR && n.rdev == 0) ++whiteouts;
            if (n.type == S_IFDIR) {
                char v[8];
                if (::lgetxattr((fs::path(dir) / p).c_str(), "trusted.overlay.opaque", v, sizeof v) == 1 && v[0] == 'y')
                    ++opaque;
            }
        }
    }
    BOOST_TEST(whiteouts >= 3u);
    BOOST_TEST(opaque >= 1u);
    BOOST_TEST(docker_image_id(digest_reference()) == docker_image_id(kMulti));
}

BOOST_AUTO_TEST_CASE(layer_order_matches_docker_for_names_and_tags) {
    for (const std::string& ref : {
             kBase, kOne, std::string("ovltest-one"), std::string("docker.io/library/ovltest-one:latest"),
             kMulti, std::string("ovltest-multi"), std::string("ovltest-multi:v2"),
             std::string("docker.io/library/ovltest-multi:v2"), std::string("library/ovltest-multi"),
             std::string("index.docker.io/library/ovltest-multi:latest"),
             std::string("localhost:5000/team/app:v1"), std::string("registry.local:5000/team/app:v1"),
             std::string("docker.io/someuser/app:latest"), std::string("someuser/app"), std::string("someuser/app:latest"),
             kDeep, std::string("ovltest-deep")}) {
        check_against_docker(ref);
    }
}

BOOST_AUTO_TEST_CASE(layer_order_matches_docker_for_the_digest_reference) {
    const std::string ref = digest_reference();
    check_against_docker(ref);
    check_against_docker("docker.io/library/" + ref);
}

BOOST_AUTO_TEST_CASE(tag_plus_digest_follows_docker) {
    // Docker stores name:tag@digest digest-only; whatever Docker answers is the expectation.
    std::string ref = digest_reference();
    ref.insert(ref.find('@'), ":latest");
    Result d = docker({"image", "inspect", "--format", "{{.Id}}", ref});
    if (d.code == 0)
        check_against_docker(ref);
    else
        check_not_found(ref);
}

BOOST_AUTO_TEST_CASE(layer_order_matches_docker_for_image_ids) {
    for (const std::string& img : {kBase, kMulti, kDeep}) {
        const std::string hex = id_hex(img);
        check_against_docker("sha256:" + hex);
        check_against_docker(hex);
        const std::string shortest = shortest_unique_prefix(hex);
        BOOST_TEST_MESSAGE(img << ": shortest unique ID prefix " << shortest);
        if (shortest.size() < 64) {
            // Docker resolves a short prefix only when it does not also parse as a name in
            // repositories.json; ours do not.
            check_against_docker(hex.substr(0, std::max<std::size_t>(shortest.size(), 12)));
            check_against_docker(shortest);
            check_against_docker("sha256:" + hex.substr(0, std::max<std::size_t>(shortest.size(), 12)));
        }
    }
}

BOOST_AUTO_TEST_CASE(global_options_after_the_command_word) {
    Result r = ovl({"resolve", "--json", "--data-root", data_root(), kMulti});
    OVLT_REQUIRE_EXIT(r, 0);
    BOOST_TEST(jstr(parse_json(r.out, "resolve"), "image_id") == docker_image_id(kMulti));
}

BOOST_AUTO_TEST_CASE(ambiguous_prefix_is_not_found_and_lists_the_candidates) {
    auto ids = imagedb_ids(data_root());
    BOOST_TEST_REQUIRE(ids.size() >= 2u);
    // The longest prefix (up to 4 hex digits) shared by 2..8 image IDs.
    std::string best;
    std::vector<std::string> cands;
    for (std::size_t n = 4; n >= 1 && best.empty(); --n) {
        std::map<std::string, std::vector<std::string>> groups;
        for (const auto& id : ids) groups[id.substr(0, n)].push_back(id);
        for (auto& [p, g] : groups)
            if (g.size() >= 2 && g.size() <= 8) {
                best = p;
                cands = g;
                break;
            }
    }
    BOOST_TEST_REQUIRE(!best.empty(), "no ambiguous short prefix among " << ids.size() << " images");
    BOOST_TEST_MESSAGE("ambiguous prefix " << best << " (" << cands.size() << " candidates)");
    for (const std::string& ref : {best, "sha256:" + best}) {
        Result d = docker({"image", "inspect", "--format", "{{.Id}}", ref});
        BOOST_TEST(d.code != 0, "docker resolves the ambiguous prefix " << ref << ": " << d.out);
        Result r = ovl({"--data-root", data_root(), "resolve", "--json", ref});
        OVLT_EXPECT_EXIT(r, 3);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        for (const auto& c : cands)
            BOOST_TEST(r.err.find(c.substr(0, 12)) != std::string::npos,
                       "candidate " << c.substr(0, 12) << " not named: " << r.err);
    }
}

BOOST_AUTO_TEST_CASE(unknown_images_are_not_found) {
    // A 64-hex ID that is not in the store, as ID and with sha256:.
    std::string absent = sha256_hex("no such image");
    check_not_found("ovltest-nonexistent");
    check_not_found("ovltest-nonexistent:latest");
    check_not_found("ovltest-multi:nope");
    check_not_found("localhost:5000/team/app");  // only :v1 exists
    check_not_found("otheruser/app:latest");
    check_not_found(absent);
    check_not_found("sha256:" + absent);
    check_not_found("ovltest-multi@sha256:" + absent);
}

BOOST_AUTO_TEST_CASE(malformed_references_are_rejected) {
    for (const std::string& ref : {std::string("UPPER/case"), std::string("a b"), std::string("x:y:z"),
                                   std::string("name@sha256:abc"), std::string(""), std::string("../../etc")}) {
        BOOST_TEST_CONTEXT("reference " << quote(ref)) {
            Result r = ovl({"--data-root", data_root(), "resolve", "--json", ref});
            BOOST_TEST((r.code == 2 || r.code == 3), r.describe());
            OVLT_EXPECT_ONE_ERROR_LINE(r);
        }
    }
}

BOOST_AUTO_TEST_CASE(human_readable_resolve_names_the_image_and_layers) {
    Result r = ovl({"--data-root", data_root(), "resolve", kMulti});
    OVLT_REQUIRE_EXIT(r, 0);
    BOOST_TEST(r.out.find(id_hex(kMulti).substr(0, 12)) != std::string::npos, r.out);
    // The top layer (Docker's UpperDir) is named somewhere in the plan.
    BOOST_TEST(r.out.find(fs::path(docker_lowerdirs(kMulti).front()).parent_path().filename().string()) !=
                   std::string::npos,
               r.out);
}

BOOST_AUTO_TEST_CASE(dry_run_mounts_and_records_nothing) {
    TempDir t("dry");
    fs::create_directory(t / "target");
    const auto before = mountinfo().size();
    Result r = ovl(with_dirs(t / "state", {"mount", "--dry-run", kMulti, (t / "target").string()}));
    OVLT_REQUIRE_EXIT(r, 0);
    BOOST_TEST(!r.out.empty());
    BOOST_TEST(!mount_at(t / "target").has_value());
    BOOST_TEST(mountinfo().size() == before);
    auto list = ovl_list(t / "state");
    BOOST_TEST(list.empty(), boost::json::serialize(list));
}

BOOST_AUTO_TEST_CASE(default_data_root_comes_from_etc_docker_daemon_json) {
    // Only in this test's private mount namespace: a daemon.json naming the test data root is
    // bind-mounted over /etc/docker; the host's /etc/docker is never written.
    if (!fs::is_directory("/etc/docker")) {
        BOOST_TEST_MESSAGE("no /etc/docker on this machine: the daemon.json default is not tested");
        return;
    }
    if (mount_at("/").has_value() && mount_at("/")->options.find("shared") != std::string::npos)
        BOOST_TEST_MESSAGE("warning: / is shared; the test expects to run under unshare --propagation private");
    TempDir t("djson");
    write_file(t / "daemon.json", "{\"data-root\": \"" + data_root() + "\", \"storage-driver\": \"overlay2\"}\n");
    BOOST_TEST_REQUIRE(::mount(t.path().c_str(), "/etc/docker", nullptr, MS_BIND, nullptr) == 0,
                       "bind mount over /etc/docker: " << std::strerror(errno));
    Result r = ovl({"--store", "docker", "resolve", "--json", kMulti});
    ::umount2("/etc/docker", MNT_DETACH);
    OVLT_REQUIRE_EXIT(r, 0);
    auto v = parse_json(r.out, "resolve");
    BOOST_TEST(jstr(v, "data_root") == data_root());
    OVLT_EXPECT_SAME_LIST(jstrings(v, "lowerdir"), docker_lowerdirs(kMulti), "lowerdir");
}

BOOST_AUTO_TEST_CASE(host_root_finds_the_data_root_its_daemon_json_names_inside_it) {
    // A seized host: its daemon.json names /srv/docker, an absolute symlink to /data/d, which
    // holds the data root. Both must resolve inside the host root, not on this machine.
    TempDir t("host");
    const fs::path host = t / "host";
    fs::create_directories(host / "etc/docker");
    fs::create_directories(host / "data/d");
    fs::create_directories(host / "srv");
    write_file(host / "etc/docker/daemon.json", "{\"data-root\": \"/srv/docker\"}\n");
    fs::create_directory_symlink("/data/d", host / "srv/docker");
    fs::create_directories(t / "empty");
    BOOST_TEST_REQUIRE(::mount(data_root().c_str(), (host / "data/d").c_str(), nullptr, MS_BIND, nullptr) == 0,
                       "bind mount of the data root: " << std::strerror(errno));
    Result r = ovl({"--host-root", host.string(), "resolve", "--json", kMulti});
    Result listed = ovl({"--host-root", host.string(), "images", "--json"});
    Result without_store = ovl({"--host-root", (t / "empty").string(), "images"});
    ::umount2((host / "data/d").c_str(), MNT_DETACH);
    OVLT_REQUIRE_EXIT(r, 0);
    auto v = parse_json(r.out, "resolve");
    BOOST_TEST(jstr(v, "data_root") == canon(host / "data/d"));
    BOOST_TEST(jstrings(v, "lowerdir").size() == docker_lowerdirs(kMulti).size());
    OVLT_EXPECT_EXIT(listed, 0);
    BOOST_TEST(listed.out.find(docker_image_id(kMulti)) != std::string::npos);
    OVLT_EXPECT_EXIT(without_store, 3);
    OVLT_EXPECT_ONE_ERROR_LINE(without_store);
}

BOOST_AUTO_TEST_CASE(a_name_that_looks_like_an_id_prefix_is_a_name_first) {
    // Docker's lookup order: a name in repositories.json wins over an ID prefix. Tag the base
    // image with a name that is a 12-digit prefix of ovltest-deep's ID (removed again at the end).
    const std::string name = id_hex(kDeep).substr(0, 12);
    struct Untag {
        std::string ref;
        ~Untag() {
            DataRootLock lock;
            docker({"rmi", ref});
        }
    } untag{name + ":latest"};
    {
        DataRootLock lock;
        docker_ok({"tag", kBase, name + ":latest"});
    }
    BOOST_TEST(docker_image_id(name) == docker_image_id(kBase));
    check_against_docker(name);
    check_against_docker("sha256:" + name);  // with sha256: it can only be an ID prefix: deep
}
