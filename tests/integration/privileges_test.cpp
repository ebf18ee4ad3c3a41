// Not root: mount, umount and cleanup exit 1 saying root is needed, and touch nothing.
#define BOOST_TEST_MODULE ovlmount_integration_privileges
#include "itest.hpp"

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
