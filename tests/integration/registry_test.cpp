// The mount registry under concurrency and behind its back: `list --json` must always match
// the kernel's mount table exactly; umount --all, gone records, cleanup, untracked targets.
#define BOOST_TEST_MODULE ovlmount_integration_registry
#include "itest.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

using namespace ovltest;

namespace {

std::set<std::string> mounted_targets() {
    std::set<std::string> s;
    for (const auto& m : ovlmount_mounts()) s.insert(m.target);
    return s;
}

// Records with state "mounted", and every record checked for shape.
std::set<std::string> listed_targets(const fs::path& state, const std::string& want_state = "mounted") {
    std::set<std::string> s;
    Result r = ovl({"--state-dir", state.string(), "list", "--json"});
    OVLT_EXPECT_EXIT(r, 0);
    BOOST_TEST(r.err.empty(), "list --json complains: " << r.describe());
    const auto list = parse_json(r.out, "list --json");
    BOOST_TEST_REQUIRE(list.is_array(), r.out);
    for (const auto& v : list.as_array()) {
        BOOST_TEST_REQUIRE(v.is_object(), boost::json::serialize(v));
        const auto& o = v.as_object();
        for (const char* k : {"target", "state", "reference", "image_id", "data_root", "created"})
            BOOST_TEST_REQUIRE((o.contains(k) && o.at(k).is_string()), "record lacks " << k << ": " << boost::json::serialize(o));
        for (const char* k : {"upper", "work", "scratch"})
            BOOST_TEST_REQUIRE((o.contains(k) && (o.at(k).is_string() || o.at(k).is_null())),
                               "record lacks " << k << ": " << boost::json::serialize(o));
        BOOST_TEST_REQUIRE((o.contains("writable") && o.at("writable").is_bool()), boost::json::serialize(o));
        BOOST_TEST_REQUIRE((o.contains("lowerdir") && o.at("lowerdir").is_array() && !o.at("lowerdir").as_array().empty()),
                           boost::json::serialize(o));
        const std::string st(o.at("state").as_string());
        BOOST_TEST((st == "mounted" || st == "gone"), boost::json::serialize(o));
        BOOST_TEST(is_rfc3339_utc(std::string(o.at("created").as_string())), boost::json::serialize(o));
        if (st == want_state) s.insert(std::string(o.at("target").as_string()));
    }
    return s;
}

std::string show(const std::set<std::string>& s) { return joined(std::vector<std::string>(s.begin(), s.end())); }

}  // namespace

