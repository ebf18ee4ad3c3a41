// `verify`: every image Docker lists verifies, each layer's rebuilt tar stream hashing to the
// diff_id Docker reports (docker image inspect .RootFS.Layers); a tampered copy of the store
// fails naming exactly the layer and the file that were changed (and nothing else), metadata
// tampering fails `--quick`, and verify itself changes nothing in the store.
#define BOOST_TEST_MODULE ovlmount_integration_verify
#include "itest.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cstdio>
#include <sstream>

using namespace ovltest;

namespace {

// "/a/b", "./a/b", "a/b" -> "a/b"
std::string rel_path(std::string p) {
    while (p.rfind("./", 0) == 0) p.erase(0, 2);
    while (!p.empty() && p[0] == '/') p.erase(0, 1);
    return p;
}

std::vector<std::string> diff_ids_of(const boost::json::object& insp) {
    std::vector<std::string> out;
    for (const auto& x : insp.at("RootFS").as_object().at("Layers").as_array()) out.emplace_back(x.as_string().c_str());
    return out;
}

Result verify(const std::string& root, const std::string& ref, std::vector<std::string> opts = {"--json"}) {
    std::vector<std::string> args{"--data-root", root, "verify"};
    args.insert(args.end(), opts.begin(), opts.end());
    args.push_back(ref);
    return ovl(args);
}

// A full verify --json of an image that must pass: every layer ok, actual == Docker's diff_id.
void expect_image_verifies(const std::string& root, const std::string& id, const boost::json::object& insp) {
    BOOST_TEST_CONTEXT("verify " << id) {
        Result r = verify(root, id);
        OVLT_REQUIRE_EXIT(r, 0);
        const auto v = parse_json(r.out, "verify --json");
        BOOST_TEST(jat(v, "ok") == true);
        BOOST_TEST(jstr(v, "kind") == "image");
        BOOST_TEST(jstr(v, "image_id") == id);
        BOOST_TEST(jstr(v, "level") == "content");
        BOOST_TEST(jat(jat(v, "metadata"), "ok") == true);
        const auto diff_ids = diff_ids_of(insp);
        auto dirs = graph_dirs(insp);
        std::reverse(dirs.begin(), dirs.end());
        const auto& layers = jat(v, "layers").as_array();
        BOOST_TEST_REQUIRE(layers.size() == diff_ids.size());
        for (std::size_t i = 0; i < layers.size(); ++i) {
            const auto& l = layers[i];
            BOOST_TEST_CONTEXT("layer " << i + 1) {
                BOOST_TEST(json_int(jat(l, "index")) == static_cast<std::int64_t>(i + 1));
                BOOST_TEST(jstr(l, "role") == "image");
                BOOST_TEST(jstr(l, "diff_id") == diff_ids[i]);
                BOOST_TEST(jstr(l, "cache_id") == layer_dir_name(dirs[i]));
                BOOST_TEST(jstr(l, "status") == "ok");
                BOOST_TEST(jstr(l, "actual") == diff_ids[i]);
                BOOST_TEST(jat(l, "problems").as_array().empty(), boost::json::serialize(l));
            }
        }
    }
}

// A regular, non-empty, single-link file that exists in exactly one layer of ovltest-multi
// (not the base layer, which every image shares): its layer (1 = bottom), dir and path.
struct Victim {
    std::size_t index = 0;
    std::string diff;  // Docker's path of the layer's diff dir
    std::string rel;   // "data/x"
};

Victim pick_victim() {
    auto dirs = docker_lowerdirs(kMulti);
    std::reverse(dirs.begin(), dirs.end());  // bottom first
    for (std::size_t i = 1; i < dirs.size(); ++i) {
        for (const auto& [rel, n] : walk_tree(dirs[i])) {
            if (n.type != S_IFREG || n.size == 0) continue;
            struct stat st {};
            if (::lstat((fs::path(dirs[i]) / rel).c_str(), &st) != 0 || st.st_nlink != 1) continue;
            bool elsewhere = false;
            for (std::size_t j = 0; j < dirs.size() && !elsewhere; ++j)
                if (j != i && ::lstat((fs::path(dirs[j]) / rel).c_str(), &st) == 0) elsewhere = true;
            if (!elsewhere) return {i + 1, dirs[i], rel};
        }
    }
    throw std::runtime_error("no file of ovltest-multi exists in exactly one layer");
}

// The same diff dir in a copy of the data root.
fs::path in_copy(const fs::path& root, const std::string& docker_path) {
    return root / "overlay2" / layer_dir_name(docker_path) / "diff";
}

struct Tamper {
    std::string name;
    std::function<std::string(const fs::path& layer_diff, const std::string& rel)> apply;  // returns the path named
    std::string problem;  // the problem text must contain this
};

void run_tamper(const Tamper& c, const Victim& victim, bool check_other_images) {
    BOOST_TEST_CONTEXT("tampering: " << c.name << " (layer " << victim.index << ", " << victim.rel << ")") {
        TempDir t("ver");
        const fs::path root = t / "root";
        copy_data_root(root);
        const std::string named = c.apply(in_copy(root, victim.diff), victim.rel);
        const Snapshot before = snapshot(root, false);

        Result r = verify(root.string(), kMulti);
        OVLT_EXPECT_EXIT(r, 4);
        const auto v = parse_json(r.out, "verify --json");
        BOOST_TEST(jat(v, "ok") == false);
        BOOST_TEST(jat(jat(v, "metadata"), "ok") == true, "metadata is intact: " << r.out);
        const auto& layers = jat(v, "layers").as_array();
        BOOST_TEST_REQUIRE(layers.size() == docker_diff_ids(kMulti).size());
        for (std::size_t i = 0; i < layers.size(); ++i) {
            const auto& l = layers[i];
            BOOST_TEST_CONTEXT("layer " << i + 1) {
                if (i + 1 != victim.index) {
                    BOOST_TEST(jstr(l, "status") == "ok", boost::json::serialize(l));
                    continue;
                }
                BOOST_TEST(jstr(l, "status") == "failed", boost::json::serialize(l));
                BOOST_TEST(jstr(l, "cache_id") == layer_dir_name(victim.diff));
                const auto& probs = jat(l, "problems").as_array();
                BOOST_TEST(probs.size() == 1u, "exactly the changed file must be named: " << boost::json::serialize(l));
                bool found = false;
                for (const auto& p : probs)
                    if (rel_path(jstr(p, "path")) == named && jstr(p, "problem").find(c.problem) != std::string::npos)
                        found = true;
                BOOST_TEST(found, "no problem '" << c.problem << "' for " << named << ": " << boost::json::serialize(l));
            }
        }
        // Plain: the layer line says failed, the verdict is FAILED and nothing says ok overall.
        Result p = verify(root.string(), kMulti, {});
        OVLT_EXPECT_EXIT(p, 4);
        const auto ls = lines_of(p.out);
        BOOST_TEST((!ls.empty() && ls.back() == "verify: FAILED"), p.describe());
        BOOST_TEST(p.out.find("verify: ok") == std::string::npos, p.describe());
        bool layer_line = false;
        for (const auto& l : ls)
            if (l.rfind("LAYER " + std::to_string(victim.index) + " ", 0) == 0) {
                layer_line = true;
                BOOST_TEST(l.find("failed") != std::string::npos, l);
                BOOST_TEST(l.find(layer_dir_name(victim.diff).substr(0, 12)) != std::string::npos, l);
            }
        BOOST_TEST(layer_line, "no LAYER " << victim.index << " line: " << p.describe());
        BOOST_TEST(p.out.find(fs::path(named).filename().string()) != std::string::npos, "file not named: " << p.describe());
        BOOST_TEST(verify(root.string(), kMulti, {"--quick", "--json"}).code == 0, "--quick checks no content");

        if (check_other_images) {
            // Every image using that layer fails, every other one verifies.
            const auto ids = docker_all_image_ids();
            const auto insp = docker_inspect_images(ids);
            std::size_t users = 0, others = 0;
            for (const auto& [id, o] : insp) {
                auto dirs = graph_dirs(o);
                bool uses = std::find(dirs.begin(), dirs.end(), victim.diff) != dirs.end();
                if (uses) {
                    ++users;
                    Result u = verify(root.string(), id, {"--json"});
                    BOOST_TEST(u.code == 4, "image " << id << " uses the tampered layer: " << u.describe());
                } else {
                    ++others;
                    // Docker's own paths name the real data root; the copy has the same dirs.
                    expect_image_verifies(root.string(), id, o);
                }
            }
            BOOST_TEST(users >= 1u);
            BOOST_TEST(others >= 2u, "self-check: ovltest-base and ovltest-deep do not use the layer");
        }
        OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(root, false)), "verify changed the data root copy");
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_image_docker_lists_verifies) {
    const auto ids = docker_all_image_ids();
    const auto insp = docker_inspect_images(ids);
    BOOST_TEST(ids.size() >= 4u);
    for (const auto& [id, o] : insp) expect_image_verifies(data_root(), id, o);
    // By reference too, and the plain form.
    for (const std::string& ref : {kBase, kMulti, kDeep, digest_reference()}) {
        Result p = verify(data_root(), ref, {});
        OVLT_EXPECT_EXIT(p, 0);
        const auto ls = lines_of(p.out);
        BOOST_TEST((!ls.empty() && ls.back() == "verify: ok"), p.describe());
        std::size_t layer_lines = 0;
        for (const auto& l : ls)
            if (l.rfind("LAYER ", 0) == 0) {
                ++layer_lines;
                std::istringstream in(l);
                std::string w, index, role, cache, status;
                in >> w >> index >> role >> cache >> status;
                BOOST_TEST(role == "image", l);
                BOOST_TEST(cache.size() == 12u, l);
                BOOST_TEST(status == "ok", l);
            }
        BOOST_TEST(layer_lines == docker_diff_ids(ref).size(), p.describe());
    }
}

