// mount.ovlmount and umount.ovlmount through the real mount(8) and umount(8): `mount -t ovlmount`,
// fstab through `mount -a -T FILE`, and `umount TARGET` finding umount.ovlmount through utab.
//
// mount(8) looks for helpers only in /sbin (= /usr/sbin on Debian 12), /sbin/fs.d and /sbin/fs,
// and keeps utab in /run/mount. Both belong to the host, so the fixture first checks that this
// program runs in a mount namespace other than its parent's (unshare -m execs it, so its parent
// is where it was started), and only then stacks a read-only overlay on /usr/sbin whose top
// lower holds the two links to $OVLMOUNT_BIN, and binds a scratch dir over /run/mount. Nothing
// on the host's disk changes and both mounts die with the namespace.
#define BOOST_TEST_MODULE ovlmount_integration_mount_helper
#include "itest.hpp"

#include <sys/mount.h>

using namespace ovltest;

namespace {

std::string namespace_of(const std::string& proc) {
    return fs::read_symlink("/proc/" + proc + "/ns/mnt").string();
}

struct HelperNamespace {
    TempDir t{"mh"};
    fs::path utab_dir;

    HelperNamespace() {
        if (namespace_of("self") == namespace_of(std::to_string(::getppid())))
            throw std::runtime_error("refusing to change /usr/sbin and /run/mount: not in a private mount namespace "
                                     "(run under unshare -m --propagation private)");
        if (!fs::is_directory("/run/mount")) throw std::runtime_error("/run/mount does not exist");
        const fs::path helpers = t / "sbin";
        fs::create_directory(helpers);
        fs::create_symlink(env().bin, helpers / "mount.ovlmount");
        fs::create_symlink(env().bin, helpers / "umount.ovlmount");
        const std::string lowers = "lowerdir=" + helpers.string() + ":/usr/sbin";
        if (::mount("ovlt-sbin", "/usr/sbin", "overlay", MS_RDONLY, lowers.c_str()) != 0)
            throw std::runtime_error("overlay on /usr/sbin: " + std::string(std::strerror(errno)));
        utab_dir = t / "run-mount";
        fs::create_directory(utab_dir);
        if (::mount(utab_dir.c_str(), "/run/mount", nullptr, MS_BIND, nullptr) != 0)
            throw std::runtime_error("bind over /run/mount: " + std::string(std::strerror(errno)));
    }
    ~HelperNamespace() {
        ::umount2("/run/mount", MNT_DETACH);
        ::umount2("/usr/sbin", MNT_DETACH);
    }
};

HelperNamespace& helper_namespace() {
    static HelperNamespace instance;
    return instance;
}

std::string utab() {
    const fs::path file = helper_namespace().utab_dir / "utab";
    return fs::exists(file) ? read_file(file) : std::string();
}

// The utab lines naming `target`.
std::vector<std::string> utab_lines(const fs::path& target) {
    std::vector<std::string> out;
    for (const auto& line : lines_of(utab()))
        if (line.find(" TARGET=" + canon(target) + " ") != std::string::npos) out.push_back(line);
    return out;
}

struct Case {
    TempDir t{"mh"};
    fs::path state = t / "state";
    fs::path target = t / "target";
    Case() {
        helper_namespace();
        fs::create_directory(target);
    }
    std::string options(const std::string& extra) const {
        return extra + (extra.empty() ? "" : ",") + "data-root=" + data_root() + ",state-dir=" + state.string();
    }
};

void expect_unmounted_and_forgotten(const Case& c) {
    BOOST_TEST(!mount_at(c.target).has_value(), "still mounted at " << c.target);
    BOOST_TEST(ovl_list(c.state, data_root()).empty(), "the record is left");
    BOOST_TEST(utab_lines(c.target).empty(), "utab still names the target:\n" << utab());
}

}  // namespace

BOOST_AUTO_TEST_CASE(mount_and_umount_an_image) {
    Case c;
    Result r = run({"mount", "-t", "ovlmount", "-o", c.options("ro"), kBase, c.target.string()});
    OVLT_REQUIRE_EXIT(r, 0);
    BOOST_TEST(r.out.empty(), r.describe());
    BOOST_TEST(r.err.empty(), r.describe());
    BOOST_TEST(read_file(c.target / "etc/ovltest-release") == "ovltest base\n");
    const auto m = mount_at(c.target);
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST((m->fstype == "overlay" && m->source == "ovlmount" && m->has_option("ro")), m->options);
    const auto rec = record_of(ovl_list(c.state, data_root()), c.target);
    BOOST_TEST(jstr(rec, "reference") == kBase);
    BOOST_TEST(rec.at("writable").as_bool() == false);
    const auto lines = utab_lines(c.target);
    BOOST_TEST_REQUIRE(lines.size() == 1u, "utab:\n" << utab());
    BOOST_TEST(lines[0].find("SRC=ovlmount ") != std::string::npos, lines[0]);
    BOOST_TEST(lines[0].find("helper=ovlmount") != std::string::npos, lines[0]);
    BOOST_TEST(lines[0].find("x-ovlmount.state-dir=" + canon(c.state)) != std::string::npos, lines[0]);

    Result u = run({"umount", c.target.string()});
    OVLT_REQUIRE_EXIT(u, 0);
    BOOST_TEST(u.err.empty(), u.describe());
    expect_unmounted_and_forgotten(c);
}

