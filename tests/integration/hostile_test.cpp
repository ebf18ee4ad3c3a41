// Hostile data roots (issue 9, threats 3 and 4): copies of the test data root crafted to exhaust
// memory or time, or to make ovlmount read outside the store or block on a special file. Every
// command must end with exit 4 and one line naming what it refused, in bounded time and memory
// (peak RSS measured with /usr/bin/time), mount nothing and change nothing; a 10 GB sparse
// file in a layer must stream through export, files and verify in constant memory.
#define BOOST_TEST_MODULE ovlmount_integration_hostile
#include "itest.hpp"

#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include <functional>

using namespace ovltest;

namespace {

// What /usr/bin/time measured of one run of ovlmount.
struct Measured {
    Result result;
    long peak_rss_kib = -1;
    double seconds = -1;
};

// Under ASan (OVLMOUNT_TEST_SANITIZED, set by CTest for a sanitizer build) memory is shadowed
// and freed blocks are quarantined, and every step is slower: the limits there are scaled, still
// far below what the attacks took before they were bounded (1.5 GB, minutes).
bool sanitized() { return std::getenv("OVLMOUNT_TEST_SANITIZED") != nullptr; }
const long kRssLimitKib = sanitized() ? 1024 * 1024 : 64 * 1024;
const double kSecondsLimit = sanitized() ? 60.0 : 10.0;

// `ovlmount <args...>` under /usr/bin/time, its stdout thrown away (an export of 10 GB must
// not land in the memory file run() collects stdout in).
Measured measured(const std::vector<std::string>& args, const fs::path& scratch) {
    const fs::path times = scratch / "time.out";
    std::vector<std::string> argv{"/bin/bash", "-c", R"(exec /usr/bin/time -f "%M %e" -o "$0" "$@" >/dev/null)",
                                  times.string(), env().bin};
    argv.insert(argv.end(), args.begin(), args.end());
    Measured m;
    m.result = run(argv, {.env_add = {}, .input = {}, .timeout = std::chrono::minutes(10)});
    std::istringstream in(read_file(times));
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    std::istringstream fields(last);
    fields >> m.peak_rss_kib >> m.seconds;
    BOOST_TEST_MESSAGE(joined(args, " ") << ": exit " << m.result.code << ", peak RSS " << m.peak_rss_kib
                                         << " KiB, " << m.seconds << " s");
    return m;
}

std::string cache_id_of(const fs::path& root, const std::string& chain_hex) {
    return trim(read_file(root / "image/overlay2/layerdb/sha256" / chain_hex / "cache-id"));
}

// A data root copy in which ovltest-hostile:latest names an image whose config is the base
// image's with `diff_id_count` diff IDs (the base layer's, repeated); the config's file name is
// its sha256, as Docker stores it, so only the layer count is wrong.
struct LayerBomb {
    TempDir t{"bomb"};
    fs::path root = t / "root";
    std::string id;

