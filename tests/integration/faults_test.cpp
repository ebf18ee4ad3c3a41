// Crash safety: ovlmount is killed (SIGKILL, by a test-only fault point armed through
// OVLMOUNT_FAULT_POINT) at each step of mount, --writable mount, container mount with volumes,
// umount (of an image and of a container with volumes) and cleanup. Afterwards `list --json`
// and `cleanup` must bring the registry and the kernel's mount table into agreement: no
// untracked ovlmount overlay, no lost record of a live mount (it is still listed and
// `ovlmount umount` takes it down), no orphaned scratch dir or unfinished record file, no
// corrupt record. Needs a binary built with OVLMOUNT_FAULT_POINTS (the default with tests).
#define BOOST_TEST_MODULE ovlmount_integration_faults
#include "itest.hpp"

#include <sys/mount.h>

using namespace ovltest;

namespace {

constexpr int killed = 128 + 9;

std::set<std::string> ovlmount_overlays_below(const fs::path& dir) {
    std::set<std::string> out;
    const std::string d = canon(dir) + "/";
    for (const auto& m : ovlmount_mounts())
        if (m.target.rfind(d, 0) == 0) out.insert(m.target);
    return out;
}

std::string show(const std::set<std::string>& s) { return joined(std::vector<std::string>(s.begin(), s.end())); }

// `list --json` of `state`, which must succeed without complaint: every record readable.
boost::json::array listing(const fs::path& state) {
    Result r = ovl({"--state-dir", state.string(), "list", "--json"});
    BOOST_TEST_REQUIRE(r.code == 0, r.describe());
    BOOST_TEST(r.err.empty(), "list --json reports a problem (a corrupt record?): " << r.describe());
    const auto v = parse_json(r.out, "list --json");
    BOOST_TEST_REQUIRE(v.is_array(), r.out);
    return v.as_array();
}

std::set<std::string> targets_in_state(const boost::json::array& list, const std::string& state) {
    std::set<std::string> out;
    for (const auto& r : list)
        if (jstr(r, "state") == state) out.insert(jstr(r, "target"));
    return out;
}

std::set<std::string> entries_of(const fs::path& dir) {
    std::set<std::string> out;
    if (!fs::exists(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().string());
    return out;
}

// What a crash left, reconciled: list tells the truth, cleanup forgets only what is gone and
// removes only orphans, every live mount is then unmounted by `ovlmount umount`, and nothing
// is left below `dir` (mounts) or in the state dir (records, scratch dirs, temporaries).
void expect_reconciled(const fs::path& state, const fs::path& dir, const std::string& what) {
    BOOST_TEST_CONTEXT(what) {
        const auto overlays = ovlmount_overlays_below(dir);
        const auto before = listing(state);
        const auto live = targets_in_state(before, "mounted");
        BOOST_TEST((live == overlays), "list says mounted:" << show(live) << "\nmountinfo has:" << show(overlays));

        Result c = ovl({"--state-dir", state.string(), "cleanup"});
        OVLT_EXPECT_EXIT(c, 0);
        BOOST_TEST(c.err.empty(), c.describe());

        const auto after = listing(state);
        BOOST_TEST(targets_in_state(after, "gone").empty(), "cleanup kept gone records: " << boost::json::serialize(after));
        BOOST_TEST((targets_in_state(after, "mounted") == live), "cleanup changed the live records: "
                                                                     << boost::json::serialize(after));
        BOOST_TEST((ovlmount_overlays_below(dir) == overlays), "cleanup changed the mounts");

        std::set<std::string> scratch_of_records;
        for (const auto& r : after)
            if (jat(r, "scratch").is_string()) scratch_of_records.insert(jstr(r, "scratch"));
        BOOST_TEST((entries_of(state / "scratch") == scratch_of_records),
                   "scratch dirs:" << show(entries_of(state / "scratch")) << "\nrecorded:" << show(scratch_of_records));
        for (const auto& file : entries_of(state / "mounts"))
            BOOST_TEST(fs::path(file).extension() == ".json", "left in mounts/: " << file);
        BOOST_TEST(entries_of(state / "mounts").size() == after.size());

        for (const auto& target : live) {
            Result u = ovl({"--state-dir", state.string(), "umount", target});
            OVLT_EXPECT_EXIT(u, 0);
        }
        for (const auto& m : mounts_below(dir)) BOOST_TEST(false, "mount left: " << m.target);
        BOOST_TEST(listing(state).empty());
        BOOST_TEST(entries_of(state / "scratch").empty(), "scratch left:" << show(entries_of(state / "scratch")));
        BOOST_TEST(entries_of(state / "mounts").empty(), "records left:" << show(entries_of(state / "mounts")));
    }
}

// `args` with the fault point `point` armed: the process must die by SIGKILL there.
Result killed_at(const std::string& point, const std::vector<std::string>& args) {
    RunOptions options;
    options.env_add = {"OVLMOUNT_FAULT_POINT=" + point};
    Result r = ovl(args, options);
    BOOST_TEST(r.code == killed, "fault point " << point << " was not reached: " << r.describe());
    return r;
}

struct Scenario {
    std::string name;
    std::vector<std::string> options;  // between the command and its operands
    std::string command = "mount";
    std::string source = kMulti;
};

// Each fault point of a mount, one run each, every crash reconciled.
void crash_every_mount_step(const Scenario& s, const std::vector<std::string>& points) {
    for (const auto& point : points) {
        TempDir t("fault");
        const fs::path state = t / "state";
        const fs::path target = t / "target";
        fs::create_directories(target);
        std::vector<std::string> args{s.command};
        args.insert(args.end(), s.options.begin(), s.options.end());
        args.insert(args.end(), {s.source, target.string()});
        killed_at(point, with_dirs(state, args));
        expect_reconciled(state, t.path(), s.name + " killed at " + point);

        // The target is usable again: a plain mount and umount work there.
        OVLT_EXPECT_EXIT(ovl(with_dirs(state, args)), 0);
        OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", target.string()}), 0);
        BOOST_TEST(mounts_below(target).empty());
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(image_mount_killed_at_each_step) {
    crash_every_mount_step({"image mount", {}}, {"record.written", "mount.recorded", "mount.mounted", "mount.done"});
}

BOOST_AUTO_TEST_CASE(writable_mount_killed_at_each_step) {
    crash_every_mount_step({"writable mount", {"--writable"}},
                           {"scratch.created", "scratch.ready", "record.written", "mount.recorded", "mount.mounted",
                            "mount.done"});
}

BOOST_AUTO_TEST_CASE(container_mount_with_volumes_killed_at_each_step) {
    crash_every_mount_step({"container mount --volumes", {"--volumes"}, "container", kVols},
                           {"record.written", "mount.recorded", "mount.mounted", "mount.volume_bound@1",
                            "mount.volume_bound@2", "mount.done"});
    crash_every_mount_step({"container mount --volumes --writable", {"--volumes", "--writable"}, "container", kVols},
                           {"scratch.ready", "mount.mounted", "mount.volume_bound@1", "mount.volume_bound@2"});
}

BOOST_AUTO_TEST_CASE(a_stale_record_replaced_by_a_mount_killed_midway) {
    // A gone --writable record, then a new --writable mount of the same target killed after
    // each step: the old scratch dir never outlives cleanup, the new mount is never lost.
    for (const std::string point : {"mount.recorded", "mount.mounted", "mount.done"}) {
        TempDir t("fault");
        const fs::path state = t / "state";
        const fs::path target = t / "target";
        fs::create_directories(target);
        OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", "--writable", kMulti, target.string()})), 0);
        BOOST_TEST_REQUIRE(::umount2(target.c_str(), 0) == 0);  // behind ovlmount's back: the record is gone
        killed_at(point, with_dirs(state, {"mount", "--writable", kBase, target.string()}));
        expect_reconciled(state, t.path(), "stale record replaced, killed at " + point);
    }
}

namespace {

// Mounts `args` (must succeed), then runs `umount TARGET` killed at `point`.
void crash_umount(const std::vector<std::string>& mount_args, const fs::path& target, const fs::path& state,
                  const fs::path& dir, const std::string& point) {
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, mount_args)), 0);
    killed_at(point, {"--state-dir", state.string(), "umount", target.string()});
    expect_reconciled(state, dir, "umount killed at " + point);
}

}  // namespace

BOOST_AUTO_TEST_CASE(umount_killed_at_each_step) {
    for (const std::string point :
         {"umount.overlay_unmounted", "forget.scratch_removed", "umount.record_removed"}) {
        TempDir t("fault");
        const fs::path target = t / "target";
        fs::create_directories(target);
        crash_umount({"mount", "--writable", kMulti, target.string()}, target, t / "state", t.path(), point);
    }
}

BOOST_AUTO_TEST_CASE(umount_of_a_container_with_volumes_killed_at_each_step) {
    for (const std::string point : {"umount.submount_unmounted@1", "umount.submount_unmounted@2",
                                    "umount.overlay_unmounted", "forget.scratch_removed", "umount.record_removed"}) {
        TempDir t("fault");
        const fs::path target = t / "target";
        fs::create_directories(target);
        const fs::path state = t / "state";
        OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"container", "--volumes", "--writable", kVols, target.string()})), 0);
        const auto list = listing(state);
        BOOST_TEST_REQUIRE(list.size() == 1u);
        BOOST_TEST_REQUIRE(jstrings(list[0], "submounts").size() == 2u,
                           "ovltest-vols has two volumes: " << boost::json::serialize(list));
        killed_at(point, {"--state-dir", state.string(), "umount", target.string()});
        expect_reconciled(state, t.path(), "umount of a container with volumes killed at " + point);
    }
}