BOOST_AUTO_TEST_CASE(a_containers_own_layers_are_not_covered) {
    const auto cinsp = docker_inspect_containers({docker_container_id(kChanges)})
                           .begin()
                           ->second;
    const auto dirs = graph_dirs(cinsp);  // writable, init, image layers
    const std::string image_id(cinsp.at("Image").as_string());
    const auto diff_ids = docker_diff_ids(image_id);
    BOOST_TEST_REQUIRE(dirs.size() == diff_ids.size() + 2);
    Result r = verify(data_root(), kChanges);
    OVLT_REQUIRE_EXIT(r, 0);
    const auto v = parse_json(r.out, "verify --json");
    BOOST_TEST(jstr(v, "kind") == "container");
    BOOST_TEST(jstr(v, "image_id") == image_id);
    BOOST_TEST(jat(v, "ok") == true);
    const auto& layers = jat(v, "layers").as_array();
    BOOST_TEST_REQUIRE(layers.size() == dirs.size());
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const auto& l = layers[i];
        BOOST_TEST_CONTEXT("layer " << i + 1) {
            BOOST_TEST(json_int(jat(l, "index")) == static_cast<std::int64_t>(i + 1));
            if (i < diff_ids.size()) {
                BOOST_TEST(jstr(l, "role") == "image");
                BOOST_TEST(jstr(l, "status") == "ok");
                BOOST_TEST(jstr(l, "actual") == diff_ids[i]);
            } else {
                const std::string& dir = dirs[dirs.size() - 1 - i];
                BOOST_TEST(jstr(l, "role") == (i == diff_ids.size() ? "init" : "writable"));
                BOOST_TEST(jstr(l, "status") == "not covered");
                auto [files, bytes] = regular_files(dir);
                BOOST_TEST(json_int(jat(l, "files")) == files, "regular files of " << dir);
                BOOST_TEST(json_int(jat(l, "bytes")) == bytes, "bytes of " << dir);
            }
        }
    }
    Result p = verify(data_root(), kChanges, {});
    OVLT_EXPECT_EXIT(p, 0);
    BOOST_TEST(p.out.find("not covered") != std::string::npos, p.describe());
    BOOST_TEST((!lines_of(p.out).empty() && lines_of(p.out).back() == "verify: ok"), p.describe());
}