    explicit LayerBomb(std::size_t diff_id_count) {
        copy_data_root(root);
        const std::string base_id = docker_image_id(kBase).substr(7);
        boost::json::value config =
            parse_json(read_file(root / "image/overlay2/imagedb/content/sha256" / base_id), "base config");
        boost::json::array& diff_ids = config.at("rootfs").at("diff_ids").as_array();
        const boost::json::value base_diff = diff_ids.at(0);
        diff_ids.clear();
        for (std::size_t i = 0; i < diff_id_count; ++i) diff_ids.push_back(base_diff);
        const std::string text = boost::json::serialize(config);
        id = sha256_hex(text);
        write_file(root / "image/overlay2/imagedb/content/sha256" / id, text);
        const fs::path repositories = root / "image/overlay2/repositories.json";
        boost::json::value names = parse_json(read_file(repositories), "repositories.json");
        names.at("Repositories").as_object()["ovltest-hostile"] =
            boost::json::object{{"ovltest-hostile:latest", "sha256:" + id}};
        write_file(repositories, boost::json::serialize(names));
    }
};

// Every read-only command and a mount, each on `reference` in the data root `root`: exit 4, one
// line naming `problem`, within `rss_limit_kib` and 10 s, nothing mounted, the copy unchanged.
void expect_every_command_refuses(const fs::path& root, const std::string& reference, const std::string& problem,
                                  const fs::path& scratch, long rss_limit_kib = kRssLimitKib) {
    const Snapshot before = snapshot(root, false);
    const auto mounts_before = ovlmount_mounts().size();
    const fs::path state = scratch / "state";
    const fs::path target = scratch / "target";
    fs::create_directories(target);
    const std::string r = root.string();
    const std::vector<std::vector<std::string>> commands{
        {"--data-root", r, "resolve", reference},
        {"--data-root", r, "resolve", "--json", reference},
        {"--data-root", r, "inspect", reference},
        {"--data-root", r, "verify", reference},
        {"--data-root", r, "which", reference, "/etc/passwd"},
        {"--data-root", r, "files", reference},
        {"--data-root", r, "export", "-o", "-", reference},
        {"--data-root", r, "--state-dir", state.string(), "mount", reference, target.string()},
        {"--data-root", r, "--state-dir", state.string(), "mount", "--dry-run", reference, target.string()},
    };
    for (const auto& args : commands) {
        BOOST_TEST_CONTEXT(joined(args, " ")) {
            const Measured m = measured(args, scratch);
            OVLT_EXPECT_EXIT(m.result, 4);
            OVLT_EXPECT_ONE_ERROR_LINE(m.result);
            BOOST_TEST(m.result.err.find(problem) != std::string::npos, "not named: " << m.result.err);
            BOOST_TEST(m.peak_rss_kib > 0);
            BOOST_TEST(m.peak_rss_kib < rss_limit_kib);
            BOOST_TEST(m.seconds < kSecondsLimit);
            BOOST_TEST(!mount_at(target).has_value());
            BOOST_TEST(ovlmount_mounts().size() == mounts_before);
        }
    }
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(root, false)), "the data root copy changed");
}