BOOST_AUTO_TEST_CASE(sixteen_concurrent_mounts_then_half_unmounted) {
    TempDir t("reg");
    const fs::path state = t / "state";
    const std::vector<std::string> images{kMulti, kDeep, kBase, digest_reference()};
    struct Job {
        fs::path target;
        std::string image;
        bool writable;
    };
    std::vector<Job> jobs;
    for (int i = 0; i < 16; ++i) {
        Job j{t / ("target-" + std::to_string(i)), images[static_cast<std::size_t>(i) % images.size()], i % 3 == 0};
        fs::create_directories(j.target);
        jobs.push_back(j);
    }
    BOOST_TEST_REQUIRE(ovlmount_mounts().empty());

    // 16 mounts and, meanwhile, readers of the registry.
    {
        std::vector<Process> procs;
        std::vector<Process> readers;
        for (const auto& j : jobs) {
            std::vector<std::string> a{"mount"};
            if (j.writable) a.push_back("--writable");
            a.insert(a.end(), {j.image, j.target.string()});
            procs.emplace_back(ovl_async(with_dirs(state, a)));
            if (procs.size() % 4 == 0) readers.emplace_back(ovl_async({"--state-dir", state.string(), "list", "--json"}));
        }
        for (auto& p : procs) {
            Result r = p.wait();
            OVLT_EXPECT_EXIT(r, 0);
        }
        for (auto& p : readers) {
            Result r = p.wait();
            OVLT_EXPECT_EXIT(r, 0);
            BOOST_TEST(parse_json(r.out, "concurrent list --json").is_array());
        }
    }
    auto listed = listed_targets(state);
    BOOST_TEST(listed.size() == 16u, show(listed));
    BOOST_TEST((listed == mounted_targets()), "list:" << show(listed) << "\nmountinfo:" << show(mounted_targets()));

    // Each record names what was mounted.
    std::map<std::string, std::string> scratch_of;
    for (const auto& v : ovl_list(state)) {
        const auto& o = v.as_object();
        auto it = std::find_if(jobs.begin(), jobs.end(), [&](const Job& j) { return canon(j.target) == o.at("target").as_string(); });
        BOOST_TEST_REQUIRE((it != jobs.end()));
        BOOST_TEST(jstr(o, "reference") == it->image);
        BOOST_TEST(jstr(o, "image_id") == docker_image_id(it->image));
        expect_record_lowerdir(jstrings(o, "lowerdir"), it->image, state);
        BOOST_TEST(o.at("writable").as_bool() == it->writable);
        if (it->writable) scratch_of[jstr(o, "target")] = jstr(o, "scratch");
    }

    // Half of them unmounted concurrently.
    {
        std::vector<Process> procs;
        for (std::size_t i = 0; i < jobs.size(); i += 2)
            procs.emplace_back(ovl_async({"--state-dir", state.string(), "umount", jobs[i].target.string()}));
        for (auto& p : procs) OVLT_EXPECT_EXIT(p.wait(), 0);
    }
    std::set<std::string> expect;
    for (std::size_t i = 1; i < jobs.size(); i += 2) expect.insert(canon(jobs[i].target));
    listed = listed_targets(state);
    BOOST_TEST((listed == expect), "list:" << show(listed) << "\nexpected:" << show(expect));
    BOOST_TEST((mounted_targets() == expect), "mountinfo:" << show(mounted_targets()) << "\nexpected:" << show(expect));
    BOOST_TEST(listed_targets(state, "gone").empty());
    for (std::size_t i = 0; i < jobs.size(); i += 2)
        if (jobs[i].writable) BOOST_TEST(!fs::exists(scratch_of[canon(jobs[i].target)]), "scratch left for " << jobs[i].target);

    // umount --all
    Result all = ovl({"--state-dir", state.string(), "umount", "--all"});
    OVLT_EXPECT_EXIT(all, 0);
    BOOST_TEST(ovlmount_mounts().empty(), "overlay mounts left: " << show(mounted_targets()));
    Result l = ovl({"--state-dir", state.string(), "list", "--json"});
    OVLT_EXPECT_EXIT(l, 0);
    BOOST_TEST(trim(l.out) == "[]");
    for (const auto& [target, scratch] : scratch_of) BOOST_TEST(!fs::exists(scratch), "scratch left for " << target);
    if (fs::exists(state / "scratch")) BOOST_TEST(fs::is_empty(state / "scratch"));
}

BOOST_AUTO_TEST_CASE(unmounted_behind_its_back_is_gone_then_cleaned_up) {
    TempDir t("reg");
    const fs::path state = t / "state";
    const fs::path a = t / "a", b = t / "b";
    fs::create_directories(a);
    fs::create_directories(b);
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", "--writable", kMulti, a.string()})), 0);
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", kDeep, b.string()})), 0);
    const auto records = ovl_list(state);
    const auto* rec = find_record(records, a);
    BOOST_TEST_REQUIRE(rec != nullptr);
    const std::string scratch = jstr(*rec, "scratch");

    Result u = run({"umount", a.string()});  // util-linux, behind ovlmount's back
    OVLT_REQUIRE_EXIT(u, 0);
    BOOST_TEST((listed_targets(state, "gone") == std::set<std::string>{canon(a)}));
    BOOST_TEST((listed_targets(state, "mounted") == std::set<std::string>{canon(b)}));
    Result text = ovl({"--state-dir", state.string(), "list"});
    OVLT_EXPECT_EXIT(text, 0);
    bool found = false;
    for (const auto& line : split(text.out, '\n'))
        if (line.find(canon(a)) != std::string::npos) {
            found = true;
            BOOST_TEST(line.find("gone") != std::string::npos, line);
        }
    BOOST_TEST(found, "plain list does not show " << a << ":\n" << text.out);

    Result c = ovl({"--state-dir", state.string(), "cleanup"});
    OVLT_EXPECT_EXIT(c, 0);
    BOOST_TEST(listed_targets(state, "gone").empty());
    BOOST_TEST((listed_targets(state, "mounted") == std::set<std::string>{canon(b)}));
    BOOST_TEST(!fs::exists(scratch), "cleanup left the scratch dir " << scratch);
    BOOST_TEST(mount_at(b).has_value(), "cleanup unmounted a live mount");
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", b.string()}), 0);
    BOOST_TEST(ovl_list(state).empty());
}

