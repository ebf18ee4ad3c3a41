// `ovlmount diff`: what a container changed, answered from the store alone. Docker is the
// oracle: `docker diff` for the set of changes, lstat of the entries in the container's
// writable dir (GraphDriver UpperDir) and md5sum for the body file. Evidence: diff, body file
// and container mounts change nothing in a data root copy on a strictatime filesystem.
#define BOOST_TEST_MODULE ovlmount_integration_diff
#include "itest.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

using namespace ovltest;

namespace {

// The non-empty lines of `out`, as they stand (a line of white space counts).
std::vector<std::string> output_lines(const std::string& out) {
    std::vector<std::string> v;
    for (auto& l : split(out, '\n'))
        if (!l.empty()) v.push_back(l);
    return v;
}

// `ovlmount diff NAME` (plain and --json) gives docker diff's set of changes.
void check_diff(const std::string& name) {
    BOOST_TEST_CONTEXT("container " << name) {
        const auto expected = docker_diff_lines(name);
        Result r = ovl({"--data-root", data_root(), "diff", name});
        OVLT_EXPECT_EXIT(r, 0);
        BOOST_TEST(r.err.empty(), r.describe());
        OVLT_EXPECT_SAME_LIST(sorted(output_lines(r.out)), expected, "ovlmount diff vs docker diff (both sorted)");
        // "sorted by path": bytewise, or component by component (a dir right before its content).
        std::vector<std::string> paths;
        for (const auto& l : output_lines(r.out)) paths.push_back(l.size() > 2 ? l.substr(2) : l);
        auto by_component = [](const std::string& a, const std::string& b) { return split(a, '/') < split(b, '/'); };
        BOOST_TEST((std::is_sorted(paths.begin(), paths.end()) || std::is_sorted(paths.begin(), paths.end(), by_component)),
                   "ovlmount diff is not sorted by path: " << r.out);

        auto v = ovl_json({"--data-root", data_root(), "diff", "--json", name});
        BOOST_TEST_REQUIRE(v.is_array(), boost::json::serialize(v));
        std::vector<std::string> from_json;
        for (const auto& x : v.as_array()) from_json.push_back(jstr(x, "kind") + " " + jstr(x, "path"));
        OVLT_EXPECT_SAME_LIST(sorted(from_json), expected, "ovlmount diff --json vs docker diff (both sorted)");
    }
}

// The mode as Sleuthkit's fls prints it in a body file: "r/rrw-r--r--", "d/drwxr-xr-x", ...
std::string fls_mode(mode_t m) {
    char t = '-';
    switch (m & S_IFMT) {
        case S_IFREG: t = 'r'; break;
        case S_IFDIR: t = 'd'; break;
        case S_IFLNK: t = 'l'; break;
        case S_IFCHR: t = 'c'; break;
        case S_IFBLK: t = 'b'; break;
        case S_IFIFO: t = 'p'; break;
        case S_IFSOCK: t = 's'; break;
        default: break;
    }
    std::string s{t, '/', t};
    auto triple = [&](mode_t r, mode_t w, mode_t x, mode_t special, char on, char off) {
        s += (m & r) ? 'r' : '-';
        s += (m & w) ? 'w' : '-';
        if (m & special)
            s += (m & x) ? on : off;
        else
            s += (m & x) ? 'x' : '-';
    };
    triple(S_IRUSR, S_IWUSR, S_IXUSR, S_ISUID, 's', 'S');
    triple(S_IRGRP, S_IWGRP, S_IXGRP, S_ISGID, 's', 'S');
    triple(S_IROTH, S_IWOTH, S_IXOTH, S_ISVTX, 't', 'T');
    return s;
}

bool all_digits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The writable layer's own entry for a change at `path` ("/a/b"): the entry itself; for a
// deletion Docker infers from an opaque dir (no whiteout of its own), that opaque dir.
std::optional<fs::path> own_entry(const fs::path& upper, const std::string& path, char kind) {
    struct stat st {};
    const fs::path p = upper / path.substr(1);
    if (::lstat(p.c_str(), &st) == 0) return p;
    if (kind != 'D') return std::nullopt;
    for (fs::path a = fs::path(path).parent_path(); a != "/" && !a.empty(); a = a.parent_path())
        if (is_opaque(upper / a.relative_path())) return upper / a.relative_path();
    return std::nullopt;
}

// `diff --bodyfile NAME` on `root` has one line per docker diff change, each describing the
// change's entry in the writable dir `upper` as lstat and md5sum see it; mactime reads it.
void check_bodyfile(const std::string& name, const std::vector<std::string>& docker_lines, const fs::path& upper,
                    const fs::path& tmp) {
    BOOST_TEST_CONTEXT("diff --bodyfile " << name) {
        Result r = ovl({"--data-root", data_root(), "diff", "--bodyfile", name});
        OVLT_REQUIRE_EXIT(r, 0);
        const auto lines = output_lines(r.out);
        BOOST_TEST(lines.size() == docker_lines.size(), "body file lines vs docker diff lines: " << r.describe());
        std::map<std::string, std::vector<std::string>> by_name;
        for (const auto& l : lines) {
            auto f = split(l, '|');
            BOOST_TEST(f.size() == 11u, "not 11 '|'-separated fields: " << quote(l));
            if (f.size() == 11u) BOOST_TEST(by_name.emplace(f[1], f).second, "name twice: " << quote(l));
        }
        for (const auto& d : docker_lines) {
            BOOST_TEST_CONTEXT("docker diff: " << d) {
                const char kind = d.at(0);
                const std::string path = d.substr(2);
                const std::string want_name = kind == 'D' ? path + " (deleted)" : path;
                auto it = by_name.find(want_name);
                BOOST_TEST((it != by_name.end()), "no body file line named " << quote(want_name) << ":\n" << r.out);
                if (it == by_name.end()) continue;
                const auto& f = it->second;
                auto entry = own_entry(upper, path, kind);
                BOOST_TEST_REQUIRE(entry.has_value(), "the test finds no entry for " << path << " in " << upper);
                struct stat st {};
                BOOST_TEST_REQUIRE(::lstat(entry->c_str(), &st) == 0);
                if (kind == 'D' && *entry == upper / path.substr(1))
                    BOOST_TEST((S_ISCHR(st.st_mode) && st.st_rdev == 0), path << ": not a whiteout in " << upper);
                if (S_ISREG(st.st_mode)) {
                    const std::string md5 = md5sum_hex(read_file(*entry));
                    BOOST_TEST(f[0] == md5, "MD5 " << quote(f[0]) << ", md5sum of " << *entry << " says " << md5);
                } else {
                    BOOST_TEST(f[0] == "0", "MD5 field of a non-regular file: " << quote(f[0]));
                }
                auto field = [&](std::size_t i, const std::string& expected, const char* what) {
                    BOOST_TEST(f[i] == expected, what << " " << quote(f[i]) << ", expected " << quote(expected)
                                                      << " (lstat of " << *entry << ")");
                };
                field(2, std::to_string(st.st_ino), "inode");
                field(3, fls_mode(st.st_mode), "mode");
                field(4, std::to_string(st.st_uid), "uid");
                field(5, std::to_string(st.st_gid), "gid");
                field(6, std::to_string(st.st_size), "size");
                BOOST_TEST(all_digits(f[7]), "atime " << quote(f[7]));
                field(8, std::to_string(st.st_mtim.tv_sec), "mtime");
                field(9, std::to_string(st.st_ctim.tv_sec), "ctime");
                BOOST_TEST(all_digits(f[10]), "crtime " << quote(f[10]));
            }
        }
        if (lines.empty()) return;
        Result which = run({"/bin/sh", "-c", "command -v mactime"});
        if (which.code != 0) {
            BOOST_TEST_MESSAGE("mactime is not installed (Debian package sleuthkit): the body file is not fed to it");
            return;
        }
        const fs::path body = tmp / ("body-" + name);
        write_file(body, r.out);
        Result m = run({trim(which.out), "-b", body.string(), "-d"});
        OVLT_EXPECT_EXIT(m, 0);
        BOOST_TEST(!trim(m.out).empty(), "mactime printed nothing: " << m.describe());
        // mactime prints a header even for garbage; each entry must be in its timeline.
        for (const auto& [entry_name, fields] : by_name)
            BOOST_TEST(m.out.find("\"" + entry_name + "\"") != std::string::npos,
                       "mactime's timeline lacks " << quote(entry_name) << ": " << m.describe());
    }
}

// A container the test runs itself (docker run, under DataRootLock), removed with its
// anonymous volumes at the end.
class RunContainer {
public:
    RunContainer(std::string name, const std::string& image, const std::string& script) : name_(std::move(name)) {
        DataRootLock lock;
        Result r = docker({"run", "--network", "none", "--name", name_, image, "sh", "-c", script});
        if (r.code != 0) {
            docker({"rm", "-v", "-f", name_});
            throw std::runtime_error("docker run failed: " + r.describe());
        }
    }
    ~RunContainer() {
        DataRootLock lock;
        docker({"rm", "-v", name_});
    }
    RunContainer(const RunContainer&) = delete;
    RunContainer& operator=(const RunContainer&) = delete;
    const std::string& name() const { return name_; }

private:
    std::string name_;
};

// Other kinds of changes than the fixture's ovltest-changes makes.
const char* const kMoreChanges = R"(set -e
chmod 0700 /perm/sticky
chown 4321:4321 /perm/owned
chown -h 4321:4321 /rel-link
ln /perm/secret /new-hardlink
echo TWICE >/dup.txt
mv /d /moved-d
rm -rf /data
rm /etc/group && mkdir /etc/group
touch -d "1999-12-31 23:59:59" /etc/ovltest-release
mkdir -p /new/deep/dir && echo x >/new/deep/dir/f
ln -s /moved-d /new-symlink-to-dir
rmdir /perm/owned-dir
echo x >/perm/transient && rm /perm/transient
)";

