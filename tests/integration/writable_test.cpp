// Writable mounts: `--upper U --work W` (the user's dirs, kept at umount) and `--writable`
// (a scratch upper under the state dir, removed at umount). Writes land in the upper; a deleted
// lower file becomes a whiteout there; the data root is never written.
#define BOOST_TEST_MODULE ovlmount_integration_writable
#include "itest.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

using namespace ovltest;

namespace {

bool is_whiteout(const fs::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

// Writes through a writable mount of ovltest-multi at `target` and checks they land in `upper`.
void write_through(const fs::path& target, const fs::path& upper) {
    write_file(target / "ovltest-new-file", "hello\n");
    BOOST_TEST(read_file(upper / "ovltest-new-file") == "hello\n");

    // A lower file deleted: a whiteout in the upper, gone from the mount.
    BOOST_TEST_REQUIRE(fs::exists(target / "data/keep"));
    fs::remove(target / "data/keep");
    BOOST_TEST(!fs::exists(fs::symlink_status(target / "data/keep")));
    BOOST_TEST(is_whiteout(upper / "data/keep"), "no whiteout for a deleted lower file in " << upper);

    // A lower directory removed wholesale: a whiteout for it.
    fs::remove_all(target / "perm");
    BOOST_TEST(is_whiteout(upper / "perm"));

    // A lower file modified: copied up with the new contents.
    const std::string before = read_file(target / "data/more/more.txt");
    write_file(target / "data/more/more.txt", before + "more\n");
    BOOST_TEST(read_file(upper / "data/more/more.txt") == before + "more\n");
    BOOST_TEST(read_file(target / "data/more/more.txt") == before + "more\n");
}

bool jbool(const boost::json::object& o, const char* key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || !v->is_bool()) throw std::runtime_error(std::string("no boolean ") + key + ": " + boost::json::serialize(o));
    return v->as_bool();
}

bool under(const std::string& p, const std::string& dir) { return p.size() > dir.size() && p.rfind(dir + "/", 0) == 0; }

// `r` was refused with one error line, mounted nothing at `target` and left the data root copy
// `root` as `before` recorded it.
void expect_refused(const Result& r, const fs::path& target, const fs::path& root, const Snapshot& before) {
    BOOST_TEST(r.code != 0, r.describe());
    OVLT_EXPECT_ONE_ERROR_LINE(r);
    BOOST_TEST(!mount_at(target).has_value());
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(root, false)), "data root copy changed");
}

// A writable overlay is mounted at `target`.
void expect_writable_overlay(const fs::path& target) {
    auto m = mount_at(target);
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST(m->fstype == "overlay");
    BOOST_TEST(m->has_option("rw"), m->options);
}

// `umount target` succeeds, the mount is gone and the registry under `state` is empty.
void expect_umounted(const fs::path& state, const fs::path& target) {
    Result u = ovl({"--state-dir", state.string(), "umount", target.string()});
    OVLT_EXPECT_EXIT(u, 0);
    BOOST_TEST(!mount_at(target).has_value());
    BOOST_TEST(ovl_list(state).empty());
}

}  // namespace

BOOST_AUTO_TEST_CASE(user_upper_and_work) {
    TempDir t("wr");
    const fs::path target = t / "target", upper = t / "upper", work = t / "work", state = t / "state";
    fs::create_directories(target);
    fs::create_directories(upper);
    fs::create_directories(work);
    const Snapshot root_before = snapshot(data_root(), false);

    Result r = ovl(with_dirs(state, {"mount", "--upper", upper.string(), "--work", work.string(), kMulti, target.string()}));
    OVLT_REQUIRE_EXIT(r, 0);
    expect_writable_overlay(target);

    auto list = ovl_list(state);
    const auto& rec = record_of(list, target);
    BOOST_TEST(jstr(rec, "state") == "mounted");
    BOOST_TEST(jbool(rec, "writable"));
    BOOST_TEST(jstr(rec, "upper") == canon(upper));
    BOOST_TEST(jstr(rec, "work") == canon(work));
    BOOST_TEST(rec.at("scratch").is_null());
    OVLT_EXPECT_SAME_LIST(jstrings(rec, "lowerdir"), docker_lowerdirs(kMulti), "record lowerdir");

    write_through(target, upper);

    expect_umounted(state, target);
    // The user's upper is kept, with what was written.
    BOOST_TEST(read_file(upper / "ovltest-new-file") == "hello\n");
    BOOST_TEST(is_whiteout(upper / "data/keep"));
    BOOST_TEST(fs::is_directory(work));
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(root_before, snapshot(data_root(), false)), "data root changed");
}