BOOST_AUTO_TEST_CASE(untracked_target_needs_force) {
    TempDir t("reg");
    const fs::path state = t / "state";
    const fs::path x = t / "x";
    fs::create_directories(x);
    BOOST_TEST_REQUIRE(::mount("tmpfs", x.c_str(), "tmpfs", 0, "size=1m") == 0);
    Result r = ovl({"--state-dir", state.string(), "umount", x.string()});
    OVLT_EXPECT_EXIT(r, 3);
    OVLT_EXPECT_ONE_ERROR_LINE(r);
    BOOST_TEST(mount_at(x).has_value(), "an untracked mount was unmounted without --force");
    Result f = ovl({"--state-dir", state.string(), "umount", "--force", x.string()});
    OVLT_EXPECT_EXIT(f, 0);
    BOOST_TEST(!mount_at(x).has_value());
    ::umount2(x.c_str(), MNT_DETACH);
}

BOOST_AUTO_TEST_CASE(busy_target_fails_then_lazy_umount_works) {
    TempDir t("reg");
    const fs::path state = t / "state";
    const fs::path a = t / "a";
    fs::create_directories(a);
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", kMulti, a.string()})), 0);
    int fd = ::open((a / "etc/passwd").c_str(), O_RDONLY | O_CLOEXEC);
    BOOST_TEST_REQUIRE(fd >= 0);
    Result r = ovl({"--state-dir", state.string(), "umount", a.string()});
    OVLT_EXPECT_EXIT(r, 5);
    OVLT_EXPECT_ONE_ERROR_LINE(r);
    BOOST_TEST(mount_at(a).has_value());
    BOOST_TEST((listed_targets(state) == std::set<std::string>{canon(a)}));
    Result l = ovl({"--state-dir", state.string(), "umount", "--lazy", a.string()});
    OVLT_EXPECT_EXIT(l, 0);
    BOOST_TEST(!mount_at(a).has_value());
    BOOST_TEST(ovl_list(state).empty());
    ::close(fd);
}

BOOST_AUTO_TEST_CASE(same_target_twice_is_refused_and_the_first_mount_kept) {
    TempDir t("reg");
    const fs::path state = t / "state";
    const fs::path a = t / "a";
    fs::create_directories(a);
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", kMulti, a.string()})), 0);
    Result r = ovl(with_dirs(state, {"mount", kDeep, a.string()}));
    BOOST_TEST(r.code != 0, "mounting over a tracked target succeeded: " << r.describe());
    OVLT_EXPECT_ONE_ERROR_LINE(r);
    auto list = ovl_list(state);
    BOOST_TEST(list.size() == 1u, boost::json::serialize(list));
    const auto* rec = find_record(list, a);
    BOOST_TEST_REQUIRE(rec != nullptr);
    BOOST_TEST(jstr(*rec, "reference") == kMulti);
    BOOST_TEST(ovlmount_mounts().size() == 1u);
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", a.string()}), 0);
    BOOST_TEST(ovlmount_mounts().empty());
}

BOOST_AUTO_TEST_CASE(target_with_space_comma_colon_backslash) {
    TempDir t("reg");
    const fs::path state = t / "state";
    const fs::path a = t / "odd target, with: colon\\and\ttab";
    fs::create_directories(a);
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", "--writable", kMulti, a.string()})), 0);
    BOOST_TEST(mount_at(a).has_value());
    BOOST_TEST((listed_targets(state) == std::set<std::string>{canon(a)}));
    BOOST_TEST((mounted_targets() == std::set<std::string>{canon(a)}));
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", a.string()}), 0);
    BOOST_TEST(!mount_at(a).has_value());
    BOOST_TEST(ovl_list(state).empty());
}

