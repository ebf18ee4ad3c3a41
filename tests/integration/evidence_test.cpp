// Evidence safety: resolve, mount (read-only and writable), reading everything through the
// mounts, list and umount change nothing below the data root, not even an atime, on a
// filesystem mounted strictatime (every access would show).
#define BOOST_TEST_MODULE ovlmount_integration_evidence
#include "itest.hpp"

#include <sys/mount.h>

using namespace ovltest;

namespace {

// A tmpfs mounted strictatime with a copy of the data root at <dir>/root.
struct EvidenceCopy {
    TempDir t{"ev"};
    fs::path mnt = t / "fs";
    fs::path root = mnt / "root";
    EvidenceCopy() {
        fs::create_directories(mnt);
        if (::mount("tmpfs", mnt.c_str(), "tmpfs", MS_STRICTATIME, "mode=0755") != 0)
            throw std::runtime_error("mounting a strictatime tmpfs failed: " + std::string(std::strerror(errno)));
        copy_data_root(root);
        auto m = mount_at(mnt);
        if (!m || m->has_option("relatime") || m->has_option("noatime"))
            throw std::runtime_error("the tmpfs is not strictatime: " + (m ? m->options : std::string("?")));
    }
    ~EvidenceCopy() { ::umount2(mnt.c_str(), MNT_DETACH); }
};

}  // namespace

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