BOOST_AUTO_TEST_CASE(verbose_says_what_it_did) {
    Case c;
    Result r = run({"mount", "-v", "-t", "ovlmount", "-o", c.options(""), kBase, c.target.string()});
    OVLT_REQUIRE_EXIT(r, 0);
    BOOST_TEST(r.out.find("mounted " + kBase) != std::string::npos, r.describe());
    Result u = run({"umount", "-v", c.target.string()});
    OVLT_REQUIRE_EXIT(u, 0);
    BOOST_TEST(u.out.find("unmounted " + canon(c.target)) != std::string::npos, u.describe());
    expect_unmounted_and_forgotten(c);
}

BOOST_AUTO_TEST_CASE(a_container) {
    Case c;
    Result r = run({"mount", "-t", "ovlmount", "-o", c.options("container"), kChanges, c.target.string()});
    OVLT_REQUIRE_EXIT(r, 0);
    BOOST_TEST(read_file(c.target / "etc/ovltest-release").find("modified") != std::string::npos);
    const auto rec = record_of(ovl_list(c.state, data_root()), c.target);
    BOOST_TEST(jstr(rec, "source") == "container");
    BOOST_TEST(jstr(rec, "container_id") == docker_container_id(kChanges));
    OVLT_REQUIRE_EXIT(run({"umount", c.target.string()}), 0);
    expect_unmounted_and_forgotten(c);
}

BOOST_AUTO_TEST_CASE(writable_on_scratch_dirs) {
    Case c;
    Result r = run({"mount", "-t", "ovlmount", "-o", c.options("rw,writable"), kBase, c.target.string()});
    OVLT_REQUIRE_EXIT(r, 0);
    write_file(c.target / "new-file", "x");
    const auto rec = record_of(ovl_list(c.state, data_root()), c.target);
    const std::string scratch = jstr(rec, "scratch");
    BOOST_TEST(fs::exists(fs::path(scratch) / "upper/new-file"));
    OVLT_REQUIRE_EXIT(run({"umount", c.target.string()}), 0);
    expect_unmounted_and_forgotten(c);
    BOOST_TEST(!fs::exists(scratch), "scratch dir left: " << scratch);
}

BOOST_AUTO_TEST_CASE(unknown_option_is_a_mount_failure) {
    Case c;
    for (const std::string& bad : {std::string("bogus"), std::string("ro,nosuchoption=1"), std::string("noexec"),
                                   std::string("ro,writable")}) {
        BOOST_TEST_CONTEXT("-o " << bad) {
            Result r = run({"mount", "-t", "ovlmount", "-o", c.options(bad), kBase, c.target.string()});
            OVLT_EXPECT_EXIT(r, 32);
            OVLT_EXPECT_ONE_ERROR_LINE(r);
            BOOST_TEST(!mount_at(c.target).has_value());
            BOOST_TEST(ovl_list(c.state, data_root()).empty());
            BOOST_TEST(utab_lines(c.target).empty(), utab());
        }
    }
}

BOOST_AUTO_TEST_CASE(generic_options_are_ignored) {
    Case c;
    Result r = run({"mount", "-t", "ovlmount", "-o", c.options("ro,nosuid,nodev,nofail,_netdev,x-test.thing=1"), kBase,
                    c.target.string()});
    OVLT_REQUIRE_EXIT(r, 0);
    BOOST_TEST(mount_at(c.target).has_value());
    OVLT_REQUIRE_EXIT(run({"umount", c.target.string()}), 0);
    expect_unmounted_and_forgotten(c);
}

BOOST_AUTO_TEST_CASE(fake_mount_changes_nothing) {
    Case c;
    Result r = run({"mount", "-f", "-t", "ovlmount", "-o", c.options(""), kBase, c.target.string()});
    OVLT_EXPECT_EXIT(r, 0);
    BOOST_TEST(r.err.empty(), r.describe());
    BOOST_TEST(!mount_at(c.target).has_value());
    BOOST_TEST(ovl_list(c.state, data_root()).empty());
    BOOST_TEST(utab_lines(c.target).empty(), utab());
}

BOOST_AUTO_TEST_CASE(missing_image_is_a_mount_failure) {
    Case c;
    Result r = run({"mount", "-t", "ovlmount", "-o", c.options(""), "ovltest-no-such:1", c.target.string()});
    OVLT_EXPECT_EXIT(r, 32);
    OVLT_EXPECT_ONE_ERROR_LINE(r);
    BOOST_TEST(!mount_at(c.target).has_value());
}

BOOST_AUTO_TEST_CASE(usage_error_of_the_helper_itself) {
    Case c;
    Result r = run({(helper_namespace().t / "sbin/mount.ovlmount").string(), kBase});
    OVLT_EXPECT_EXIT(r, 1);
    OVLT_EXPECT_ONE_ERROR_LINE(r);
    Result u = run({(helper_namespace().t / "sbin/umount.ovlmount").string()});
    OVLT_EXPECT_EXIT(u, 1);
    OVLT_EXPECT_ONE_ERROR_LINE(u);
}

BOOST_AUTO_TEST_CASE(fstab_line) {
    Case c;
    const fs::path fstab = c.t / "fstab";
    write_file(fstab, "# ovlmount test\n" + kBase + " " + c.target.string() + " ovlmount " + c.options("ro,nofail") +
                          " 0 0\n");
    Result r = run({"mount", "-a", "-T", fstab.string()});
    OVLT_REQUIRE_EXIT(r, 0);
    BOOST_TEST(read_file(c.target / "etc/ovltest-release") == "ovltest base\n");
    BOOST_TEST(find_record(ovl_list(c.state, data_root()), c.target) != nullptr);
    BOOST_TEST(utab_lines(c.target).size() == 1u, utab());
    Result again = run({"mount", "-a", "-T", fstab.string()});
    OVLT_EXPECT_EXIT(again, 0);
    OVLT_REQUIRE_EXIT(run({"umount", c.target.string()}), 0);
    expect_unmounted_and_forgotten(c);
}
