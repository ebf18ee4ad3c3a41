// `ovlmount export`: the tar equals `docker export`, entry by entry and in the same order:
// names, types, permission bits, owners, sizes, mtimes, contents, symlink targets, hard links,
// device numbers and xattrs. For an image the oracle is `docker export` of a container created
// from it, minus the entries Docker's init layer adds; for a container it is `docker export`
// of that container, init entries included. The tars are read by a small reader of their own
// here (ustar, pax and GNU long names), so neither side's tar library judges itself. Also:
// compression, --reproducible, stdout and -o FILE, refusals, interruption, and that nothing
// changes in the data root.
#define BOOST_TEST_MODULE ovlmount_integration_export
#include "itest.hpp"

#include <sys/stat.h>
#include <sys/xattr.h>

#include <map>

using namespace ovltest;

namespace {

// One entry of a tar as it stands in its headers.
struct TarEntry {
    std::string name;  // as stored, "etc/" for a directory
    char type = 0;     // typeflag
    unsigned mode = 0;  // permission bits (07777)
    std::int64_t uid = 0, gid = 0, size = 0, mtime = 0;
    std::string link;  // symlink target or hard-link target
    std::int64_t major = 0, minor = 0;
    std::map<std::string, std::string> xattrs;  // SCHILY.xattr.<name>
    std::string sha256;                         // of the content
};

std::int64_t octal(const std::string& tar, std::size_t at, std::size_t size) {
    if (static_cast<unsigned char>(tar[at]) & 0x80) {  // base-256
        std::int64_t v = tar[at] & 0x3f;
        for (std::size_t i = 1; i < size; ++i) v = v * 256 + static_cast<unsigned char>(tar[at + i]);
        return v;
    }
    std::int64_t v = 0;
    std::size_t i = 0;
    while (i < size && tar[at + i] == ' ') ++i;
    for (; i < size && tar[at + i] >= '0' && tar[at + i] <= '7'; ++i) v = v * 8 + (tar[at + i] - '0');
    return v;
}

std::string field(const std::string& tar, std::size_t at, std::size_t size) {
    std::string s = tar.substr(at, size);
    return s.substr(0, s.find('\0'));
}

// The records of a pax header ("<len> key=value\n"...).
std::map<std::string, std::string> pax_records(const std::string& data) {
    std::map<std::string, std::string> records;
    std::size_t at = 0;
    while (at < data.size()) {
        const std::size_t space = data.find(' ', at);
        if (space == std::string::npos) throw std::runtime_error("bad pax record");
        const std::size_t length = std::stoul(data.substr(at, space - at));
        const std::string record = data.substr(space + 1, length - (space - at) - 2);
        const std::size_t eq = record.find('=');
        records[record.substr(0, eq)] = record.substr(eq + 1);
        at += length;
    }
    return records;
}

// Every entry of the plain tar `tar`; throws on a bad header checksum or a truncated tar.
std::vector<TarEntry> parse_tar(const std::string& tar, const std::string& what) {
    std::vector<TarEntry> entries;
    std::map<std::string, std::string> pax;
    std::string long_name, long_link;
    std::size_t at = 0;
    while (true) {
        if (at + 512 > tar.size()) throw std::runtime_error(what + ": tar ends without its end blocks");
        if (tar.compare(at, 512, std::string(512, '\0')) == 0) break;
        std::int64_t sum = 0;
        for (std::size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(tar[at + i]);
        if (sum != octal(tar, at + 148, 8)) throw std::runtime_error(what + ": bad header checksum at offset " + std::to_string(at));
        const char type = tar[at + 156];
        std::int64_t size = octal(tar, at + 124, 12);
        if (type != 'x' && type != 'g' && pax.count("size")) size = std::stoll(pax.at("size"));
        const std::size_t data = at + 512;
        if (data + static_cast<std::size_t>(size) > tar.size()) throw std::runtime_error(what + ": truncated entry");
        const std::string content = tar.substr(data, static_cast<std::size_t>(size));
        at = data + (static_cast<std::size_t>(size) + 511) / 512 * 512;
        if (type == 'x') {
            pax = pax_records(content);
            continue;
        }
        if (type == 'g') continue;
        if (type == 'L' || type == 'K') {
            (type == 'L' ? long_name : long_link) = content.substr(0, content.find('\0'));
            continue;
        }
        TarEntry e;
        const std::string prefix = field(tar, data - 512 + 345, 155);
        e.name = prefix.empty() ? field(tar, data - 512, 100) : prefix + "/" + field(tar, data - 512, 100);
        if (!long_name.empty()) e.name = long_name;
        if (pax.count("path")) e.name = pax.at("path");
        e.type = type == '\0' ? '0' : type;
        e.mode = static_cast<unsigned>(octal(tar, data - 512 + 100, 8)) & 07777;
        e.uid = pax.count("uid") ? std::stoll(pax.at("uid")) : octal(tar, data - 512 + 108, 8);
        e.gid = pax.count("gid") ? std::stoll(pax.at("gid")) : octal(tar, data - 512 + 116, 8);
        e.size = size;
        e.mtime = pax.count("mtime") ? std::stoll(pax.at("mtime")) : octal(tar, data - 512 + 136, 12);
        e.link = field(tar, data - 512 + 157, 100);
        if (!long_link.empty()) e.link = long_link;
        if (pax.count("linkpath")) e.link = pax.at("linkpath");
        e.major = octal(tar, data - 512 + 329, 8);
        e.minor = octal(tar, data - 512 + 337, 8);
        for (const auto& [key, value] : pax)
            if (key.rfind("SCHILY.xattr.", 0) == 0) e.xattrs[key.substr(13)] = value;
        e.sha256 = sha256_hex(content);
        entries.push_back(std::move(e));
        pax.clear();
        long_name.clear();
        long_link.clear();
    }
    return entries;
}

// "etc/" -> "etc": the name docker_init_entries() uses.
std::string bare(const std::string& name) { return name.size() > 1 && name.back() == '/' ? name.substr(0, name.size() - 1) : name; }

// One entry on one line, for comparisons and messages.
std::string describe(const TarEntry& e) {
    std::ostringstream s;
    s << quote(e.name) << " type=" << (e.type >= 32 ? std::string(1, e.type) : std::to_string(e.type)) << " mode=0"
      << std::oct << e.mode << std::dec << " uid=" << e.uid << " gid=" << e.gid << " size=" << e.size << " mtime=" << e.mtime
      << " link=" << quote(e.link);
    if (e.type == '3' || e.type == '4') s << " dev=" << e.major << "/" << e.minor;
    for (const auto& [key, value] : e.xattrs) s << " xattr:" << key << "=" << sha256_hex(value).substr(0, 12);
    if (e.type == '0') s << " sha256=" << e.sha256.substr(0, 16);
    return s.str();
}

// The entries of `entries` not named in `skip` (names as docker_init_entries() spells them),
// as describe() lines, in tar order.
std::vector<std::string> lines_without(const std::vector<TarEntry>& entries, const std::set<std::string>& skip) {
    std::vector<std::string> lines;
    for (const TarEntry& e : entries)
        if (!skip.count(bare(e.name))) lines.push_back(describe(e));
    return lines;
}

// The first differences between two lists of describe() lines, at most 40: lines only one
// side has, then (when both hold the same lines) where their order differs.
std::vector<std::string> line_differences(const std::vector<std::string>& docker, const std::vector<std::string>& ours) {
    std::vector<std::string> out;
    const std::set<std::string> d(docker.begin(), docker.end()), o(ours.begin(), ours.end());
    for (const auto& l : docker)
        if (!o.count(l) && out.size() < 40) out.push_back("docker has: " + l);
    for (const auto& l : ours)
        if (!d.count(l) && out.size() < 40) out.push_back("ovlmount has: " + l);
    if (out.empty())
        for (std::size_t i = 0; i < std::min(docker.size(), ours.size()); ++i)
            if (docker[i] != ours[i]) {
                out.push_back("order differs at entry " + std::to_string(i) + ": docker " + docker[i] + ", ovlmount " + ours[i]);
                break;
            }
    return out;
}

// `docker export` of a new container of `image` (created, exported, removed).
std::string docker_export_of_image(const std::string& image, const fs::path& tarball) {
    {
        DataRootLock lock;
        const std::string cid = docker_ok({"create", image, "/bin/true"});
        Result r = docker({"export", "-o", tarball.string(), cid});
        Result rm = docker({"rm", "-v", cid});
        BOOST_TEST_REQUIRE(r.code == 0, r.describe());
        BOOST_TEST_REQUIRE(rm.code == 0, rm.describe());
    }
    return read_file(tarball);
}

// `docker export` of the existing container `name`.
std::string docker_export_of_container(const std::string& name, const fs::path& tarball) {
    {
        DataRootLock lock;
        Result r = docker({"export", "-o", tarball.string(), name});
        BOOST_TEST_REQUIRE(r.code == 0, r.describe());
    }
    return read_file(tarball);
}

// The names below <state>/scratch (none are left after an export).
std::vector<std::string> scratch_left(const fs::path& state) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(state / "scratch", ec)) names.push_back(e.path().filename().string());
    return names;
}

