// Hostile media under the state dir and the data root. A full disk (the state dir on a tiny
// tmpfs, filled up) and a read-only state dir: mount, umount and cleanup fail with one clear
// error line and their exit code, leave no half-written record, no scratch dir and no mount
// (an overlay is never mounted when its record cannot be written). A data root on a read-only
// bind mount and on a squashfs image of a copy of the test data root: every read-only command
// works there and answers as it does on the original (paths of the data root aside).
#define BOOST_TEST_MODULE ovlmount_integration_media
#include "itest.hpp"

#include <sys/mount.h>

using namespace ovltest;

namespace {

std::set<std::string> entries_of(const fs::path& dir) {
    std::set<std::string> out;
    if (!fs::exists(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
    return out;
}

std::string show(const std::set<std::string>& s) { return joined(std::vector<std::string>(s.begin(), s.end())); }

// Fills the filesystem holding `dir` by writing `dir`/filler until ENOSPC.
void fill_up(const fs::path& dir) {
    const int fd = ::open((dir / "filler").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    BOOST_TEST_REQUIRE(fd >= 0, std::strerror(errno));
    const std::string block(4096, 'x');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    const int e = errno;
    ::close(fd);
    BOOST_TEST_REQUIRE(e == ENOSPC, "filling up ended with " << std::strerror(e));
    const int probe = ::open((dir / "probe").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    BOOST_TEST_REQUIRE(probe >= 0);
    BOOST_TEST_REQUIRE(::write(probe, "x", 1) < 0, "self-check: the disk is not full");
    ::close(probe);
    fs::remove(dir / "probe");
}

void mount_tmpfs(const fs::path& dir, const std::string& options) {
    fs::create_directories(dir);
    BOOST_TEST_REQUIRE(::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0, std::strerror(errno));
}

// A read-only bind mount of `dir` onto itself.
void make_read_only(const fs::path& dir) {
    BOOST_TEST_REQUIRE(::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) == 0, std::strerror(errno));
    BOOST_TEST_REQUIRE(::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0,
                       std::strerror(errno));
    BOOST_TEST_REQUIRE(::mkdir((dir / "ovltest-probe").c_str(), 0700) != 0, "self-check: still writable");
}

// A failed command: `code`, one error line (naming the cause when `cause` is not empty) besides
// the warnings about volumes left unbound (ovltest-vols' host bind).
void expect_clean_failure(const Result& r, int code, const std::string& cause) {
    OVLT_EXPECT_EXIT(r, code);
    std::string errors;
    for (const auto& line : lines_of(r.err, false))
        if (line.find(": not bound: ") == std::string::npos) errors += line + "\n";
    BOOST_TEST(one_error_line(errors), "stderr must be one error line: " << r.describe());
    if (!cause.empty()) BOOST_TEST(r.err.find(cause) != std::string::npos, "the error does not say " << cause << ": " << r.describe());
}

// Mount attempts that cannot write their record: each fails cleanly and leaves nothing.
void expect_mounts_refused(const fs::path& state, const fs::path& dir, const std::string& cause) {
    const std::vector<std::vector<std::string>> attempts{{"mount", kMulti},
                                                         {"mount", kBase},
                                                         {"mount", "--writable", kMulti},
                                                         {"container", "--volumes", "--writable", kVols}};
    const auto records_before = entries_of(state / "mounts");
    const auto scratch_before = entries_of(state / "scratch");
    for (auto args : attempts) {
        const fs::path target = dir / "refused";
        fs::create_directories(target);
        args.push_back(target.string());
        BOOST_TEST_CONTEXT(joined(args, " ")) {
            expect_clean_failure(ovl(with_dirs(state, args)), 1, cause);
            BOOST_TEST(mounts_below(target).empty(), "an overlay was mounted without its record");
            BOOST_TEST((entries_of(state / "mounts") == records_before), "records now:" << show(entries_of(state / "mounts")));
            BOOST_TEST((entries_of(state / "scratch") == scratch_before), "scratch now:" << show(entries_of(state / "scratch")));
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(full_disk_under_a_new_state_dir) {
    TempDir t("media");
    const fs::path disk = t / "disk";
    mount_tmpfs(disk, "size=64k");
    const fs::path state = disk / "state";
    fill_up(disk);
    expect_mounts_refused(state, t.path(), "No space left on device");
    BOOST_TEST(ovlmount_mounts().empty());
    Result list = ovl({"--state-dir", state.string(), "list", "--json"});
    OVLT_EXPECT_EXIT(list, 0);
    BOOST_TEST(trim(list.out) == "[]");
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "cleanup"}), 0);
    ::umount2(disk.c_str(), MNT_DETACH);
}

BOOST_AUTO_TEST_CASE(full_disk_under_a_state_dir_with_live_mounts) {
    TempDir t("media");
    const fs::path disk = t / "disk";
    mount_tmpfs(disk, "size=64k");
    const fs::path state = disk / "state";
    const fs::path image = t / "image", container = t / "container";
    fs::create_directories(image);
    fs::create_directories(container);
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", kMulti, image.string()})), 0);
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"container", "--volumes", kVols, container.string()})), 0);
    fill_up(disk);

