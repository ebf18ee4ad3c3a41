// A data root at a long path (the 100-layer image's absolute lowerdirs are far over one page
// of mount data) and at a path with characters mount options escape (space, comma, colon,
// backslash). The mounted tree must still equal Docker's export.
#define BOOST_TEST_MODULE ovlmount_integration_long_root
#include "itest.hpp"

using namespace ovltest;

namespace {

void check_from_root(const fs::path& root, const TempDir& t, const std::string& image, const fs::path& exported) {
    BOOST_TEST_CONTEXT("image " << image << " from data root " << root) {
        // The copy has the same layers, at the copy's path.
        auto v = ovl_json({"--data-root", root.string(), "resolve", "--json", image});
        std::vector<std::string> expect;
        for (const auto& l : docker_lowerdirs(image))
            expect.push_back(root.string() + l.substr(data_root().size()));
        OVLT_EXPECT_SAME_LIST(jstrings(v, "lowerdir"), expect, "lowerdir");
        BOOST_TEST(jstr(v, "image_id") == docker_image_id(image));

        const fs::path target = t / "target";
        const fs::path state = t / "state";
        fs::create_directories(target);
        Result r = ovl(with_dirs(state, {"mount", image, target.string()}, root.string()));
        OVLT_REQUIRE_EXIT(r, 0);
        auto m = mount_at(target);
        BOOST_TEST_REQUIRE(m.has_value());
        BOOST_TEST(m->has_option("ro"));
        OVLT_EXPECT_NO_DIFFS(compare_trees(exported, target, docker_init_entries()), "mounted " + image);
        OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", target.string()}), 0);
        BOOST_TEST(!mount_at(target).has_value());

        // Writable too.
        r = ovl(with_dirs(state, {"mount", "--writable", image, target.string()}, root.string()));
        OVLT_REQUIRE_EXIT(r, 0);
        write_file(target / "written", "x");
        OVLT_EXPECT_NO_DIFFS(compare_trees(exported, target, [] {
                                 auto s = docker_init_entries();
                                 s.insert("written");
                                 return s;
                             }()),
                             "writable mount of " + image);
        OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", target.string()}), 0);
        BOOST_TEST(!mount_at(target).has_value());
    }
}

void check_root_path(const fs::path& root, const TempDir& t) {
    fs::create_directories(root.parent_path());
    copy_data_root(root);
    for (const auto& image : {kDeep, kMulti}) {
        const fs::path exported = t / ("export-" + image.substr(8, 4));
        if (!fs::exists(exported)) docker_export_image(image, exported);
        check_from_root(root, t, image, exported);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(data_root_at_a_path_of_over_200_characters) {
    TempDir t("long");
    fs::path root = t.path();
    for (char c : {'a', 'b', 'c', 'd'}) root /= std::string(60, c);
    root /= "docker-root";
    BOOST_TEST_REQUIRE(root.string().size() >= 200u);
    // The test only means something if the absolute lowerdir list is over a page.
    std::size_t total = 0;
    for (const auto& l : docker_lowerdirs(kDeep)) total += root.string().size() + l.size() - data_root().size() + 1;
    BOOST_TEST_REQUIRE(total > 4096u);
    BOOST_TEST_MESSAGE("data root path " << root.string().size() << " chars; 100-layer lowerdir option " << total
                                         << " bytes");
    check_root_path(root, t);
}

BOOST_AUTO_TEST_CASE(data_root_path_with_space_comma_colon_backslash) {
    TempDir t("odd");
    fs::path root = t / "odd dir, with: colon\\and=equals" / "root";
    check_root_path(root, t);
}