BOOST_AUTO_TEST_CASE(writable_scratch) {
    TempDir t("wr");
    const fs::path target = t / "target", state = t / "state";
    fs::create_directories(target);
    const Snapshot root_before = snapshot(data_root(), false);

    Result r = ovl(with_dirs(state, {"mount", "--writable", kMulti, target.string()}));
    OVLT_REQUIRE_EXIT(r, 0);
    expect_writable_overlay(target);

    auto list = ovl_list(state);
    const auto& rec = record_of(list, target);
    BOOST_TEST(jbool(rec, "writable"));
    const std::string scratch = jstr(rec, "scratch");
    const std::string upper = jstr(rec, "upper");
    const std::string work = jstr(rec, "work");
    const std::string scratch_root = canon(state / "scratch");
    BOOST_TEST(under(scratch, scratch_root), scratch << " is not under " << scratch_root);
    BOOST_TEST(under(upper, scratch), upper);
    BOOST_TEST(under(work, scratch), work);
    BOOST_TEST(fs::is_directory(upper));

    write_through(target, upper);

    expect_umounted(state, target);
    BOOST_TEST(!fs::exists(scratch), "scratch dir " << scratch << " left after umount");
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(root_before, snapshot(data_root(), false)), "data root changed");
}

BOOST_AUTO_TEST_CASE(two_writable_mounts_of_one_image_are_independent) {
    TempDir t("wr");
    const fs::path a = t / "a", b = t / "b", state = t / "state";
    fs::create_directories(a);
    fs::create_directories(b);
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", "--writable", kMulti, a.string()})), 0);
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", "--writable", kMulti, b.string()})), 0);
    write_file(a / "only-in-a", "a");
    BOOST_TEST(!fs::exists(b / "only-in-a"));
    auto list = ovl_list(state);
    BOOST_TEST(jstr(record_of(list, a), "scratch") != jstr(record_of(list, b), "scratch"));
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", a.string()}), 0);
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", b.string()}), 0);
    BOOST_TEST(mounts_below(t.path()).empty());
}

BOOST_AUTO_TEST_CASE(upper_inside_the_data_root_is_refused) {
    TempDir t("wr");
    const fs::path root = t / "root";
    copy_data_root(root);
    fs::create_directories(root / "ovltest-upper");
    fs::create_directories(root / "ovltest-work");
    fs::create_directories(t / "target");
    const Snapshot before = snapshot(root, false);
    Result r = ovl(with_dirs(t / "state",
                             {"mount", "--upper", (root / "ovltest-upper").string(), "--work",
                              (root / "ovltest-work").string(), kMulti, (t / "target").string()},
                             root.string()));
    expect_refused(r, t / "target", root, before);
    BOOST_TEST(r.code != 5, "must be refused before mounting: " << r.describe());
    BOOST_TEST(ovlmount_mounts().empty());
    if (fs::exists(t / "state")) BOOST_TEST(ovl_list(t / "state").empty());
}