fs::path upper_of(const std::string& name) { return docker_container_lowerdirs(name).front(); }

}  // namespace

// ---- 1: the set of changes -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(diff_of_the_changed_container_equals_docker_diff) {
    BOOST_TEST_REQUIRE(docker_diff_lines(kChanges).size() > 10u, "the fixture's ovltest-changes changed too little");
    check_diff(kChanges);
}

BOOST_AUTO_TEST_CASE(diff_of_the_container_with_volumes_equals_docker_diff) { check_diff(kVols); }

BOOST_AUTO_TEST_CASE(diff_of_a_never_started_container_is_empty) {
    BOOST_TEST_REQUIRE(docker_diff_lines(kCreated).empty());
    check_diff(kCreated);
    Result r = ovl({"--data-root", data_root(), "diff", kCreated});
    OVLT_EXPECT_EXIT(r, 0);
    BOOST_TEST(r.out.empty(), r.describe());
}

BOOST_AUTO_TEST_CASE(diff_of_other_kinds_of_changes_equals_docker_diff) {
    RunContainer c("ovlt-diff-" + std::to_string(::getpid()), kMulti, kMoreChanges);
    const auto expected = docker_diff_lines(c.name());
    // The script did what it says (Docker's view): otherwise the comparison proves little.
    for (const char* want : {"C /perm/sticky", "C /perm/owned", "C /rel-link", "A /new-hardlink", "C /dup.txt",
                             "A /moved-d", "D /d", "D /data", "C /etc/group", "A /new/deep/dir/f"})
        BOOST_TEST((std::find(expected.begin(), expected.end(), want) != expected.end()),
                   "docker diff lacks " << want << ":" << joined(expected));
    check_diff(c.name());
    TempDir t("dbody");
    check_bodyfile(c.name(), expected, upper_of(c.name()), t.path());
}