    expect_mounts_refused(state, t.path(), "No space left on device");
    const auto list = ovl_list(state);
    BOOST_TEST(list.size() == 2u, boost::json::serialize(list));
    for (const auto& r : list) BOOST_TEST(jstr(r, "state") == "mounted", boost::json::serialize(r));

    // Taking mounts down needs no space.
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", image.string()}), 0);
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", container.string()}), 0);
    BOOST_TEST(mounts_below(image).empty());
    BOOST_TEST(mounts_below(container).empty());
    BOOST_TEST(ovl_list(state).empty());
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "cleanup"}), 0);
    BOOST_TEST(entries_of(state / "mounts").empty());
    ::umount2(disk.c_str(), MNT_DETACH);
}

BOOST_AUTO_TEST_CASE(read_only_state_dir) {
    TempDir t("media");
    const fs::path state = t / "state";
    const fs::path live = t / "live";
    fs::create_directories(live);
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"mount", "--writable", kMulti, live.string()})), 0);
    const auto records = entries_of(state / "mounts");
    make_read_only(state);

    expect_mounts_refused(state, t.path(), "Read-only file system");
    expect_clean_failure(ovl({"--state-dir", state.string(), "umount", live.string()}), 1, "Read-only file system");
    BOOST_TEST(mount_at(live).has_value(), "umount unmounted what it could not forget");
    expect_clean_failure(ovl({"--state-dir", state.string(), "umount", "--all"}), 1, "Read-only file system");
    expect_clean_failure(ovl({"--state-dir", state.string(), "cleanup"}), 1, "Read-only file system");
    BOOST_TEST(mount_at(live).has_value());
    // Reading the registry needs no write.
    const auto list = ovl_list(state);
    BOOST_TEST_REQUIRE(list.size() == 1u, boost::json::serialize(list));
    BOOST_TEST(jstr(list[0], "state") == "mounted");
    BOOST_TEST((entries_of(state / "mounts") == records));

    BOOST_TEST_REQUIRE(::umount2(state.c_str(), 0) == 0, std::strerror(errno));
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", live.string()}), 0);
    BOOST_TEST(mounts_below(live).empty());
    BOOST_TEST(ovl_list(state).empty());
}

BOOST_AUTO_TEST_CASE(read_only_empty_state_dir) {
    TempDir t("media");
    const fs::path state = t / "state";
    fs::create_directories(state);
    make_read_only(state);
    expect_mounts_refused(state, t.path(), "Read-only file system");
    BOOST_TEST(ovlmount_mounts().empty());
    ::umount2(state.c_str(), MNT_DETACH);
}

// ---- read-only data roots ------------------------------------------------------------------

