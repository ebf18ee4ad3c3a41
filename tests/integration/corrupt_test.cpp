// Bad input: a corrupted copy of the data root. Each case must fail with the documented exit
// code and one line on stderr, mount nothing, leave the state dir's records as they were and
// the data root copy untouched.
#define BOOST_TEST_MODULE ovlmount_integration_corrupt
#include "itest.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <functional>

using namespace ovltest;

namespace {

// path -> (type, contents hash): what "the records are unchanged" means (directory times may
// change when a record is created and removed again).
std::map<std::string, std::string> records_view(const Snapshot& s) {
    std::map<std::string, std::string> out;
    for (const auto& [p, st] : s) out[p] = std::to_string(st.mode & S_IFMT) + ":" + st.hash;
    return out;
}

fs::path config_of(const fs::path& root, const std::string& image) {
    return root / "image/overlay2/imagedb/content/sha256" / docker_image_id(image).substr(7);
}

void replace_once(const fs::path& file, const std::string& from, const std::string& to) {
    std::string s = read_file(file);
    auto p = s.find(from);
    if (p == std::string::npos) throw std::runtime_error(from + " not in " + file.string());
    s.replace(p, from.size(), to);
    write_file(file, s);
}

struct Case {
    std::string name;
    std::string image;  // reference to resolve/mount
    std::function<void(const fs::path& root)> corrupt;
    std::vector<int> codes;               // acceptable exit codes
    std::vector<std::string> names_any;  // stderr must contain one of these (if non-empty)
};

void run_case(const Case& c) {
    BOOST_TEST_CONTEXT("case " << c.name) {
        TempDir t("bad");
        const fs::path root = t / "root";
        const fs::path state = t / "state";
        copy_data_root(root);
        // A state dir with a live record (a good image mounted from the real data root).
        fs::create_directories(t / "keep");
        OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", "--writable", kBase, (t / "keep").string()})), 0);
        c.corrupt(root);
        const Snapshot root_before = snapshot(root, false);
        const auto state_before = records_view(snapshot(state, false));
        const auto mounts_before = ovlmount_mounts().size();

        fs::create_directories(t / "target");
        std::vector<std::vector<std::string>> commands{
            {"--data-root", root.string(), "resolve", "--json", c.image},
            {"--data-root", root.string(), "resolve", c.image},
            with_dirs(state, {"mount", c.image, (t / "target").string()}, root.string()),
            with_dirs(state, {"mount", "--writable", c.image, (t / "target").string()}, root.string()),
            with_dirs(state, {"mount", "--dry-run", c.image, (t / "target").string()}, root.string()),
        };
        for (const auto& args : commands) {
            Result r = ovl(args);
            BOOST_TEST((std::find(c.codes.begin(), c.codes.end(), r.code) != c.codes.end()),
                       "unexpected exit code: " << r.describe());
            OVLT_EXPECT_ONE_ERROR_LINE(r);
            if (!c.names_any.empty())
                BOOST_TEST((std::any_of(c.names_any.begin(), c.names_any.end(),
                                        [&](const std::string& n) { return r.err.find(n) != std::string::npos; })),
                           "the message names none of" << joined(c.names_any, " ") << ": " << r.err);
            BOOST_TEST(!mount_at(t / "target").has_value(), "something is mounted at the target");
            BOOST_TEST(ovlmount_mounts().size() == mounts_before);
        }
        OVLT_EXPECT_NO_DIFFS(diff_snapshots(root_before, snapshot(root, false)), "the data root copy changed");
        const auto state_after = records_view(snapshot(state, false));
        BOOST_TEST((state_after == state_before), "the state dir's records changed");
        auto list = ovl_list(state);
        BOOST_TEST(list.size() == 1u, boost::json::serialize(list));
        OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", (t / "keep").string()}), 0);
    }
}

std::string multi_id_hex() { return docker_image_id(kMulti).substr(7); }

}  // namespace

BOOST_AUTO_TEST_CASE(image_config_with_one_byte_changed) {
    run_case({"config byte", kMulti,
              [](const fs::path& root) {
                  // Still valid JSON; only the digest check can catch it.
                  replace_once(config_of(root, kMulti), "\"created\":\"2", "\"created\":\"3");
              },
              {4},
              {multi_id_hex().substr(0, 12), kMulti}});
}

BOOST_AUTO_TEST_CASE(malformed_repositories_json) {
    run_case({"repositories.json", kMulti,
              [](const fs::path& root) {
                  fs::path f = root / "image/overlay2/repositories.json";
                  std::string s = read_file(f);
                  write_file(f, s.substr(0, s.size() / 2));
              },
              {4},
              {}});
}