// A unix socket file at `path`: bound at a short name in a dir of its own (a socket address
// holds at most 107 bytes), then renamed into place.
void make_socket(const fs::path& path) {
    TempDir short_dir("s");
    const fs::path bound_at = short_dir / "s";
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_TEST_REQUIRE(fd >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    BOOST_TEST_REQUIRE(bound_at.string().size() < sizeof address.sun_path);
    std::copy_n(bound_at.c_str(), bound_at.string().size(), address.sun_path);
    const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    const int bind_errno = errno;
    ::close(fd);
    BOOST_TEST_REQUIRE(bound == 0, "bind " << bound_at << ": " << std::strerror(bind_errno));
    fs::rename(bound_at, path);
}

// `images` over the whole bombed store: the one image BROKEN with `problem`, exit 4.
void expect_images_flags(const LayerBomb& bomb, const std::string& problem) {
    const Measured listed = measured({"--data-root", bomb.root.string(), "images"}, bomb.t.path());
    BOOST_TEST(listed.peak_rss_kib < kRssLimitKib);
    const Result images = ovl({"--data-root", bomb.root.string(), "images"});
    OVLT_EXPECT_EXIT(images, 4);
    bool listed_broken = false;
    for (const std::string& line : lines_of(images.out))
        if (line.find(bomb.id.substr(0, 12)) == 0)
            listed_broken = line.find("BROKEN: ") != std::string::npos && line.find(problem) != std::string::npos;
    BOOST_TEST(listed_broken, images.out);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_config_with_100000_diff_ids_is_corrupt_in_bounded_time_and_memory) {
    LayerBomb bomb(100'000);
    const std::string problem = "image has 100000 layers; overlayfs stacks at most 500";
    expect_every_command_refuses(bomb.root, "ovltest-hostile", problem, bomb.t.path());
    expect_images_flags(bomb, problem);
}

BOOST_AUTO_TEST_CASE(an_image_of_501_layers_is_refused_before_any_mount) {
    LayerBomb bomb(501);
    const std::string problem = "image has 501 layers; overlayfs stacks at most 500";
    expect_every_command_refuses(bomb.root, "ovltest-hostile", problem, bomb.t.path());
    expect_images_flags(bomb, problem);
}

// A 60 MiB "[0,0,...]" would take 1.5 GB to parse without json_input's budget (256 MiB).
BOOST_AUTO_TEST_CASE(deeply_nested_oversized_and_bomb_repositories_json_are_corrupt) {
    TempDir t("json");
    const fs::path root = t / "root";
    copy_data_root(root);
    const fs::path repositories = root / "image/overlay2/repositories.json";
    write_file(repositories, std::string(100'000, '[') + std::string(100'000, ']'));
    expect_every_command_refuses(root, kBase, "repositories.json: malformed JSON", t.path());

    write_file(repositories, "");
    fs::resize_file(repositories, (std::uintmax_t{64} << 20) + 1);
    expect_every_command_refuses(root, kBase, "repositories.json: file is larger than", t.path());

    std::string zeros = "[";
    while (zeros.size() < (std::size_t{60} << 20)) zeros += "0,";
    write_file(repositories, zeros + "0]");
    expect_every_command_refuses(root, kBase, "repositories.json: malformed JSON: needs more memory", t.path(),
                                 400 * 1024);
}

BOOST_AUTO_TEST_CASE(a_cache_id_hard_linked_to_a_file_outside_the_store_is_corrupt) {
    TempDir t("hardlink");
    const fs::path root = t / "root";
    copy_data_root(root);
    const std::string chain_hex = docker_diff_ids(kBase).at(0).substr(7);
    const fs::path cache_id = root / "image/overlay2/layerdb/sha256" / chain_hex / "cache-id";
    const fs::path outside = t / "outside-the-store";
    write_file(outside, read_file(cache_id));
    fs::remove(cache_id);
    fs::create_hard_link(outside, cache_id);
    expect_every_command_refuses(root, kBase, cache_id.string() + ": metadata file has 2 hard links", t.path());
}

BOOST_AUTO_TEST_CASE(a_fifo_socket_or_device_where_a_store_file_or_dir_belongs_is_corrupt) {
    const std::string chain_hex = docker_diff_ids(kBase).at(0).substr(7);
    const std::string config = "image/overlay2/imagedb/content/sha256/" + docker_image_id(kBase).substr(7);
    const std::string layerdb = "image/overlay2/layerdb/sha256/" + chain_hex;
    struct Plant {
        std::string what;
        std::function<std::string(const fs::path& root)> path;  // relative to the data root
        mode_t type;
        std::string problem;  // follows the planted path in the message
    };
    const std::vector<Plant> plants{
        {"a FIFO as the image config", [&](const fs::path&) { return config; }, S_IFIFO, ": not a regular file"},
        {"a socket as the layerdb dir", [&](const fs::path&) { return layerdb; }, S_IFSOCK, " is not a directory"},
        {"a FIFO as the layer's diff dir",
         [&](const fs::path& root) { return "overlay2/" + cache_id_of(root, chain_hex) + "/diff"; }, S_IFIFO,
         " is not a directory"},
        {"a device as the layer's diff dir",
         [&](const fs::path& root) { return "overlay2/" + cache_id_of(root, chain_hex) + "/diff"; }, S_IFCHR,
         " is not a directory"},
    };
    for (const Plant& plant : plants) {
        BOOST_TEST_CONTEXT(plant.what) {
            TempDir t("special");
            const fs::path root = t / "root";
            copy_data_root(root);
            const fs::path path = root / plant.path(root);
            fs::remove_all(path);
            if (plant.type == S_IFSOCK)
                make_socket(path);
            else
                BOOST_TEST_REQUIRE(::mknod(path.c_str(), plant.type | 0600, makedev(1, 3)) == 0);
            expect_every_command_refuses(root, kBase, path.string() + plant.problem, t.path());
        }
    }
}

BOOST_AUTO_TEST_CASE(a_10_gb_sparse_file_streams_through_export_files_and_verify_in_constant_memory) {
    TempDir t("sparse");
    const fs::path root = t / "root";
    copy_data_root(root);
    const std::string chain_hex = docker_diff_ids(kBase).at(0).substr(7);
    const fs::path big = root / "overlay2" / cache_id_of(root, chain_hex) / "diff/big.bin";
    write_file(big, "");
    fs::resize_file(big, std::uintmax_t{10} << 30);
    const std::string r = root.string();

    const Measured exported = measured({"--data-root", r, "export", "-o", "-", kBase}, t.path());
    OVLT_EXPECT_EXIT(exported.result, 0);
    BOOST_TEST(exported.peak_rss_kib > 0);
    BOOST_TEST(exported.peak_rss_kib < kRssLimitKib);

    const Measured listed = measured({"--data-root", r, "files", "--csv", kBase, "/big.bin"}, t.path());
    OVLT_EXPECT_EXIT(listed.result, 0);
    BOOST_TEST(listed.peak_rss_kib > 0);
    BOOST_TEST(listed.peak_rss_kib < kRssLimitKib);
    const Result row = ovl({"--data-root", r, "files", "--csv", "--hash", "none", kBase, "/big.bin"});
    OVLT_EXPECT_EXIT(row, 0);
    BOOST_TEST(row.out.find("10737418240") != std::string::npos, row.out);

    const Measured verified = measured({"--data-root", r, "verify", kBase}, t.path());
    OVLT_EXPECT_EXIT(verified.result, 4);
    BOOST_TEST(verified.peak_rss_kib > 0);
    BOOST_TEST(verified.peak_rss_kib < kRssLimitKib);
    const Result problems = ovl({"--data-root", r, "verify", kBase});
    OVLT_EXPECT_EXIT(problems, 4);
    BOOST_TEST((problems.out + problems.err).find("big.bin") != std::string::npos, problems.describe());
}

BOOST_AUTO_TEST_CASE(directories_nested_deeper_than_2048_levels_are_corrupt_for_every_tree_walk) {
    TempDir t("nested");
    const fs::path root = t / "root";
    copy_data_root(root);
    const std::string chain_hex = docker_diff_ids(kBase).at(0).substr(7);
    const NestedDirs deep(root / "overlay2" / cache_id_of(root, chain_hex) / "diff/deep", 2100);
    const std::string r = root.string();
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"--data-root", r, "files", "--hash", "none", kBase},
             {"--data-root", r, "export", "-o", "-", kBase}}) {
        BOOST_TEST_CONTEXT(joined(args, " ")) {
            const Measured m = measured(args, t.path());
            OVLT_EXPECT_EXIT(m.result, 4);
            OVLT_EXPECT_ONE_ERROR_LINE(m.result);
            BOOST_TEST(m.result.err.find("/deep/...: directories nested deeper than 2048 levels") != std::string::npos,
                       m.result.err);
            BOOST_TEST(m.peak_rss_kib < kRssLimitKib);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_tar_split_gzip_bomb_is_corrupt_in_bounded_time_and_memory) {
    TempDir t("gzbomb");
    const fs::path root = t / "root";
    copy_data_root(root);
    const std::string chain_hex = docker_diff_ids(kBase).at(0).substr(7);
    const fs::path tar_split = root / "image/overlay2/layerdb/sha256" / chain_hex / "tar-split.json.gz";
    const fs::path member = t / "member.gz";
    const Result made = run({"/bin/bash", "-c",
                             R"(head -c 64M /dev/zero | tr '\0' '\n' | gzip -1 > "$0" && for i in $(seq 65); do cat "$0"; done > "$1")",
                             member.string(), tar_split.string()});
    OVLT_REQUIRE_EXIT(made, 0);
    BOOST_TEST_MESSAGE("tar-split of " << fs::file_size(tar_split) << " bytes inflating to 4.06 GiB of newlines");
    const Measured verified = measured({"--data-root", root.string(), "verify", kBase}, t.path());
    OVLT_EXPECT_EXIT(verified.result, 4);
    BOOST_TEST(verified.peak_rss_kib > 0);
    BOOST_TEST(verified.peak_rss_kib < kRssLimitKib);
    BOOST_TEST(verified.seconds < kSecondsLimit);
    const Result problems = ovl({"--data-root", root.string(), "verify", kBase});
    BOOST_TEST((problems.out + problems.err).find(tar_split.string() + ": more than 1048576 blank lines") !=
                   std::string::npos,
               problems.describe());
}

// toml++ makes one table per part of a dotted key and frees them recursively: 100,000 parts
// overflowed the stack (SIGSEGV) before config.cpp refused TOML with that many dots.
BOOST_AUTO_TEST_CASE(a_host_config_with_deeply_dotted_toml_keys_is_corrupt_not_a_crash) {
    std::string dotted = "a";
    for (int i = 1; i < 100'000; ++i) dotted += ".a";
    for (const std::string config : {"etc/containers/storage.conf", "etc/containerd/config.toml"}) {
        BOOST_TEST_CONTEXT(config) {
            TempDir t("toml");
            const fs::path host = t / "host";
            fs::create_directories((host / config).parent_path());
            write_file(host / config, "[storage]\n" + dotted + " = 1\n");
            const Measured listed = measured({"--host-root", host.string(), "images"}, t.path());
            OVLT_EXPECT_EXIT(listed.result, 4);
            OVLT_EXPECT_ONE_ERROR_LINE(listed.result);
            BOOST_TEST(listed.result.err.find((host / config).string() + ": not valid TOML") != std::string::npos,
                       listed.result.describe());
            BOOST_TEST(listed.peak_rss_kib < kRssLimitKib);
        }
    }
}
