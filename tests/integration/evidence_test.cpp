// Evidence safety: resolve, mount (read-only and writable), reading everything through the
// mounts, list and umount change nothing below the data root, not even an atime, on a
// filesystem mounted strictatime (every access would show).
#define BOOST_TEST_MODULE ovlmount_integration_evidence
#include "itest.hpp"

#include <sys/mount.h>
#include <sys/stat.h>

using namespace ovltest;

BOOST_AUTO_TEST_CASE(the_snapshot_itself_changes_nothing) {
    // Self-check of the method: taking a snapshot (O_NOATIME reads, no readlink) twice in a row
    // gives the same answer, so a difference later is ovlmount's doing.
    EvidenceCopy ev;
    Snapshot a = snapshot(ev.root, true);
    Snapshot b = snapshot(ev.root, true);
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(a, b), "snapshot changed the tree");
    BOOST_TEST(a.size() > 100u);
    // ... and it sees an ordinary read (an atime change) on this filesystem.
    BOOST_TEST(read_every_file(ev.root / "image") > 0u);
    auto d = diff_snapshots(b, snapshot(ev.root, true));
    BOOST_TEST(!d.empty(), "reading files changed no atime: the snapshot cannot see accesses");
    BOOST_TEST((!d.empty() && d.front().find("atime") != std::string::npos), joined(d));
}

BOOST_AUTO_TEST_CASE(resolve_mount_read_list_umount_change_nothing) {
    EvidenceCopy ev;
    const std::string root = ev.root.string();
    const fs::path state = ev.t / "state";
    const Snapshot before = snapshot(ev.root, true);

    // resolve, every way
    for (const std::string& ref : {kBase, kMulti, kDeep, digest_reference(), docker_image_id(kMulti),
                                   docker_image_id(kDeep).substr(7, 16)}) {
        OVLT_EXPECT_EXIT(ovl({"--data-root", root, "resolve", "--json", ref}), 0);
        OVLT_EXPECT_EXIT(ovl({"--data-root", root, "resolve", ref}), 0);
    }
    OVLT_EXPECT_EXIT(ovl({"--data-root", root, "resolve", "ovltest-nonexistent"}), 3);

    // mounts: read-only multi, read-only one-layer, --writable deep, --upper/--work multi
    struct M {
        std::string image;
        std::vector<std::string> opts;
        fs::path target;
    };
    std::vector<M> mounts{{kMulti, {}, ev.t / "ro-multi"},
                          {kBase, {}, ev.t / "ro-base"},
                          {kDeep, {"--writable"}, ev.t / "rw-deep"},
                          {kMulti,
                           {"--upper", (ev.t / "upper").string(), "--work", (ev.t / "work").string()},
                           ev.t / "rw-multi"}};
    fs::create_directories(ev.t / "upper");
    fs::create_directories(ev.t / "work");
    for (auto& m : mounts) {
        fs::create_directories(m.target);
        std::vector<std::string> args{"mount"};
        args.insert(args.end(), m.opts.begin(), m.opts.end());
        args.insert(args.end(), {m.image, m.target.string()});
        OVLT_REQUIRE_EXIT(ovl(with_dirs(state, args, root)), 0);
        BOOST_TEST(mount_at(m.target).has_value());
    }
    // Read everything, list directories, follow symlinks: all through the mounts.
    for (auto& m : mounts) BOOST_TEST(read_every_file(m.target) >= 4u);  // the one-layer base has 4 files
    // Write through the writable ones: copy-ups, whiteouts, new files.
    for (const fs::path& w : {ev.t / "rw-deep", ev.t / "rw-multi"}) {
        write_file(w / "new-file", "new");
        write_file(w / "etc/passwd", read_file(w / "etc/passwd") + "x:x:1:1::/:/bin/sh\n");
        fs::remove(w / "bin/busybox");
        fs::remove_all(w / "usr");
    }
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "list"}), 0);
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "list", "--json"}), 0);
    for (auto& m : mounts) OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", m.target.string()}), 0);
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "cleanup"}), 0);
    for (auto& m : mounts) BOOST_TEST(!mount_at(m.target).has_value());

    const Snapshot after = snapshot(ev.root, true);
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, after), "the data root changed");
}

BOOST_AUTO_TEST_CASE(umount_of_an_unknown_target_is_not_found_and_changes_nothing) {
    EvidenceCopy ev;
    const fs::path state = ev.t / "state";
    const fs::path target = ev.t / "target";
    fs::create_directories(target);
    // A state dir with one live record.
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", "--writable", kMulti, target.string()}, ev.root.string())), 0);
    fs::create_directories(ev.t / "not-mounted");
    const Snapshot root_before = snapshot(ev.root, true);
    const Snapshot state_before = snapshot(state, false);
    for (const fs::path& p : {ev.t / "not-mounted", ev.t / "does-not-exist", ev.mnt}) {
        Result r = ovl({"--state-dir", state.string(), "umount", p.string()});
        OVLT_EXPECT_EXIT(r, 3);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
    }
    BOOST_TEST(mount_at(ev.mnt).has_value(), "the untracked tmpfs was unmounted");
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(root_before, snapshot(ev.root, true)), "the data root changed");
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(state_before, snapshot(state, false)), "the state dir changed");
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", target.string()}), 0);
}