BOOST_AUTO_TEST_CASE(quick_checks_metadata_only) {
    for (const std::string& ref : {kBase, kMulti, kDeep, kChanges}) {
        BOOST_TEST_CONTEXT("verify --quick " << ref) {
            Result r = verify(data_root(), ref, {"--quick", "--json"});
            OVLT_REQUIRE_EXIT(r, 0);
            const auto v = parse_json(r.out, "verify --quick --json");
            BOOST_TEST(jat(v, "ok") == true);
            BOOST_TEST(jstr(v, "level") == "metadata");
            BOOST_TEST(jat(jat(v, "metadata"), "ok") == true);
            for (const auto& l : jat(v, "layers").as_array()) {
                if (jstr(l, "role") == "image") {
                    BOOST_TEST(jstr(l, "status") == "skipped", boost::json::serialize(l));
                    BOOST_TEST(jat(l, "actual").is_null(), boost::json::serialize(l));
                } else {
                    BOOST_TEST((jstr(l, "status") == "not covered" || jstr(l, "status") == "skipped"),
                               boost::json::serialize(l));
                }
            }
            Result p = verify(data_root(), ref, {"--quick"});
            OVLT_EXPECT_EXIT(p, 0);
            BOOST_TEST((!lines_of(p.out).empty() && lines_of(p.out).back() == "verify: ok"), p.describe());
        }
    }
}

