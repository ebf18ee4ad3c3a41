// The mounted tree equals the file tree Docker exports for a container of the image (minus
// Docker's init layer), the mount is read-only (ro,nosuid,nodev) and umount removes it.
#define BOOST_TEST_MODULE ovlmount_integration_tree
#include "itest.hpp"

#include <sstream>

using namespace ovltest;

namespace {

// Mounts `image` read-only and compares with Docker's export; `command_word` false uses the
// short form `ovlmount IMAGE TARGET`.
void check_image(const std::string& image, bool one_layer, bool command_word = true) {
    BOOST_TEST_CONTEXT("image " << image) {
        TempDir t("tree");
        const fs::path exported = t / "export";
        const fs::path target = t / "target";
        const fs::path state = t / "state";
        docker_export_image(image, exported);
        fs::create_directory(target);

        std::vector<std::string> args{"--data-root", data_root(), "--state-dir", state.string()};
        if (command_word) args.push_back("mount");
        args.insert(args.end(), {image, target.string()});
        Result r = ovl(args);
        OVLT_REQUIRE_EXIT(r, 0);

        auto m = mount_at(target);
        BOOST_TEST_REQUIRE(m.has_value(), "nothing is mounted at " << target);
        BOOST_TEST(m->has_option("ro"), "mount options: " << m->options);
        BOOST_TEST(m->has_option("nosuid"), "mount options: " << m->options);
        BOOST_TEST(m->has_option("nodev"), "mount options: " << m->options);
        if (!one_layer || m->fstype == "overlay") {
            BOOST_TEST(m->fstype == "overlay");
            BOOST_TEST(m->source == "ovlmount", "mount source " << m->source);
        } else {
            // A one-layer image may be a read-only bind mount of its diff dir.
            BOOST_TEST(m->root.size() >= 5);
            BOOST_TEST(m->root.compare(m->root.size() - 5, 5, "/diff") == 0, "bind mount of " << m->root);
        }

        auto diffs = compare_trees(exported, target, docker_init_entries());
        OVLT_EXPECT_NO_DIFFS(diffs, "mounted " + image + " vs docker export");
        expect_writes_refused(target, "etc/passwd");

        auto list = ovl_list(state);
        const auto* rec = find_record(list, target);
        BOOST_TEST_REQUIRE(rec != nullptr, "no record for " << target << ": " << boost::json::serialize(list));
        BOOST_TEST(jstr(*rec, "state") == "mounted");
        BOOST_TEST(jstr(*rec, "image_id") == docker_image_id(image));
        BOOST_TEST(jstr(*rec, "reference") == image);
        BOOST_TEST(jstr(*rec, "data_root") == data_root());
        expect_record_lowerdir(jstrings(*rec, "lowerdir"), image, state);
        BOOST_TEST(rec->at("writable") == false);
        BOOST_TEST(rec->at("upper").is_null());
        BOOST_TEST(rec->at("work").is_null());
        BOOST_TEST(rec->at("scratch").is_null());
        BOOST_TEST(is_rfc3339_utc(jstr(*rec, "created")), jstr(*rec, "created"));

        // Plain list: TARGET STATE IMAGE-ID(12) REFERENCE
        Result plain = ovl({"--state-dir", state.string(), "list"});
        OVLT_EXPECT_EXIT(plain, 0);
        std::istringstream line(plain.out);
        std::string f_target, f_state, f_id, f_ref;
        line >> f_target >> f_state >> f_id >> f_ref;
        BOOST_TEST(f_target == canon(target), plain.out);
        BOOST_TEST(f_state == "mounted", plain.out);
        BOOST_TEST(f_id == docker_image_id(image).substr(7, 12), plain.out);
        BOOST_TEST(f_ref == image, plain.out);

        Result u = ovl({"--state-dir", state.string(), "umount", target.string()});
        OVLT_EXPECT_EXIT(u, 0);
        BOOST_TEST(!mount_at(target).has_value(), "still mounted after umount");
        BOOST_TEST(ovl_list(state).empty());
        BOOST_TEST(fs::is_directory(target), "umount removed the target directory");
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_comparison_detects_differences) {
    // Self-check of the method: an identical copy compares equal, and each kind of difference
    // the tree tests rely on is reported.
    TempDir t("cmp");
    const fs::path a = t / "a", b = t / "b";
    docker_export_image(kMulti, a);
    OVLT_REQUIRE_EXIT(run({"cp", "-a", a.string(), b.string()}), 0);
    OVLT_EXPECT_NO_DIFFS(compare_trees(a, b, docker_init_entries()), "identical copies");
    auto tree = walk_tree(a);
    BOOST_TEST_REQUIRE((tree.count("data/hl2 b") && tree.count("hl2-c")));
    BOOST_TEST(tree.at("data/hl2 b").ino == tree.at("hl2-c").ino, "the export has no hard-link group");

    BOOST_TEST_REQUIRE(::chmod((b / "perm/secret").c_str(), 0644) == 0);
    BOOST_TEST_REQUIRE(::lchown((b / "perm/owned").c_str(), 1235, 2345) == 0);
    write_file(b / "data/keep", "CHANGED\n");  // same size as "changed\n"
    fs::copy_file(b / "hl2-c", t / "hl2-copy");
    fs::rename(t / "hl2-copy", b / "hl2-c");  // breaks the hard link, same contents
    fs::remove(b / "abs-link");
    fs::create_symlink("/data/elsewhere", b / "abs-link");
    BOOST_TEST_REQUIRE(::mknod((b / "data/whiteout").c_str(), S_IFCHR | 0, 0) == 0);
    fs::remove(b / "d/new");
    fs::remove(b / "etc/hostname");  // ignored: Docker's init layer
    auto d = compare_trees(a, b, docker_init_entries(), 100);
    const std::string all = joined(d);
    for (const char* what : {"/perm/secret: mode", "/perm/owned: owner", "/data/keep: contents", "hard-link group",
                             "/abs-link: symlink", "unexpected in mount: /data/whiteout", "missing in mount: /d/new"})
        BOOST_TEST(all.find(what) != std::string::npos, "not detected: " << what << "; got:" << all);
    BOOST_TEST(all.find("hostname") == std::string::npos, all);
}

BOOST_AUTO_TEST_CASE(one_layer_image) { check_image(kBase, true); }

BOOST_AUTO_TEST_CASE(one_layer_image_short_form) { check_image(kOne, true, false); }

BOOST_AUTO_TEST_CASE(multi_layer_image_with_whiteouts_opaque_dirs_and_odd_names) { check_image(kMulti, false); }

BOOST_AUTO_TEST_CASE(hundred_layer_image) { check_image(kDeep, false); }

BOOST_AUTO_TEST_CASE(mount_by_digest_reference_and_id) {
    TempDir t("tree");
    const fs::path exported = t / "export";
    docker_export_image(kMulti, exported);
    for (const std::string& ref : {digest_reference(), docker_image_id(kMulti)}) {
        BOOST_TEST_CONTEXT("reference " << ref) {
            const fs::path target = t / "target";
            fs::create_directories(target);
            Result r = ovl(with_dirs(t / "state", {"mount", ref, target.string()}));
            OVLT_REQUIRE_EXIT(r, 0);
            OVLT_EXPECT_NO_DIFFS(compare_trees(exported, target, docker_init_entries()), "mounted " + ref);
            OVLT_EXPECT_EXIT(ovl({"--state-dir", (t / "state").string(), "umount", target.string()}), 0);
            BOOST_TEST(!mount_at(target).has_value());
        }
    }
}

BOOST_AUTO_TEST_CASE(relative_target_is_recorded_absolute) {
    TempDir t("tree");
    fs::create_directory(t / "target");
    RunOptions o;
    // Run from the temp dir with a relative target.
    std::vector<std::string> argv{"/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", t.path().string(),
                                  env().bin};
    for (auto& a : with_dirs(t / "state", {"mount", kMulti, "target"})) argv.push_back(a);
    Result r = run(argv, o);
    OVLT_REQUIRE_EXIT(r, 0);
    BOOST_TEST(mount_at(t / "target").has_value());
    auto list = ovl_list(t / "state");
    BOOST_TEST(find_record(list, t / "target") != nullptr, boost::json::serialize(list));
    OVLT_EXPECT_EXIT(ovl({"--state-dir", (t / "state").string(), "umount", (t / "target").string()}), 0);
    BOOST_TEST(!mount_at(t / "target").has_value());
}