BOOST_AUTO_TEST_CASE(diff_of_an_unknown_container_is_not_found) {
    Result r = ovl({"--data-root", data_root(), "diff", "ovltest-no-such-container"});
    OVLT_EXPECT_EXIT(r, 3);
    OVLT_EXPECT_ONE_ERROR_LINE(r);
    BOOST_TEST(r.out.empty());
}

// ---- 2: the body file ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(bodyfile_describes_each_change_by_its_own_entry) {
    TempDir t("dbody");
    for (const std::string& name : {kChanges, kVols, kCreated})
        check_bodyfile(name, docker_diff_lines(name), upper_of(name), t.path());
}

BOOST_AUTO_TEST_CASE(the_bodyfile_check_sees_a_wrong_entry) {
    // Self-check of the method: the lstat and md5sum of ovltest-changes' writable dir differ from
    // those of the image layer below for a modified file, so the comparison can fail.
    const auto dirs = docker_container_lowerdirs(kChanges);
    const fs::path upper = dirs.front();
    struct stat a {}, b {};
    BOOST_TEST_REQUIRE(::lstat((upper / "etc/ovltest-release").c_str(), &a) == 0);
    fs::path lower_copy;
    for (std::size_t i = 1; i < dirs.size(); ++i)
        if (::lstat((fs::path(dirs[i]) / "etc/ovltest-release").c_str(), &b) == 0) {
            lower_copy = fs::path(dirs[i]) / "etc/ovltest-release";
            break;
        }
    BOOST_TEST_REQUIRE(!lower_copy.empty());
    BOOST_TEST(a.st_ino != b.st_ino);
    BOOST_TEST(a.st_size != b.st_size);
    BOOST_TEST(md5sum_hex(read_file(upper / "etc/ovltest-release")) != md5sum_hex(read_file(lower_copy)));
    BOOST_TEST(md5sum_hex("") == "d41d8cd98f00b204e9800998ecf8427e");
    BOOST_TEST(fls_mode(S_IFREG | 04755) == "r/rrwsr-xr-x");
    BOOST_TEST(fls_mode(S_IFCHR) == "c/c---------");
    BOOST_TEST(fls_mode(S_IFDIR | 01777) == "d/drwxrwxrwt");
}