// ---- the catalog and forensic commands --------------------------------------------------

namespace {

// images, containers, inspect, verify (full), which and owner, each with --json and plain,
// against the data root `root`; every one must exit 0.
void run_catalog_commands(const std::string& root) {
    const auto multi_dirs = docker_lowerdirs(kMulti);
    const std::string base_layer = layer_dir_name(docker_lowerdirs(kBase).front());
    const std::string mid = layer_dir_name(multi_dirs.at(multi_dirs.size() / 2));
    const std::string link = trim(read_file(fs::path(data_root()) / "overlay2" / mid / "link"));
    const std::string mount_id = layer_dir_name(docker_container_lowerdirs(kChanges).front());
    const std::vector<std::vector<std::string>> commands{
        {"images"},
        {"containers"},
        {"inspect", kMulti},
        {"inspect", kChanges},
        {"inspect", kVols},
        {"verify", kMulti},
        {"verify", kBase},
        {"verify", kChanges},
        {"verify", "--quick", kDeep},
        {"which", kMulti, "/data/keep"},
        {"which", kMulti, "/gone"},
        {"which", kChanges, "/etc/hostname"},
        {"which", kChanges, "/etc/passwd"},
        {"owner", base_layer},
        {"owner", link},
        {"owner", mount_id},
        {"owner", mount_id + "-init"},
    };
    for (bool json : {true, false})
        for (const auto& c : commands) {
            std::vector<std::string> args{"--data-root", root, c.front()};
            if (json) args.push_back("--json");
            args.insert(args.end(), c.begin() + 1, c.end());
            OVLT_EXPECT_EXIT(ovl(args), 0);
        }
}

}  // namespace

BOOST_AUTO_TEST_CASE(catalog_verify_which_owner_change_nothing) {
    EvidenceCopy ev;
    const std::string root = ev.root.string();
    const Snapshot before = snapshot(ev.root, true);
    run_catalog_commands(root);
    // Also the full verify of the 100-layer image (reads every file of every layer), and the
    // answers that are errors.
    OVLT_EXPECT_EXIT(ovl({"--data-root", root, "verify", "--json", kDeep}), 0);
    OVLT_EXPECT_EXIT(ovl({"--data-root", root, "which", kMulti, "/nonexistent"}), 3);
    OVLT_EXPECT_EXIT(ovl({"--data-root", root, "owner", sha256_hex("no such layer")}), 3);
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(ev.root, true)), "the data root changed");
}

BOOST_AUTO_TEST_CASE(everything_works_on_a_read_only_data_root) {
    // A seized disk is mounted read-only: a read-only bind mount of a copy of the data root.
    TempDir t("evro");
    const fs::path copy = t / "copy";
    const fs::path ro = t / "ro";
    const fs::path state = t / "state";
    copy_data_root(copy);
    fs::create_directories(ro);
    BOOST_TEST_REQUIRE(::mount(copy.c_str(), ro.c_str(), nullptr, MS_BIND, nullptr) == 0, std::strerror(errno));
    BOOST_TEST_REQUIRE(::mount(nullptr, ro.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0,
                       std::strerror(errno));
    auto m = mount_at(ro);
    BOOST_TEST_REQUIRE((m.has_value() && m->has_option("ro")), "the bind mount is not read-only");
    BOOST_TEST(::mkdir((ro / "ovltest-probe").c_str(), 0700) != 0, "self-check: the data root is writable");
    const Snapshot before = snapshot(copy, false);

    run_catalog_commands(ro.string());

    // Mounts from it: an image read-only, a container read-only (and one with its volumes);
    // every file read through them, then unmounted.
    struct M {
        std::vector<std::string> args;
        fs::path target;
    };
    std::vector<M> mounts{{{"mount", kMulti}, t / "m-multi"},
                          {{"mount", kBase}, t / "m-base"},
                          {{"container", kChanges}, t / "c-changes"},
                          {{"container", "--volumes", kVols}, t / "c-vols"}};
    for (auto& mt : mounts) {
        BOOST_TEST_CONTEXT(joined(mt.args, " ")) {
            fs::create_directories(mt.target);
            auto args = mt.args;
            args.push_back(mt.target.string());
            Result r = ovl(with_dirs(state, args, ro.string()));
            OVLT_EXPECT_EXIT(r, 0);
            if (r.code != 0) continue;
            BOOST_TEST(read_every_file(mt.target) >= 4u);
            OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", mt.target.string()}), 0);
            BOOST_TEST(mounts_below(mt.target).empty(), "still mounted after umount");
        }
    }
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(copy, false)), "the data root copy changed");
}
