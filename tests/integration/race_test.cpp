// Path races against mount and umount (issue 9, threat 1). A racing process swaps a path
// component between a directory and a symlink (renameat2 RENAME_EXCHANGE, atomic, as fast as
// it can) while ovlmount mounts or unmounts there. Whatever the timing, ovlmount may only ever
// mount on, or unmount, the directory the path names without symlinks: the symlink's
// destination (standing for /etc) must never get a mount, and a decoy mount behind a swapped
// parent must never be unmounted. The outcome counts are printed.
#define BOOST_TEST_MODULE ovlmount_integration_race
#include "itest.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

using namespace ovltest;

namespace {

constexpr int kAttempts = 400;

// A child process exchanging `a` and `b` (one a dir, one a symlink) until destroyed.
class Swapper {
public:
    Swapper(const fs::path& a, const fs::path& b) {
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            while (true) ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE);
        }
    }
    ~Swapper() {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    Swapper(const Swapper&) = delete;
    Swapper& operator=(const Swapper&) = delete;

private:
    pid_t pid_ = -1;
};

bool has_mount_at(const fs::path& p) { return mount_at(p).has_value(); }

struct Tally {
    int mounted = 0;
    int refused = 0;
    int moved = 0;
    void print(const char* what, const char* done = "mounted") const {
        std::printf("%s: %d attempts, %d %s where the path says, %d refused (a symlink was in the way), "
                    "%d renamed by the racer as the mount completed\n",
                    what, mounted + refused + moved, mounted, done, refused, moved);
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(target_swapped_with_a_symlink_never_mounts_on_the_symlinks_destination) {
    TempDir t("race-target");
    const fs::path state = t / "state";
    const fs::path victim = t / "victim";  // stands for /etc: must never get a mount
    fs::create_directories(victim);
    write_file(victim / "precious", "x");
    const fs::path target = t / "target";
    fs::create_directories(target);
    fs::create_symlink(victim, t / "swap");
    Tally tally;
    {
        Swapper swapper(target, t / "swap");
        for (int i = 0; i < kAttempts; ++i) {
            Result r = ovl(with_dirs(state, {"mount", kOne, target.string()}));
            BOOST_TEST_REQUIRE(!has_mount_at(victim), "mounted on the symlink's destination: " << r.describe());
            if (r.code == 0 && !has_mount_at(target)) {
                // The kernel lets a rename that started before the mount finish after it: the
                // mounted directory then has the other name. Never the victim, and umount refuses
                // to guess.
                ++tally.moved;
                BOOST_TEST_REQUIRE(has_mount_at(t / "swap"), r.describe());
                Result u = ovl({"--state-dir", state.string(), "umount", target.string()});
                BOOST_TEST_REQUIRE(u.code == 5, u.describe());
                BOOST_TEST_REQUIRE(u.err.find("moved to " + (t / "swap").string()) != std::string::npos, u.describe());
                BOOST_TEST_REQUIRE(::umount2((t / "swap").c_str(), 0) == 0);
                BOOST_TEST_REQUIRE(ovl({"--state-dir", state.string(), "cleanup"}).code == 0);
            } else if (r.code == 0) {
                ++tally.mounted;
                while (ovl({"--state-dir", state.string(), "umount", target.string()}).code != 0)
                    BOOST_TEST_REQUIRE(!has_mount_at(victim));
            } else {
                ++tally.refused;
                BOOST_TEST_REQUIRE((r.code == 2 || r.code == 5), r.describe());
                BOOST_TEST_REQUIRE(one_error_line(r.err), r.describe());
            }
        }
    }
    tally.print("mount target swapped");
    BOOST_TEST(tally.mounted > 0);
    BOOST_TEST(ovlmount_mounts().empty());
    BOOST_TEST(read_file(victim / "precious") == "x");
}

BOOST_AUTO_TEST_CASE(parent_of_the_target_swapped_with_a_symlink) {
    TempDir t("race-parent");
    const fs::path state = t / "state";
    fs::create_directories(t / "victim" / "target");
    fs::create_directories(t / "parent" / "target");
    fs::create_symlink(t / "victim", t / "swap");
    const fs::path target = t / "parent" / "target";
    Tally tally;
    {
        Swapper swapper(t / "parent", t / "swap");
        for (int i = 0; i < kAttempts; ++i) {
            Result r = ovl(with_dirs(state, {"mount", kOne, target.string()}));
            BOOST_TEST_REQUIRE(!has_mount_at(t / "victim" / "target"), "mounted behind the symlink: " << r.describe());
            if (r.code != 0) {
                ++tally.refused;
                BOOST_TEST_REQUIRE(one_error_line(r.err), r.describe());
                continue;
            }
            ++tally.mounted;
            while (ovl({"--state-dir", state.string(), "umount", target.string()}).code != 0)
                BOOST_TEST_REQUIRE(!has_mount_at(t / "victim" / "target"));
        }
    }
    tally.print("parent of the target swapped");
    BOOST_TEST(tally.mounted > 0);
    BOOST_TEST(ovlmount_mounts().empty());
}

BOOST_AUTO_TEST_CASE(umount_with_a_swapped_parent_never_unmounts_the_decoy) {
    TempDir t("race-umount");
    const fs::path state = t / "state";
    fs::create_directories(t / "parent" / "target");
    fs::create_directories(t / "decoy" / "target");
    // The decoy: an ovlmount-looking overlay the attacker made, at the same name behind a symlink.
    fs::create_directories(t / "lower1");
    fs::create_directories(t / "lower2");
    const std::string options = "lowerdir=" + (t / "lower1").string() + ":" + (t / "lower2").string();
    BOOST_TEST_REQUIRE(::mount("ovlmount", (t / "decoy" / "target").c_str(), "overlay", MS_RDONLY, options.c_str()) == 0);
    fs::create_symlink(t / "decoy", t / "swap");
    const fs::path target = t / "parent" / "target";
    Tally tally;
    for (int round = 0; round < kAttempts / 8; ++round) {
        Result m = ovl(with_dirs(state, {"mount", kOne, target.string()}));
        BOOST_TEST_REQUIRE(m.code == 0, m.describe());
        {
            Swapper swapper(t / "parent", t / "swap");
            for (int i = 0; i < 8; ++i) {
                Result u = ovl({"--state-dir", state.string(), "umount", target.string()});
                BOOST_TEST_REQUIRE(has_mount_at(t / "decoy" / "target"), "the decoy was unmounted: " << u.describe());
                if (u.code == 0) {
                    ++tally.mounted;
                    break;
                }
                ++tally.refused;
                BOOST_TEST_REQUIRE(one_error_line(u.err), u.describe());
            }
        }
        if (fs::is_symlink(t / "parent")) {
            fs::rename(t / "parent", t / "tmp");
            fs::rename(t / "swap", t / "parent");
            fs::rename(t / "tmp", t / "swap");
        }
        Result rest = ovl({"--state-dir", state.string(), "umount", "--all"});
        BOOST_TEST_REQUIRE(rest.code == 0, rest.describe());
        BOOST_TEST_REQUIRE(has_mount_at(t / "decoy" / "target"));
    }
    tally.print("umount with the parent swapped", "unmounted");
    BOOST_TEST(tally.mounted > 0);
    ::umount2((t / "decoy" / "target").c_str(), MNT_DETACH);
}

BOOST_AUTO_TEST_CASE(a_target_given_through_a_symlink_is_refused_with_its_real_path) {
    TempDir t("race-link");
    fs::create_directories(t / "real");
    fs::create_symlink(t / "real", t / "link");
    Result r = ovl(with_dirs(t / "state", {"mount", kOne, (t / "link").string()}));
    OVLT_EXPECT_EXIT(r, 2);
    BOOST_TEST(one_error_line(r.err), r.describe());
    BOOST_TEST(r.err.find("reached through a symlink; give its real path " + (t / "real").string()) != std::string::npos,
               r.describe());
    BOOST_TEST(!has_mount_at(t / "real"));
}