// `ovlmount export -o <t>/<name>.tar REF` against `docker_tar`, leaving out `skip`.
void expect_same_as_docker(const std::string& ref, const std::string& docker_tar, const std::set<std::string>& skip,
                           const TempDir& t) {
    const fs::path state = t / "state";
    const fs::path ours = t / "ours.tar";
    Result r = ovl(with_dirs(state, {"export", "-o", ours.string(), ref}));
    OVLT_REQUIRE_EXIT(r, 0);
    BOOST_TEST(r.out.empty(), "stdout: " << r.out);
    BOOST_TEST(r.err.empty(), "stderr: " << r.err);
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat(ours.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0600u, "-o FILE has mode 0" << std::oct << (st.st_mode & 07777));
    const auto docker_lines = lines_without(parse_tar(docker_tar, "docker export of " + ref), skip);
    const auto our_lines = lines_without(parse_tar(read_file(ours), "ovlmount export of " + ref), skip);
    BOOST_TEST(docker_lines.size() > 100u);
    OVLT_EXPECT_NO_DIFFS(line_differences(docker_lines, our_lines), "export of " + ref + " vs docker export");
    OVLT_EXPECT_SAME_LIST(scratch_left(state), std::vector<std::string>{}, "scratch dirs left");
}

}  // namespace

