// Why: `ovlmount run` must behave like `docker run` of the same image and command (output and
// exit status; Docker is the oracle), keep the host and the data root untouched, and leave
// nothing behind whatever ends it, SIGKILL included.
#define BOOST_TEST_MODULE ovlmount_integration_run
#include "itest.hpp"

#include <signal.h>

#include <chrono>
#include <thread>

using namespace ovltest;

namespace {

// `ovlmount --data-root R --state-dir S run ARGS...`
Result ovl_run(const fs::path& state, const std::vector<std::string>& args, const RunOptions& opts = {}) {
    std::vector<std::string> argv{"--data-root", data_root(), "--state-dir", state.string(), "run"};
    argv.insert(argv.end(), args.begin(), args.end());
    return ovl(argv, opts);
}

// `docker run --rm --network none [options] IMAGE [CMD...]`
Result docker_run(const std::vector<std::string>& options, const std::string& image,
                  const std::vector<std::string>& command) {
    std::vector<std::string> argv{"run", "--rm", "--network", "none"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back(image);
    argv.insert(argv.end(), command.begin(), command.end());
    return docker(argv);
}

std::vector<std::string> scratch_dirs(const fs::path& state) {
    std::vector<std::string> dirs;
    if (!fs::exists(state / "scratch")) return dirs;
    for (const auto& entry : fs::directory_iterator(state / "scratch")) dirs.push_back(entry.path().string());
    return dirs;
}

// Every mount of any process that names `dir` (its source, target or options).
std::vector<std::string> mounts_naming(const fs::path& dir) {
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string text;
        try {
            text = read_file(entry.path() / "mountinfo");
        } catch (const std::exception&) {
            continue;
        }
        for (const std::string& line : lines_of(text))
            if (line.find(dir.string()) != std::string::npos) found.push_back(name + ": " + line);
    }
    return found;
}

struct Command {
    std::vector<std::string> options;  // as both take them
    std::string image;
    std::vector<std::string> argv;
};

}  // namespace

BOOST_AUTO_TEST_CASE(output_and_exit_status_are_docker_runs) {
    const std::vector<Command> commands{
        {{}, kBase, {"cat", "/etc/ovltest-release"}},
        {{}, kBase, {"sh", "-c", "id; pwd; echo \"$PATH\"; echo \"$HOME\"; exit 3"}},
        {{"--user", "nobody"}, kBase, {"sh", "-c", "id; echo \"$HOME\""}},
        {{"--user", "1234:55"}, kBase, {"id"}},
        {{"--workdir", "/etc"}, kBase, {"pwd"}},
        {{"--env", "FOO=bar baz"}, kBase, {"sh", "-c", "echo \"$FOO\""}},
        {{}, kBase, {"sh", "-c", "sh -c 'kill -KILL $$'; echo $?"}},
        {{}, kBase, {"sh", "-c", "kill -TERM $$; echo still-here"}},
        {{}, kMulti, {"sh", "-c", "ls /data; cat /etc/ovltest-release"}},
        {{}, kDeep, {"sh", "-c", "ls / | wc -l"}},
        {{}, kBase, {"no-such-command"}},
        {{}, kBase, {"/etc/ovltest-release"}},
        {{}, kBase, {}},
    };
    TempDir t("run");
    for (const Command& c : commands) {
        BOOST_TEST_CONTEXT(c.image << " " << joined(c.options, " ") << " -- " << joined(c.argv, " ")) {
            Result theirs = docker_run(c.options, c.image, c.argv);
            std::vector<std::string> args = c.options;
            args.push_back(c.image);
            if (!c.argv.empty()) args.push_back("--");
            args.insert(args.end(), c.argv.begin(), c.argv.end());
            Result ours = ovl_run(t / "state", args);
            BOOST_TEST(ours.code == theirs.code, ours.describe() << "\ndocker: " << theirs.describe());
            if (theirs.code != 126 && theirs.code != 127)
                BOOST_TEST(ours.out == theirs.out, ours.describe() << "\ndocker: " << theirs.describe());
            BOOST_TEST(scratch_dirs(t / "state").empty(), "a scratch dir is left");
        }
    }
}

BOOST_AUTO_TEST_CASE(writes_go_to_a_scratch_upper_that_goes_away_unless_kept) {
    TempDir t("runw");
    Result written = ovl_run(t / "state", {kBase, "--", "sh", "-c", "echo x >/new-file && cat /new-file"});
    OVLT_REQUIRE_EXIT(written, 0);
    BOOST_TEST(trim(written.out) == "x");
    Result again = ovl_run(t / "state", {kBase, "--", "test", "-e", "/new-file"});
    BOOST_TEST(again.code == 1, "a write of an earlier run is still there: " << again.describe());
    Result read_only = ovl_run(t / "state", {"--read-only", kBase, "--", "touch", "/x"});
    BOOST_TEST(read_only.code != 0, read_only.describe());
    BOOST_TEST(read_only.err.find("Read-only") != std::string::npos, read_only.describe());

    Result kept = ovl_run(t / "state", {"--keep", kBase, "--", "sh", "-c", "echo kept >/kept-file"});
    OVLT_REQUIRE_EXIT(kept, 0);
    const auto dirs = scratch_dirs(t / "state");
    BOOST_TEST_REQUIRE(dirs.size() == 1u);
    BOOST_TEST(kept.err.find(dirs.front() + "/upper") != std::string::npos, kept.describe());
    BOOST_TEST(trim(read_file(fs::path(dirs.front()) / "upper/kept-file")) == "kept");
    OVLT_EXPECT_EXIT(ovl({"--state-dir", (t / "state").string(), "cleanup"}), 0);
    BOOST_TEST(fs::exists(fs::path(dirs.front()) / "upper/kept-file"), "cleanup removed a kept upper");

    const fs::path upper = t / "upper";
    const fs::path work = t / "work";
    fs::create_directories(upper);
    fs::create_directories(work);
    OVLT_EXPECT_EXIT(ovl_run(t / "state2", {"--upper", upper.string(), "--work", work.string(), kBase, "--", "sh",
                                            "-c", "echo mine >/mine"}),
                     0);
    BOOST_TEST(trim(read_file(upper / "mine")) == "mine");
}