BOOST_AUTO_TEST_CASE(option_characters_in_the_data_root_and_state_dir_add_no_option_or_layer) {
    // Layers, upper and work reach the kernel as descriptors: a data root or state dir path
    // spelling ",lowerdir=/etc:" (with '\\', '=' and a newline) adds no layer and no option:
    // the tree is still exactly `docker export`'s.
    TempDir t("inject");
    const fs::path odd = t / "a,lowerdir=/etc:b\\c=d\ne";
    fs::create_directories(odd / "root");
    BOOST_TEST_REQUIRE(::mount(data_root().c_str(), (odd / "root").c_str(), nullptr, MS_BIND | MS_RDONLY, nullptr) == 0);
    const fs::path state = odd / "state,upperdir=:x";
    const fs::path exported = t / "exported";
    const fs::path target = t / "target";
    docker_export_image(kMulti, exported);
    fs::create_directories(target);
    for (const bool writable : {false, true}) {
        std::vector<std::string> args{"mount", kMulti, target.string()};
        if (writable) args.insert(args.begin() + 1, "--writable");
        OVLT_REQUIRE_EXIT(ovl(with_dirs(state, args, (odd / "root").string())), 0);
        const auto mounted = mount_at(target);
        BOOST_TEST_REQUIRE(mounted.has_value());
        for (const std::string& option : split(mounted->super_options, ','))
            BOOST_TEST((option != "lowerdir=/etc" && option != "lowerdir+=/etc" && option != "upperdir=/etc"),
                       mounted->super_options);
        const auto differences = compare_trees(exported, target, docker_init_entries());
        BOOST_TEST(differences.empty(), joined(differences));
        OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", target.string()}), 0);
    }
    ::umount2((odd / "root").c_str(), MNT_DETACH);
}

BOOST_AUTO_TEST_CASE(umount_by_the_path_given_to_mount) {
    // The same spelling of the target for mount and umount: with a trailing slash, with "." and
    // "..". (A target reached through a symlink is refused: race_test.cpp.)
    TempDir t("reg");
    const fs::path state = t / "state";
    const fs::path real = t / "real";
    fs::create_directories(real);
    fs::create_directories(t / "other");
    for (const std::string& spelling : {real.string() + "/", (t / "." / "real").string(), (t / "other" / ".." / "real").string()}) {
        BOOST_TEST_CONTEXT("target spelled " << spelling) {
            OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", kMulti, spelling})), 0);
            BOOST_TEST(mount_at(real).has_value());
            Result u = ovl({"--state-dir", state.string(), "umount", spelling});
            OVLT_EXPECT_EXIT(u, 0);
            if (u.code != 0) OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", real.string()}), 0);
            BOOST_TEST(!mount_at(real).has_value());
            BOOST_TEST(ovl_list(state).empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(missing_target_fails_without_a_record) {
    TempDir t("reg");
    const fs::path state = t / "state";
    for (const fs::path& target : {t / "does-not-exist", t / "a-file"}) {
        if (target.filename() == "a-file") write_file(target, "x");
        Result r = ovl(with_dirs(state, {"mount", "--writable", kMulti, target.string()}));
        BOOST_TEST(r.code != 0, r.describe());
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        BOOST_TEST(ovlmount_mounts().empty());
        if (fs::exists(state)) BOOST_TEST(ovl_list(state).empty());
        if (fs::exists(state / "scratch")) BOOST_TEST(fs::is_empty(state / "scratch"));
    }
}

BOOST_AUTO_TEST_CASE(umount_all_goes_on_past_a_busy_target) {
    TempDir t("reg");
    const fs::path state = t / "state";
    const fs::path a = t / "a", b = t / "b", c = t / "c";
    for (const auto& p : {a, b, c}) {
        fs::create_directories(p);
        OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", "--writable", kMulti, p.string()})), 0);
    }
    int fd = ::open((b / "etc/passwd").c_str(), O_RDONLY | O_CLOEXEC);
    BOOST_TEST_REQUIRE(fd >= 0);
    Result r = ovl({"--state-dir", state.string(), "umount", "--all"});
    OVLT_EXPECT_EXIT(r, 5);
    BOOST_TEST(r.err.find(canon(b)) != std::string::npos, r.describe());
    BOOST_TEST((mounted_targets() == std::set<std::string>{canon(b)}), show(mounted_targets()));
    BOOST_TEST((listed_targets(state) == std::set<std::string>{canon(b)}));
    Result l = ovl({"--state-dir", state.string(), "umount", "--all", "--lazy"});
    OVLT_EXPECT_EXIT(l, 0);
    BOOST_TEST(ovlmount_mounts().empty());
    BOOST_TEST(ovl_list(state).empty());
    ::close(fd);
    if (fs::exists(state / "scratch")) BOOST_TEST(fs::is_empty(state / "scratch"));
}