BOOST_AUTO_TEST_CASE(images_equal_docker_export_of_a_container_without_its_init_entries) {
    for (const std::string& image : {kBase, kOne, kMulti, kDeep}) {
        BOOST_TEST_CONTEXT("image " << image) {
            TempDir t("export");
            const std::string docker_tar = docker_export_of_image(image, t / "docker.tar");
            expect_same_as_docker(image, docker_tar, docker_init_entries(), t);
        }
    }
}

BOOST_AUTO_TEST_CASE(containers_equal_docker_export_of_the_container) {
    for (const std::string& name : {kChanges, kCreated, kVols}) {
        BOOST_TEST_CONTEXT("container " << name) {
            TempDir t("export");
            const std::string docker_tar = docker_export_of_container(name, t / "docker.tar");
            expect_same_as_docker(name, docker_tar, {}, t);
            expect_same_as_docker(docker_container_id(name).substr(0, 12), docker_tar, {}, t);
        }
    }
}

BOOST_AUTO_TEST_CASE(xattrs_are_written_except_overlay_marks_and_selinux_labels) {
    // Docker's own layers carry no xattrs, so they are set on a copy of the data root: on files
    // of ovltest-base's one layer. The tar must equal Docker's export of the original plus
    // exactly these, a revision-3 capability as revision 2, as Docker writes it.
    TempDir t("export-xattr");
    const fs::path root = t / "root";
    copy_data_root(root);
    const std::string layer = docker_lowerdirs(kBase).front();
    BOOST_TEST_REQUIRE(layer.rfind(data_root(), 0) == 0u);
    const fs::path diff = root / layer.substr(data_root().size() + 1);
    const fs::path release = diff / "etc/ovltest-release";
    const fs::path busybox = diff / "bin/busybox";
    const fs::path linuxrc = diff / "linuxrc";
    BOOST_TEST_REQUIRE(::setxattr(release.c_str(), "user.ovltest", "a\nvalue", 7, 0) == 0);
    BOOST_TEST_REQUIRE(::setxattr(release.c_str(), "trusted.overlay.ovltest", "hidden", 6, 0) == 0);
    const bool labelled = ::setxattr(release.c_str(), "security.selinux", "system_u:object_r:etc_t:s0", 26, 0) == 0;
    BOOST_TEST_REQUIRE(::lsetxattr(linuxrc.c_str(), "trusted.ovltest", "on a symlink", 12, 0) == 0);
    const unsigned char v3[24] = {0x01, 0, 0, 0x03, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe8, 0x03, 0, 0};
    BOOST_TEST_REQUIRE(::setxattr(busybox.c_str(), "security.capability", v3, sizeof v3, 0) == 0);

    const std::string docker_tar = docker_export_of_image(kBase, t / "docker.tar");
    const fs::path ours = t / "ours.tar";
    OVLT_REQUIRE_EXIT(ovl(with_dirs(t / "state", {"export", "-o", ours.string(), kBase}, root.string())), 0);
    auto expected = parse_tar(docker_tar, "docker export");
    for (TarEntry& e : expected) {
        if (e.name == "etc/ovltest-release") e.xattrs["user.ovltest"] = "a\nvalue";
        if (e.name == "linuxrc") e.xattrs["trusted.ovltest"] = "on a symlink";
        if (e.name == "bin/busybox")
            e.xattrs["security.capability"] = std::string("\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
    }
    OVLT_EXPECT_NO_DIFFS(line_differences(lines_without(expected, docker_init_entries()),
                                          lines_without(parse_tar(read_file(ours), "ovlmount export"), docker_init_entries())),
                         "export with xattrs vs docker export plus the xattrs set");
    if (!labelled) BOOST_TEST_MESSAGE("security.selinux could not be set here; its exclusion was not exercised");
}

BOOST_AUTO_TEST_CASE(compressed_reproducible_and_stdout_forms_hold_the_same_tar) {
    TempDir t("export-forms");
    const fs::path state = t / "state";
    const fs::path plain = t / "plain.tar";
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"export", "--reproducible", "-o", plain.string(), kMulti})), 0);
    const std::string tar = read_file(plain);
    for (const TarEntry& e : parse_tar(tar, "reproducible export")) BOOST_TEST(e.mtime == 0, e.name);

    // Twice, and to stdout: the same bytes.
    Result again = ovl(with_dirs(state, {"export", "--reproducible", kMulti}));
    OVLT_REQUIRE_EXIT(again, 0);
    BOOST_TEST((again.out == tar), "a second --reproducible export to stdout differs from the first");
    BOOST_TEST(again.err.empty(), again.err);

    // Without --reproducible only the mtimes differ.
    const fs::path dated = t / "dated.tar";
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"export", "-o", dated.string(), kMulti})), 0);
    auto zeroed = parse_tar(read_file(dated), "export");
    for (TarEntry& e : zeroed) e.mtime = 0;
    OVLT_EXPECT_NO_DIFFS(line_differences(lines_without(zeroed, {}), lines_without(parse_tar(tar, "reproducible"), {})),
                         "export with mtimes 0 vs --reproducible export");

    const fs::path gz = t / "multi.tar.gz";
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"export", "--reproducible", "--format", "tar.gz", "-o", gz.string(), kMulti})), 0);
    Result gunzip = run({"gzip", "-dc", gz.string()});
    OVLT_REQUIRE_EXIT(gunzip, 0);
    BOOST_TEST((gunzip.out == tar), "tar.gz does not hold the same tar");

    const fs::path zst = t / "multi.tar.zst";
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"export", "--reproducible", "--format", "tar.zst", "-o", zst.string(), kMulti})), 0);
    const std::string compressed = read_file(zst);
    BOOST_TEST(compressed.substr(0, 4) == std::string("\x28\xb5\x2f\xfd"), "not a zstd frame");
    if (fs::exists("/usr/bin/zstd")) {
        Result unzstd = run({"/usr/bin/zstd", "-dcq", zst.string()});
        OVLT_REQUIRE_EXIT(unzstd, 0);
        BOOST_TEST((unzstd.out == tar), "tar.zst does not hold the same tar");
    } else {
        BOOST_TEST_MESSAGE("no /usr/bin/zstd (Debian package zstd): tar.zst checked by its magic only");
    }
    OVLT_EXPECT_SAME_LIST(scratch_left(state), std::vector<std::string>{}, "scratch dirs left");
}