BOOST_AUTO_TEST_CASE(one_changed_byte_fails_exactly_that_layer_and_file) {
    run_tamper({"one byte changed, same size",
                [](const fs::path& diff, const std::string& rel) {
                    std::string s = read_file(diff / rel);
                    s[s.size() / 2] = static_cast<char>(s[s.size() / 2] ^ 0x01);
                    write_file(diff / rel, s);
                    return rel;
                },
                "content differs"},
               pick_victim(), true);
}

BOOST_AUTO_TEST_CASE(an_appended_byte_is_named_as_a_size_problem) {
    run_tamper({"one byte appended",
                [](const fs::path& diff, const std::string& rel) {
                    write_file(diff / rel, read_file(diff / rel) + "x");
                    return rel;
                },
                "size"},
               pick_victim(), false);
}

BOOST_AUTO_TEST_CASE(a_stray_file_is_named_as_not_in_tar_split) {
    run_tamper({"a file added to the diff dir",
                [](const fs::path& diff, const std::string& rel) {
                    const std::string stray = (fs::path(rel).parent_path() / "ovltest-stray").string();
                    write_file(diff / stray, "not from docker\n");
                    return stray;
                },
                "not in tar-split"},
               pick_victim(), false);
}

BOOST_AUTO_TEST_CASE(a_deleted_file_is_named_as_missing) {
    run_tamper({"a file deleted",
                [](const fs::path& diff, const std::string& rel) {
                    fs::remove(diff / rel);
                    return rel;
                },
                "missing"},
               pick_victim(), false);
}