BOOST_AUTO_TEST_CASE(umount_all_killed_midway) {
    TempDir t("fault");
    const fs::path state = t / "state";
    for (const std::string name : {"a", "b", "c"}) {
        fs::create_directories(t / name);
        OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", "--writable", kMulti, (t / name).string()})), 0);
    }
    killed_at("umount.record_removed@2", {"--state-dir", state.string(), "umount", "--all"});
    BOOST_TEST(listing(state).size() == 1u, "umount --all killed after two of three");
    expect_reconciled(state, t.path(), "umount --all killed after the second record");
}

BOOST_AUTO_TEST_CASE(cleanup_killed_at_each_step) {
    for (const std::string point : {"forget.scratch_removed", "cleanup.record_forgotten", "cleanup.record_forgotten@2",
                                    "cleanup.scratch_removed"}) {
        TempDir t("fault");
        const fs::path state = t / "state";
        // Two gone --writable records, one live mount, one orphan scratch dir, one unfinished record.
        for (const std::string name : {"gone-1", "gone-2", "live"}) {
            fs::create_directories(t / name);
            OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", "--writable", kMulti, (t / name).string()})), 0);
        }
        for (const std::string name : {"gone-1", "gone-2"}) BOOST_TEST_REQUIRE(::umount2((t / name).c_str(), 0) == 0);
        fs::create_directories(t / "orphan");
        killed_at("scratch.ready", with_dirs(state, {"mount", "--writable", kBase, (t / "orphan").string()}));
        fs::create_directories(t / "unfinished");
        killed_at("record.written", with_dirs(state, {"mount", kBase, (t / "unfinished").string()}));
        BOOST_TEST_REQUIRE(entries_of(state / "scratch").size() == 4u);

        killed_at(point, {"--state-dir", state.string(), "cleanup"});
        expect_reconciled(state, t.path(), "cleanup killed at " + point);
    }
}

BOOST_AUTO_TEST_CASE(an_unarmed_or_unknown_fault_point_changes_nothing) {
    TempDir t("fault");
    const fs::path state = t / "state";
    const fs::path target = t / "target";
    fs::create_directories(target);
    RunOptions options;
    options.env_add = {"OVLMOUNT_FAULT_POINT=no.such.point"};
    OVLT_EXPECT_EXIT(ovl(with_dirs(state, {"mount", "--writable", kMulti, target.string()}), options), 0);
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", target.string()}, options), 0);
    expect_reconciled(state, t.path(), "unknown fault point");
}
