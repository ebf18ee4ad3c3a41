// The registry under load: 32 ovlmount processes at a time doing 1,000 mount and umount
// operations in all on one state dir, over a few targets, so that many of them race for the
// same target. Every operation either does its work or fails cleanly (a mount of a mounted
// target, an umount of an unmounted one), and at the end no record is lost, duplicated or
// corrupt: per target, the successful mounts and umounts alternate, `list --json` equals the
// overlay mounts in mountinfo, and everything unmounts cleanly. Prints ops and elapsed time.
#define BOOST_TEST_MODULE ovlmount_integration_stress
#include "itest.hpp"

#include <deque>
#include <iostream>
#include <random>

using namespace ovltest;

namespace {

constexpr std::size_t parallel = 32;
constexpr std::size_t operations = 1000;
constexpr std::size_t target_count = 12;

struct Operation {
    bool mount = true;
    std::size_t target = 0;
};

std::vector<std::string> arguments(const Operation& op, const fs::path& state, const std::vector<fs::path>& targets) {
    const std::string target = targets[op.target].string();
    if (!op.mount) return {"--state-dir", state.string(), "umount", target};
    // Every third target writable (a scratch dir each), the images alternating by target.
    std::vector<std::string> args{"mount"};
    if (op.target % 3 == 0) args.push_back("--writable");
    args.push_back(op.target % 2 == 0 ? kMulti : kBase);
    args.push_back(target);
    return with_dirs(state, args);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_thousand_operations_by_32_processes_on_one_state_dir) {
    TempDir t("stress");
    const fs::path state = t / "state";
    std::vector<fs::path> targets;
    for (std::size_t i = 0; i < target_count; ++i) {
        targets.push_back(t / ("target-" + std::to_string(i)));
        fs::create_directories(targets.back());
    }
    // Half the operations on two hot targets, the rest spread over all of them.
    std::mt19937 random(20261128);
    std::vector<Operation> plan;
    for (std::size_t i = 0; i < operations; ++i) {
        const std::size_t target = i % 2 == 0 ? random() % 2 : random() % target_count;
        plan.push_back({random() % 2 == 0, target});
    }

    struct Running {
        Operation op;
        Process process;
    };
    std::vector<long> mounted(target_count, 0), unmounted(target_count, 0);
    std::size_t failed_mounts = 0, failed_umounts = 0;
    std::deque<Running> running;
    auto finish_oldest = [&] {
        Running done = std::move(running.front());
        running.pop_front();
        Result r = done.process.wait();
        const std::string what = (done.op.mount ? "mount of " : "umount of ") + targets[done.op.target].string();
        if (r.code == 0) {
            ++(done.op.mount ? mounted : unmounted)[done.op.target];
            return;
        }
        ++(done.op.mount ? failed_mounts : failed_umounts);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        if (done.op.mount) {
            BOOST_TEST(r.code == 1, what << ": " << r.describe());
            BOOST_TEST(r.err.find("already mounted") != std::string::npos, what << ": " << r.describe());
        } else {
            BOOST_TEST(r.code == 3, what << ": " << r.describe());
        }
    };

    const auto start = std::chrono::steady_clock::now();
    for (const Operation& op : plan) {
        if (running.size() == parallel) finish_oldest();
        running.push_back({op, ovl_async(arguments(op, state, targets))});
    }
    while (!running.empty()) finish_oldest();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    long succeeded = 0;
    for (std::size_t i = 0; i < target_count; ++i) succeeded += mounted[i] + unmounted[i];
    std::cout << "stress: " << operations << " operations (" << succeeded << " succeeded, " << failed_mounts
              << " mounts of a mounted target, " << failed_umounts << " umounts of an unmounted target) by "
              << parallel << " concurrent processes on " << target_count << " targets in " << seconds << " s ("
              << static_cast<double>(operations) / seconds << " ops/s)" << std::endl;

    Result l = ovl({"--state-dir", state.string(), "list", "--json"});
    OVLT_REQUIRE_EXIT(l, 0);
    BOOST_TEST(l.err.empty(), "a record is unreadable: " << l.describe());
    const auto list = parse_json(l.out, "list --json").as_array();

    std::map<std::string, int> overlays;
    for (const auto& m : ovlmount_mounts()) ++overlays[m.target];
    std::map<std::string, std::string> records;
    for (const auto& r : list) {
        const std::string target = jstr(r, "target");
        BOOST_TEST(!records.count(target), "two records for " << target);
        BOOST_TEST(jstr(r, "state") == "mounted", "gone record: " << boost::json::serialize(r));
        records[target] = jat(r, "scratch").is_string() ? jstr(r, "scratch") : "";
    }
    for (std::size_t i = 0; i < target_count; ++i) {
        const std::string target = canon(targets[i]);
        const long balance = mounted[i] - unmounted[i];
        BOOST_TEST_CONTEXT(target << ": " << mounted[i] << " mounts, " << unmounted[i] << " umounts") {
            BOOST_TEST((balance == 0 || balance == 1), "successful mounts and umounts do not alternate");
            BOOST_TEST(overlays[target] == balance, "overlays mounted there: " << overlays[target]);
            BOOST_TEST(static_cast<long>(records.count(target)) == balance, "records");
            if (records.count(target)) BOOST_TEST(records[target].empty() == (i % 3 != 0), "scratch " << records[target]);
        }
    }
    std::size_t scratch_dirs = 0, writable_records = 0;
    if (fs::exists(state / "scratch")) scratch_dirs = static_cast<std::size_t>(std::distance(fs::directory_iterator(state / "scratch"), {}));
    for (const auto& [target, scratch] : records) {
        if (scratch.empty()) continue;
        ++writable_records;
        BOOST_TEST(fs::is_directory(scratch + "/upper"), scratch);
    }
    BOOST_TEST(scratch_dirs == writable_records, "scratch dirs left by unmounted targets");
    for (const auto& e : fs::directory_iterator(state / "mounts"))
        BOOST_TEST(e.path().extension() == ".json", "left in mounts/: " << e.path());

    Result all = ovl({"--state-dir", state.string(), "umount", "--all"});
    OVLT_EXPECT_EXIT(all, 0);
    BOOST_TEST(ovlmount_mounts().empty());
    BOOST_TEST(mounts_below(t.path()).empty());
    Result after = ovl({"--state-dir", state.string(), "list", "--json"});
    OVLT_EXPECT_EXIT(after, 0);
    BOOST_TEST(trim(after.out) == "[]");
    if (fs::exists(state / "scratch")) BOOST_TEST(fs::is_empty(state / "scratch"));
}