BOOST_AUTO_TEST_CASE(binds_network_and_the_host_are_as_asked) {
    TempDir t("runb");
    fs::create_directories(t / "share");
    write_file(t / "share/hello", "from the host\n");
    Result bound = ovl_run(t / "state", {"--bind", (t / "share").string() + ":/mnt/share:ro", kBase, "--", "sh", "-c",
                                         "cat /mnt/share/hello; touch /mnt/share/x 2>/dev/null || echo refused"});
    OVLT_REQUIRE_EXIT(bound, 0);
    BOOST_TEST(bound.out == "from the host\nrefused\n");
    BOOST_TEST(!fs::exists(t / "share/x"));

    Result links = ovl_run(t / "state", {kBase, "--", "cat", "/proc/net/dev"});
    OVLT_REQUIRE_EXIT(links, 0);
    BOOST_TEST(links.out.find("lo:") != std::string::npos, links.describe());
    BOOST_TEST(lines_of(links.out).size() == 3u, "--net none has more than lo: " << links.out);
    Result host = ovl_run(t / "state", {"--net", "host", kBase, "--", "cat", "/etc/resolv.conf"});
    OVLT_REQUIRE_EXIT(host, 0);
    BOOST_TEST(host.out == read_file("/etc/resolv.conf"));

    Result pid = ovl_run(t / "state", {kBase, "--", "sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'"});
    OVLT_REQUIRE_EXIT(pid, 0);
    BOOST_TEST(lines_of(pid.out).front() == "1", "the command is not PID 1 of a new PID namespace: " << pid.out);

    Result into_store = ovl_run(t / "state", {"--bind", data_root() + ":/store", kBase, "--", "true"});
    OVLT_EXPECT_EXIT(into_store, 125);
    OVLT_EXPECT_ONE_ERROR_LINE(into_store);
}

BOOST_AUTO_TEST_CASE(sigterm_reaches_the_command_and_sigkill_leaves_nothing_cleanup_cannot_remove) {
    TempDir t("runk");
    const fs::path state = t / "state";
    {
        Process running = ovl_async({"--data-root", data_root(), "--state-dir", state.string(), "run", kBase, "--", "sh",
                                     "-c", "trap 'echo got-term; exit 42' TERM; while :; do sleep 0.1; done"});
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        ::kill(running.pid(), SIGTERM);
        Result r = running.wait();
        BOOST_TEST(r.code == 42, r.describe());
        BOOST_TEST(r.out == "got-term\n", r.describe());
    }
    BOOST_TEST(scratch_dirs(state).empty());
    {
        Process running =
            ovl_async({"--data-root", data_root(), "--state-dir", state.string(), "run", kBase, "--", "sleep", "100"});
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        BOOST_TEST(scratch_dirs(state).size() == 1u);
        Result cleaned = ovl({"--state-dir", state.string(), "cleanup"});
        BOOST_TEST(scratch_dirs(state).size() == 1u, "cleanup removed the scratch dir of a running run: " << cleaned.describe());
        ::kill(running.pid(), SIGKILL);
        Result r = running.wait();
        BOOST_TEST(r.code == 128 + SIGKILL);
    }
    bool gone = false;
    for (int i = 0; i < 50 && !gone; ++i) {
        gone = mounts_naming(state).empty();
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    BOOST_TEST(gone, "mounts of the killed run remain: " << joined(mounts_naming(state)));
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "cleanup"}), 0);
    BOOST_TEST(scratch_dirs(state).empty(), "cleanup left the killed run's scratch dir");
}

BOOST_AUTO_TEST_CASE(the_data_root_and_the_host_mount_table_do_not_change) {
    TempDir t("rune");
    const Snapshot before = snapshot(data_root(), false);
    const auto host_mounts = mounts_naming(t.path());
    OVLT_EXPECT_EXIT(ovl_run(t / "state", {kMulti, "--", "sh", "-c", "cat /etc/* >/dev/null 2>&1; echo y >/etc/new"}), 0);
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(data_root(), false)), "the data root changed");
    BOOST_TEST(mounts_naming(t.path()) == host_mounts);
    Result missing = ovl_run(t / "state", {"no-such-image:1", "--", "true"});
    OVLT_EXPECT_EXIT(missing, 125);
    OVLT_EXPECT_ONE_ERROR_LINE(missing);
    BOOST_TEST(scratch_dirs(t / "state").empty());
}