namespace {

// Every occurrence of `from` in `text` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

// `text`, an answer of `files --json` or `diff --bodyfile` (`command` "files" or "bodyfile"), without what belongs to the
// filesystem holding the data root rather than to the store: inode numbers, sizes of
// directories, sub-second mtimes (squashfs keeps seconds), atimes and ctimes (a copy gets new
// ones; squashfs has none).
std::string comparable(const std::string& command, const std::string& text) {
    std::string out;
    for (const auto& line : lines_of(text, false)) {
        if (command == "files") {
            auto entry = parse_json(line, "files --json").as_object();
            if (entry.at("type").as_string() == "dir") entry["size"] = nullptr;
            const std::string mtime(entry.at("mtime").as_string());
            entry["mtime"] = mtime.substr(0, mtime.find('.'));
            out += boost::json::serialize(entry) + "\n";
        } else if (command == "bodyfile") {
            // md5|name|inode|mode|uid|gid|size|atime|mtime|ctime|crtime
            auto fields = split(line, '|');
            BOOST_TEST_REQUIRE(fields.size() >= 11u, line);
            const std::size_t n = fields.size();
            fields[n - 9] = fields[n - 4] = fields[n - 2] = fields[n - 1] = "-";
            if (fields[n - 8].rfind("d/", 0) == 0) fields[n - 5] = "-";
            std::string kept;
            for (const auto& f : fields) kept += f + "|";
            out += kept + "\n";
        } else {
            out += line + "\n";
        }
    }
    return out;
}

// The read-only commands give on `root` what they give on the original data root; a mount of
// an image and of a container there shows the same trees and unmounts cleanly.
void expect_same_answers(const fs::path& root, const fs::path& scratch) {
    const std::string original = data_root();
    const std::vector<std::vector<std::string>> commands{
        {"images"},
        {"images", "--json"},
        {"containers", "--json"},
        {"resolve", "--json", kMulti},
        {"resolve", kDeep},
        {"inspect", "--json", kMulti},
        {"inspect", "--json", kChanges},
        {"inspect", "--json", kVols},
        {"verify", "--json", kMulti},
        {"verify", "--json", kChanges},
        {"verify", "--quick", kDeep},
        {"diff", "--json", kChanges},
        {"diff", "--bodyfile", kChanges},
        {"which", "--json", kMulti, "/data/keep"},
        {"which", kChanges, "/etc/hostname"},
        {"which", kMulti, "/nonexistent"},
        {"files", "--json", kMulti},
        {"files", "--json", "--layer", kChanges},
        {"export", "--reproducible", "-o", "-", kMulti},
        {"export", "--reproducible", "-o", "-", kChanges},
    };
    for (const auto& c : commands) {
        BOOST_TEST_CONTEXT(joined(c, " ")) {
            std::vector<std::string> args{c.front()};
            args.insert(args.end(), c.begin() + 1, c.end());
            std::vector<std::string> on_original{"--data-root", original};
            on_original.insert(on_original.end(), args.begin(), args.end());
            std::vector<std::string> on_copy{"--data-root", root.string()};
            on_copy.insert(on_copy.end(), args.begin(), args.end());
            const Result expected = ovl(on_original);
            const Result got = ovl(on_copy);
            BOOST_TEST(got.code == expected.code, got.describe() << "\non the original: " << expected.describe());
            BOOST_TEST((expected.code == 0 || c.back() == "/nonexistent"), expected.describe());
            if (c.front() == "export") {
                BOOST_TEST(sha256_hex(got.out) == sha256_hex(expected.out), "the exports differ");
                BOOST_TEST(got.out.size() > 10240u);
            } else {
                const std::string kind = c.size() > 1 && c[1] == "--bodyfile" ? "bodyfile" : c.front();
                BOOST_TEST(comparable(kind, replaced(got.out, root.string(), original)) ==
                               comparable(kind, expected.out), "answers differ");
            }
            BOOST_TEST(replaced(got.err, root.string(), original) == expected.err);
        }
    }

    const fs::path state = scratch / "state";
    using Mount = std::pair<std::string, std::string>;
    for (const auto& [command, source] : {Mount{"mount", kMulti}, Mount{"container", kChanges}}) {
        BOOST_TEST_CONTEXT(command << " " << source) {
            const fs::path here = scratch / ("here-" + command), there = scratch / ("there-" + command);
            fs::create_directories(here);
            fs::create_directories(there);
            OVLT_REQUIRE_EXIT(ovl({"--data-root", root.string(), "--state-dir", state.string(), command, source, here.string()}), 0);
            OVLT_REQUIRE_EXIT(ovl({"--data-root", original, "--state-dir", state.string(), command, source, there.string()}), 0);
            OVLT_EXPECT_NO_DIFFS(compare_trees(there, here, {}), "the mounted trees differ");
            BOOST_TEST(read_every_file(here) > 0u);
            OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", here.string()}), 0);
            OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", there.string()}), 0);
            BOOST_TEST(mounts_below(here).empty());
        }
    }
    BOOST_TEST(ovl_list(state).empty());
}

}  // namespace

BOOST_AUTO_TEST_CASE(data_root_on_a_read_only_bind_mount) {
    TempDir t("media");
    const fs::path copy = t / "copy";
    copy_data_root(copy);
    make_read_only(copy);
    auto m = mount_at(copy);
    BOOST_TEST_REQUIRE((m.has_value() && m->has_option("ro")), "the bind mount is not read-only");
    expect_same_answers(copy, t.path());
    ::umount2(copy.c_str(), MNT_DETACH);
}

BOOST_AUTO_TEST_CASE(data_root_on_squashfs) {
    TempDir t("media");
    const fs::path copy = t / "copy";
    const fs::path image = t / "root.squashfs";
    const fs::path root = t / "root";
    copy_data_root(copy);
    OVLT_REQUIRE_EXIT(run({"mksquashfs", copy.string(), image.string(), "-quiet", "-noappend", "-no-progress"}), 0);
    fs::remove_all(copy);
    fs::create_directories(root);
    OVLT_REQUIRE_EXIT(run({"mount", "-t", "squashfs", "-o", "loop,ro", image.string(), root.string()}), 0);
    auto m = mount_at(root);
    BOOST_TEST_REQUIRE((m.has_value() && m->fstype == "squashfs"), "no squashfs at " << root);
    expect_same_answers(root, t.path());
    ::umount2(root.c_str(), MNT_DETACH);
}
