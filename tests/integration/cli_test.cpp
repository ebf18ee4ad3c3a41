// The command-line contract of docs/usage.md that needs the real binary: --version, --help,
// usage errors (exit 2, one line on stderr).
#define BOOST_TEST_MODULE ovlmount_integration_cli
#include "itest.hpp"

using namespace ovltest;

BOOST_AUTO_TEST_CASE(version) {
    Result r = ovl({"--version"});
    OVLT_REQUIRE_EXIT(r, 0);
    static const std::regex re(R"(^ovlmount \S+\n$)");
    BOOST_TEST(std::regex_match(r.out, re), r.describe());
}

BOOST_AUTO_TEST_CASE(help_names_commands_options_and_exit_codes) {
    for (const char* opt : {"--help", "-h"}) {
        Result r = ovl({opt});
        OVLT_REQUIRE_EXIT(r, 0);
        for (const char* word : {"mount", "umount", "resolve", "list", "cleanup", "--data-root", "--state-dir",
                                 "--writable", "--upper", "--work"})
            BOOST_TEST(r.out.find(word) != std::string::npos, "--help does not mention " << word << ":\n" << r.out);
        // The exit codes are listed (0..5).
        for (const char* code : {"0", "1", "2", "3", "4", "5"})
            BOOST_TEST(r.out.find(code) != std::string::npos, "--help does not mention exit code " << code);
    }
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_2_with_one_line) {
    TempDir t("cli");
    const std::string target = (t / "target").string();
    const std::string state = (t / "state").string();
    fs::create_directory(target);
    const std::vector<std::vector<std::string>> cases{
        {},
        {"--state-dir", state, "--no-such-option"},
        {"--state-dir", state, "resolve"},
        {"--state-dir", state, "resolve", "--json"},
        {"--state-dir", state, "mount", kMulti},
        {"--state-dir", state, "mount", "--upper", (t / "u").string(), kMulti, target},
        {"--state-dir", state, "mount", "--work", (t / "w").string(), kMulti, target},
        {"--state-dir", state, "mount", "--writable", "--upper", (t / "u").string(), "--work", (t / "w").string(),
         kMulti, target},
        {"--state-dir", state, "mount", kMulti, target, "extra"},
        {"--state-dir", state, "umount"},
        {"--state-dir", state, "list", "extra"},
        {"--state-dir", state, "resolve", "--bogus", kMulti},
    };
    for (auto args : cases) {
        // Never the default data root (/var/lib/docker): always the test daemon's.
        if (!args.empty()) args.insert(args.begin(), {"--data-root", data_root()});
        Result r = ovl(args);
        OVLT_EXPECT_EXIT(r, 2);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
    }
    BOOST_TEST(!mount_at(target).has_value());
    BOOST_TEST(!fs::exists(t / "u"));
    BOOST_TEST(!fs::exists(t / "w"));
}

BOOST_AUTO_TEST_CASE(usage_errors_do_not_depend_on_the_data_root) {
    // A bad command line is a usage error (2) whatever the data root: it is found before the
    // data root is opened (here it does not exist).
    TempDir t("cli");
    const std::string target = (t / "target").string();
    fs::create_directory(target);
    const std::string root = (t / "no-such-data-root").string();
    const std::vector<std::vector<std::string>> cases{
        {"mount", "--upper", (t / "u").string(), kMulti, target},
        {"mount", "--work", (t / "w").string(), kMulti, target},
        {"mount", "--writable", "--upper", (t / "u").string(), "--work", (t / "w").string(), kMulti, target},
    };
    for (const auto& c : cases) {
        std::vector<std::string> args{"--data-root", root, "--state-dir", (t / "state").string()};
        args.insert(args.end(), c.begin(), c.end());
        Result r = ovl(args);
        OVLT_EXPECT_EXIT(r, 2);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
    }
    BOOST_TEST(!fs::exists(t / "u"));
    BOOST_TEST(!fs::exists(t / "w"));
}
