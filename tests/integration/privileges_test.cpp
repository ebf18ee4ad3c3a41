// Not root: mount, umount and cleanup exit 1 saying root is needed, and touch nothing.
#define BOOST_TEST_MODULE ovlmount_integration_privileges
#include "itest.hpp"

#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>

using namespace ovltest;

namespace {

// A copy of the binary nobody can execute (the build dir may not be reachable for uid 65534).
struct NobodyBinary {
    TempDir t{"priv"};
    fs::path bin = t / "ovlmount";
    NobodyBinary() {
        fs::copy_file(env().bin, bin);
        ::chmod(t.path().c_str(), 0755);
        ::chmod(bin.c_str(), 0755);
    }
};

Result as_nobody(const fs::path& bin, const std::vector<std::string>& args) {
    std::vector<std::string> argv{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(mount_umount_cleanup_need_root) {
    NobodyBinary nb;
    TempDir t("priv");
    ::chmod(t.path().c_str(), 0755);
    const fs::path state = t / "state";
    const fs::path target = t / "target";
    fs::create_directories(target);
    ::chmod(target.c_str(), 0777);
    const std::vector<std::vector<std::string>> cases{
        with_dirs(state, {"mount", kMulti, target.string()}),
        with_dirs(state, {"mount", "--writable", kMulti, target.string()}),
        with_dirs(state, {kMulti, target.string()}),
        {"--state-dir", state.string(), "umount", target.string()},
        {"--state-dir", state.string(), "umount", "--all"},
        {"--state-dir", state.string(), "cleanup"},
    };
    for (const auto& args : cases) {
        Result r = as_nobody(nb.bin, args);
        OVLT_EXPECT_EXIT(r, 1);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        BOOST_TEST(lower(r.err).find("root") != std::string::npos, "the message does not say root is needed: " << r.err);
        BOOST_TEST(!mount_at(target).has_value());
    }
    BOOST_TEST(!fs::exists(state), "the state dir was created by an unprivileged run");
}

BOOST_AUTO_TEST_CASE(a_setuid_copy_refuses_to_run_for_anyone) {
    TempDir t("setuid");
    ::chmod(t.path().c_str(), 0755);
    const fs::path dir = t / "bin";
    fs::create_directories(dir);
    // Its own tmpfs: the test's /tmp may be mounted nosuid, which would hide the setuid bit.
    BOOST_TEST_REQUIRE(::mount("tmpfs", dir.c_str(), "tmpfs", 0, "mode=0755") == 0);
    const fs::path bin = dir / "ovlmount";
    fs::copy_file(env().bin, bin);
    BOOST_TEST_REQUIRE(::chmod(bin.c_str(), 04755) == 0);
    const fs::path target = t / "target";
    fs::create_directories(target);
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--version"}, with_dirs(t / "state", {"resolve", kMulti}), with_dirs(t / "state", {"mount", kMulti, target.string()})}) {
        Result r = as_nobody(bin, args);
        OVLT_EXPECT_EXIT(r, 1);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        BOOST_TEST(r.err.find("refusing to run setuid") != std::string::npos, r.describe());
        BOOST_TEST(r.out.empty(), r.describe());
    }
    BOOST_TEST(!mount_at(target).has_value());
    ::umount2(dir.c_str(), MNT_DETACH);
}

BOOST_AUTO_TEST_CASE(an_inherited_umask_changes_no_mode_ovlmount_creates) {
    // A writable mount's root is its scratch upper dir: under an inherited umask 077 it would
    // be 0700 where the image has 0755.
    TempDir t("umask");
    const fs::path state = t / "state";
    const fs::path plain = t / "plain";
    const fs::path target = t / "target";
    fs::create_directories(plain);
    fs::create_directories(target);
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", kMulti, plain.string()})), 0);
    std::vector<std::string> argv{"/bin/sh", "-c", "umask 077; exec \"$0\" \"$@\"", env().bin};
    for (const std::string& arg : with_dirs(state, {"mount", "--writable", kMulti, target.string()})) argv.push_back(arg);
    OVLT_REQUIRE_EXIT(run(argv), 0);
    struct stat image_root {}, writable_root {};
    BOOST_TEST_REQUIRE(::stat(plain.c_str(), &image_root) == 0);
    BOOST_TEST_REQUIRE(::stat(target.c_str(), &writable_root) == 0);
    BOOST_TEST((writable_root.st_mode & 07777) == (image_root.st_mode & 07777));
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", "--all"}), 0);
}