BOOST_AUTO_TEST_CASE(metadata_tampering_fails_quick) {
    const auto dirs = docker_lowerdirs(kMulti);  // top first
    const std::string mid = layer_dir_name(dirs.at(dirs.size() / 2));
    {
        TempDir t("ver");
        const fs::path root = t / "root";
        copy_data_root(root);
        const fs::path ldb = layerdb_dir_of_cache(root, mid);
        write_file(ldb / "diff", "sha256:" + sha256_hex("another layer"));
        const Snapshot before = snapshot(root, false);
        for (const std::vector<std::string>& opts :
             {std::vector<std::string>{"--quick", "--json"}, std::vector<std::string>{"--quick"}}) {
            Result r = verify(root.string(), kMulti, opts);
            OVLT_EXPECT_EXIT(r, 4);
            const std::string all = r.out + r.err;
            BOOST_TEST((all.find(mid.substr(0, 12)) != std::string::npos ||
                        all.find(ldb.filename().string().substr(0, 12)) != std::string::npos),
                       "the layer (cache-id " << mid << ", chain " << ldb.filename().string()
                                              << ") is not named: " << r.describe());
            BOOST_TEST(r.out.find("verify: ok") == std::string::npos, r.describe());
            BOOST_TEST(r.out.find("\"ok\":true,\"level\"") == std::string::npos, r.describe());
            if (opts.size() == 2 && !trim(r.out).empty()) {
                const auto v = parse_json(r.out, "verify --quick --json");
                BOOST_TEST(jat(v, "ok") == false);
                BOOST_TEST(jat(jat(v, "metadata"), "ok") == false);
            }
        }
        OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(root, false)), "verify changed the data root copy");
    }
    {
        TempDir t("ver");
        const fs::path root = t / "root";
        copy_data_root(root);
        change_created_digit(root, docker_image_id(kMulti));
        for (const std::vector<std::string>& opts : {std::vector<std::string>{"--quick", "--json"},
                                                     std::vector<std::string>{"--quick"},
                                                     std::vector<std::string>{"--json"}}) {
            Result r = verify(root.string(), kMulti, opts);
            OVLT_EXPECT_EXIT(r, 4);
            BOOST_TEST(r.out.find("verify: ok") == std::string::npos, r.describe());
        }
        // The other images are not affected.
        OVLT_EXPECT_EXIT(verify(root.string(), kBase, {"--quick"}), 0);
    }
}

BOOST_AUTO_TEST_CASE(throughput_of_a_hundred_layers_vs_openssl) {
    // Not an assertion on time: a figure for the README. Both read the same files of a copy.
    TempDir t("ver");
    const fs::path root = t / "root";
    copy_data_root(root);
    std::vector<std::string> files{"openssl", "dgst", "-sha256"};
    std::int64_t file_bytes = 0;
    for (const auto& d : docker_lowerdirs(kDeep)) {
        const fs::path diff = in_copy(root, d);
        for (const auto& [rel, n] : walk_tree(diff))
            if (n.type == S_IFREG) {
                files.push_back((diff / rel).string());
                file_bytes += n.size;
            }
    }
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    Result v = verify(root.string(), kDeep);
    auto t1 = clock::now();
    OVLT_REQUIRE_EXIT(v, 0);
    Result o = run(files);
    auto t2 = clock::now();
    OVLT_REQUIRE_EXIT(o, 0);
    std::int64_t stream_bytes = 0;
    const auto vj = parse_json(v.out, "verify --json");
    for (const auto& l : jat(vj, "layers").as_array()) stream_bytes += json_int(jat(l, "bytes"));
    const double sv = std::chrono::duration<double>(t1 - t0).count();
    const double so = std::chrono::duration<double>(t2 - t1).count();
    char figures[400];
    std::snprintf(figures, sizeof figures,
                  "verify %s (100 layers): %lld tar bytes in %.3f s (%.1f MB/s); openssl dgst -sha256 of the same %zu "
                  "files (%lld bytes): %.3f s (%.1f MB/s)",
                  kDeep.c_str(), static_cast<long long>(stream_bytes), sv, static_cast<double>(stream_bytes) / 1e6 / sv,
                  files.size() - 3, static_cast<long long>(file_bytes), so, static_cast<double>(file_bytes) / 1e6 / so);
    BOOST_TEST_MESSAGE(figures);
    BOOST_TEST(stream_bytes >= file_bytes, "the tar streams are smaller than the files in them");
}