BOOST_AUTO_TEST_CASE(upper_and_work_on_different_filesystems_fail_cleanly) {
    TempDir t("wr");
    fs::create_directories(t / "tmpfs");
    fs::create_directories(t / "work");
    fs::create_directories(t / "target");
    BOOST_TEST_REQUIRE(::mount("tmpfs", (t / "tmpfs").c_str(), "tmpfs", 0, "size=8m") == 0);
    fs::create_directories(t / "tmpfs/upper");
    Result r = ovl(with_dirs(t / "state", {"mount", "--upper", (t / "tmpfs/upper").string(), "--work",
                                           (t / "work").string(), kMulti, (t / "target").string()}));
    BOOST_TEST(r.code != 0, r.describe());
    OVLT_EXPECT_ONE_ERROR_LINE(r);
    BOOST_TEST(!mount_at(t / "target").has_value());
    if (fs::exists(t / "state")) BOOST_TEST(ovl_list(t / "state").empty());
    ::umount((t / "tmpfs").c_str());
}

BOOST_AUTO_TEST_CASE(work_inside_the_data_root_is_refused) {
    TempDir t("wr");
    const fs::path root = t / "root";
    copy_data_root(root);
    fs::create_directories(t / "upper");
    fs::create_directories(t / "target");
    const Snapshot before = snapshot(root, false);
    Result r = ovl(with_dirs(t / "state",
                             {"mount", "--upper", (t / "upper").string(), "--work", (root / "ovltest-work").string(),
                              kMulti, (t / "target").string()},
                             root.string()));
    expect_refused(r, t / "target", root, before);
}

BOOST_AUTO_TEST_CASE(state_dir_inside_the_data_root_is_refused) {
    // Records, locks and --writable's scratch upper would be written below the data root, which
    // "resolve, mount and umount never write below" (docs/usage.md).
    TempDir t("wr");
    const fs::path root = t / "root";
    copy_data_root(root);
    fs::create_directories(t / "target");
    const Snapshot before = snapshot(root, false);
    for (const std::vector<std::string>& opts : {std::vector<std::string>{}, std::vector<std::string>{"--writable"}}) {
        std::vector<std::string> args{"--data-root", root.string(), "--state-dir", (root / "ovlmount-state").string(),
                                      "mount"};
        args.insert(args.end(), opts.begin(), opts.end());
        args.insert(args.end(), {kMulti, (t / "target").string()});
        Result r = ovl(args);
        BOOST_TEST(r.code != 0, "a state dir inside the data root was accepted: " << r.describe());
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        if (mount_at(t / "target")) {
            ovl({"--state-dir", (root / "ovlmount-state").string(), "umount", (t / "target").string()});
            ::umount2((t / "target").c_str(), MNT_DETACH);
        }
    }
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(root, false)), "data root copy changed");
}

BOOST_AUTO_TEST_CASE(target_overlapping_the_data_root_is_refused) {
    TempDir t("wr");
    const fs::path root = t / "root";
    copy_data_root(root);
    fs::create_directories(root / "ovltest-target");
    const Snapshot before = snapshot(root, false);
    for (const fs::path& target : {root / "ovltest-target", root, t.path()}) {
        Result r = ovl(with_dirs(t / "state", {"mount", kMulti, target.string()}, root.string()));
        BOOST_TEST(r.code != 0, r.describe());
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        BOOST_TEST(ovlmount_mounts().empty());
    }
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(root, false)), "data root copy changed");
}

BOOST_AUTO_TEST_CASE(a_mount_the_kernel_refuses_leaves_no_record) {
    // upper and work the same dir, or nested: overlayfs refuses the mount; the record saved
    // before mounting must be removed again.
    TempDir t("wr");
    const fs::path state = t / "state";
    fs::create_directories(t / "x/w");
    fs::create_directories(t / "target");
    for (const auto& [upper, work] : std::vector<std::pair<fs::path, fs::path>>{{t / "x", t / "x"}, {t / "x", t / "x/w"}}) {
        BOOST_TEST_CONTEXT("upper " << upper << " work " << work) {
            Result r = ovl(with_dirs(state, {"mount", "--upper", upper.string(), "--work", work.string(), kMulti,
                                             (t / "target").string()}));
            BOOST_TEST(r.code != 0, r.describe());
            OVLT_EXPECT_ONE_ERROR_LINE(r);
            BOOST_TEST(!mount_at(t / "target").has_value());
            if (fs::exists(state)) BOOST_TEST(ovl_list(state).empty());
        }
    }
}