BOOST_AUTO_TEST_CASE(output_file_is_replaced_only_by_a_complete_tar) {
    TempDir t("export-out");
    const fs::path state = t / "state";
    const fs::path out = t / "out.tar";
    write_file(out, "old content");
    // A failed export leaves FILE as it was and no file beside it.
    Result bad = ovl(with_dirs(state, {"export", "-o", out.string(), "ovltest-nonexistent:1"}));
    OVLT_EXPECT_EXIT(bad, 3);
    OVLT_EXPECT_ONE_ERROR_LINE(bad);
    BOOST_TEST(read_file(out) == "old content");
    // A complete one replaces it.
    OVLT_REQUIRE_EXIT(ovl(with_dirs(state, {"export", "-o", out.string(), kBase})), 0);
    BOOST_TEST(parse_tar(read_file(out), "export over an old file").size() > 100u);
    // Not a regular file: refused, left alone.
    fs::create_directory(t / "dir");
    fs::create_symlink(out, t / "link.tar");
    for (const fs::path& p : {t / "dir", t / "link.tar"}) {
        Result r = ovl(with_dirs(state, {"export", "-o", p.string(), kBase}));
        OVLT_EXPECT_EXIT(r, 2);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
    }
    BOOST_TEST(fs::is_symlink(t / "link.tar"));
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(t.path())) names.push_back(e.path().filename().string());
    OVLT_EXPECT_SAME_LIST(sorted(names), (std::vector<std::string>{"dir", "link.tar", "out.tar", "state"}),
                          "files beside the output");
    OVLT_EXPECT_SAME_LIST(scratch_left(state), std::vector<std::string>{}, "scratch dirs left");
}