BOOST_AUTO_TEST_CASE(cache_id_path_traversal) {
    run_case({"cache-id ../../etc", kMulti,
              [](const fs::path& root) {
                  auto top = layer_dir_name(docker_lowerdirs(kMulti).front());
                  write_file(layerdb_dir_of_cache(root, top) / "cache-id", "../../etc");
              },
              {4},
              {}});
}

BOOST_AUTO_TEST_CASE(cache_id_not_64_hex) {
    run_case({"cache-id 63 hex", kMulti,
              [](const fs::path& root) {
                  auto mid = layer_dir_name(docker_lowerdirs(kMulti).at(3));
                  write_file(layerdb_dir_of_cache(root, mid) / "cache-id", mid.substr(0, 63));
              },
              {4},
              {}});
}

BOOST_AUTO_TEST_CASE(missing_layer_directory) {
    run_case({"missing overlay2/<cache-id>", kMulti,
              [](const fs::path& root) {
                  auto mid = layer_dir_name(docker_lowerdirs(kMulti).at(2));
                  fs::remove_all(root / "overlay2" / mid);
              },
              {3},
              {}});
}

BOOST_AUTO_TEST_CASE(missing_layerdb_entry) {
    run_case({"missing layerdb/sha256/<chain>", kMulti,
              [](const fs::path& root) {
                  auto mid = layer_dir_name(docker_lowerdirs(kMulti).at(2));
                  fs::remove_all(layerdb_dir_of_cache(root, mid));
              },
              {3},
              {}});
}

BOOST_AUTO_TEST_CASE(layerdb_diff_does_not_match_the_diff_id) {
    run_case({"diff mismatch", kMulti,
              [](const fs::path& root) {
                  auto mid = layer_dir_name(docker_lowerdirs(kMulti).at(1));
                  write_file(layerdb_dir_of_cache(root, mid) / "diff", "sha256:" + sha256_hex("another layer"));
              },
              {4},
              {}});
}

BOOST_AUTO_TEST_CASE(config_with_an_invalid_diff_id) {
    // A config whose name is its true digest, with a diff ID that is a path.
    run_case({"diff_id ../", "evil:latest",
              [](const fs::path& root) {
                  const std::string config =
                      R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:../../../../etc"]}})";
                  const std::string id = sha256_hex(config);
                  write_file(root / "image/overlay2/imagedb/content/sha256" / id, config);
                  fs::path f = root / "image/overlay2/repositories.json";
                  auto v = parse_json(read_file(f), "repositories.json");
                  v.as_object()["Repositories"].as_object()["evil"] =
                      boost::json::object{{"evil:latest", "sha256:" + id}};
                  write_file(f, boost::json::serialize(v));
              },
              {4},
              {}});
}

BOOST_AUTO_TEST_CASE(diff_dir_is_a_symlink_out_of_the_data_root) {
    run_case({"diff -> /etc", kMulti,
              [](const fs::path& root) {
                  auto top = layer_dir_name(docker_lowerdirs(kMulti).front());
                  fs::remove_all(root / "overlay2" / top / "diff");
                  fs::create_directory_symlink("/etc", root / "overlay2" / top / "diff");
              },
              {3, 4},
              {}});
}

BOOST_AUTO_TEST_CASE(repositories_json_names_a_missing_image) {
    run_case({"dangling reference", "dangling:latest",
              [](const fs::path& root) {
                  fs::path f = root / "image/overlay2/repositories.json";
                  auto v = parse_json(read_file(f), "repositories.json");
                  v.as_object()["Repositories"].as_object()["dangling"] =
                      boost::json::object{{"dangling:latest", "sha256:" + sha256_hex("nothing")}};
                  write_file(f, boost::json::serialize(v));
              },
              {3, 4},
              {}});
}

BOOST_AUTO_TEST_CASE(containerd_image_store_is_named) {
    // Docker 29+ with the containerd image store: no image/overlay2, the layers live under
    // containerd's overlayfs snapshotter, here of no containerd root ovlmount was given or can
    // find below the data root. ovlmount must say so (DESIGN.md section 7.3).
    run_case({"containerd image store", kMulti,
              [](const fs::path& root) {
                  fs::remove_all(root / "image");
                  fs::remove_all(root / "overlay2");
                  fs::remove_all(root / "containerd");
                  fs::create_directories(root / "containerd/daemon/io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs");
              },
              {1, 3, 4},
              {"containerd"}});
}