// ---- 3: evidence ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(diff_bodyfile_container_read_write_umount_change_nothing) {
    EvidenceCopy ev("dev");
    const std::string root = ev.root.string();
    const fs::path state = ev.t / "state";
    const Snapshot before = snapshot(ev.root, true);

    for (const std::string& name : {kChanges, kVols, kCreated}) {
        OVLT_EXPECT_EXIT(ovl({"--data-root", root, "diff", name}), 0);
        OVLT_EXPECT_EXIT(ovl({"--data-root", root, "diff", "--json", name}), 0);
        OVLT_EXPECT_EXIT(ovl({"--data-root", root, "diff", "--bodyfile", name}), 0);
    }
    struct M {
        std::string container;
        std::vector<std::string> opts;
        fs::path target;
    };
    const std::vector<M> mounts{{kChanges, {}, ev.t / "mnt/changes"},
                                {kVols, {}, ev.t / "mnt/vols"},
                                {kVols, {"--volumes"}, ev.t / "mnt/vols-volumes"},
                                {kCreated, {}, ev.t / "mnt/created"},
                                {kChanges, {"--writable"}, ev.t / "mnt/changes-rw"}};
    for (const auto& m : mounts) {
        fs::create_directories(m.target);
        std::vector<std::string> args{"container"};
        args.insert(args.end(), m.opts.begin(), m.opts.end());
        args.insert(args.end(), {m.container, m.target.string()});
        OVLT_REQUIRE_EXIT(ovl(with_dirs(state, args, root)), 0);
        BOOST_TEST(mount_at(m.target).has_value());
    }
    // The volumes are the copy's, not the live data root's.
    auto vol = mount_at(ev.t / "mnt/vols-volumes/vol");
    BOOST_TEST_REQUIRE(vol.has_value(), "the volume is not bound");
    BOOST_TEST(vol->fstype == "tmpfs", "the volume bind comes from " << vol->fstype << " " << vol->root);
    BOOST_TEST(vol->root == "/root/volumes/ovltest-vol/_data", vol->root);
    BOOST_TEST(read_file(ev.t / "mnt/vols-volumes/vol/data") == "in-volume\n");

    // --all (its own state dir: umount --all takes down every mount of one).
    const fs::path all_state = ev.t / "state-all";
    fs::create_directories(ev.t / "mnt/all");
    OVLT_EXPECT_EXIT(ovl(with_dirs(all_state, {"container", "--all", (ev.t / "mnt/all").string()}, root)), 0);
    BOOST_TEST(mount_at(ev.t / "mnt/all" / kChanges).has_value());

    for (const auto& m : mounts) BOOST_TEST(read_every_file(m.target) >= 4u);
    BOOST_TEST(read_every_file(ev.t / "mnt/all") >= 12u);
    // Writes through the writable mount: a new file, a copy-up of a file of the container's own
    // layer and of an image file, whiteouts over both kinds.
    const fs::path rw = ev.t / "mnt/changes-rw";
    write_file(rw / "new-file", "new");
    write_file(rw / "etc/ovltest-release", read_file(rw / "etc/ovltest-release") + "more\n");
    write_file(rw / "etc/group", read_file(rw / "etc/group") + "x:x:1:\n");
    fs::remove(rw / "added-file");
    fs::remove_all(rw / "perm");
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "list", "--json"}), 0);
    for (const auto& m : mounts) OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "umount", m.target.string()}), 0);
    OVLT_EXPECT_EXIT(ovl({"--state-dir", all_state.string(), "umount", "--all"}), 0);
    OVLT_EXPECT_EXIT(ovl({"--state-dir", state.string(), "cleanup"}), 0);
    BOOST_TEST(mounts_below(ev.t / "mnt").empty());

    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(ev.root, true)), "the data root changed");
}