BOOST_AUTO_TEST_CASE(a_bad_reference_exits_3_with_one_line_and_leaves_nothing) {
    TempDir t("export-bad");
    const fs::path state = t / "state";
    for (const std::string& ref : {std::string("ovltest-nonexistent:1"), std::string("0123456789ab")}) {
        Result r = ovl(with_dirs(state, {"export", ref}));
        OVLT_EXPECT_EXIT(r, 3);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        BOOST_TEST(r.out.empty(), "stdout: " << r.out.size() << " bytes");
        Result to_file = ovl(with_dirs(state, {"export", "-o", (t / "x.tar").string(), ref}));
        OVLT_EXPECT_EXIT(to_file, 3);
        BOOST_TEST(!fs::exists(t / "x.tar"));
    }
    OVLT_EXPECT_SAME_LIST(scratch_left(state), std::vector<std::string>{}, "scratch dirs left");
}

BOOST_AUTO_TEST_CASE(a_closed_pipe_or_sigterm_stops_it_cleanly) {
    TempDir t("export-stop");
    const fs::path state = t / "state";
    std::string command;
    for (const auto& a : with_dirs(state, {"export", kDeep})) command += " '" + a + "'";
    // stdout closed after 1000 bytes: a write error, exit 1, one line.
    Result piped = run({"bash", "-c", "'" + env().bin + "'" + command + " | head -c 1000 >/dev/null; exit ${PIPESTATUS[0]}"});
    OVLT_EXPECT_EXIT(piped, 1);
    OVLT_EXPECT_ONE_ERROR_LINE(piped);
    BOOST_TEST(piped.err.find("stdout: cannot write: Broken pipe") != std::string::npos, piped.err);
    // Blocked on a pipe nobody reads, then SIGTERM: exit 1, "interrupted".
    Result stopped = run({"bash", "-c", "exec 3> >(sleep 30); reader=$!; '" + env().bin + "'" + command +
                                            " >&3 & p=$!; sleep 2; kill -TERM $p; wait $p; s=$?; kill $reader; exit $s"});
    OVLT_EXPECT_EXIT(stopped, 1);
    OVLT_EXPECT_ONE_ERROR_LINE(stopped);
    BOOST_TEST(stopped.err.find("stdout: interrupted") != std::string::npos, stopped.err);
    OVLT_EXPECT_SAME_LIST(scratch_left(state), std::vector<std::string>{}, "scratch dirs left");
}

BOOST_AUTO_TEST_CASE(nothing_changes_in_the_data_root_and_nothing_is_written_there) {
    EvidenceCopy ev;
    const std::string root = ev.root.string();
    const fs::path state = ev.t / "state";
    const Snapshot before = snapshot(ev.root, true);
    for (const std::string& ref : {kMulti, kDeep, kChanges, kVols}) {
        OVLT_EXPECT_EXIT(ovl(with_dirs(state, {"export", "-o", (ev.t / "out.tar").string(), ref}, root)), 0);
        OVLT_EXPECT_EXIT(ovl(with_dirs(state, {"export", "--format", "tar.zst", ref}, root)), 0);
    }
    for (const fs::path& inside : {ev.root / "out.tar", ev.root / "image/out.tar", state / "out.tar"}) {
        Result r = ovl(with_dirs(state, {"export", "-o", inside.string(), kBase}, root));
        OVLT_EXPECT_EXIT(r, 2);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        BOOST_TEST(!fs::exists(inside));
    }
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(ev.root, true)), "the data root changed");
    OVLT_EXPECT_SAME_LIST(scratch_left(state), std::vector<std::string>{}, "scratch dirs left");
}
