// `ovlmount container`: a container's stack (writable layer, init layer, image layers) mounted
// read-only. Docker is the oracle: the record's lowerdir is `docker container inspect`'s
// GraphDriver UpperDir then LowerDir, the tree is `docker export` of the container, volumes
// are the files under <data-root>/volumes/<name>/_data that .Mounts names; the kernel's
// mountinfo says what is mounted where.
#define BOOST_TEST_MODULE ovlmount_integration_container
#include "itest.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <utility>

using namespace ovltest;

namespace {

// What Docker says about a container.
struct Facts {
    std::string id;        // 64 hex
    std::string image_id;  // "sha256:<hex>"
    std::vector<std::string> lowerdir;  // UpperDir, then LowerDir
    boost::json::array mounts;          // .Mounts
};

Facts facts_of(const std::string& name) {
    auto o = docker_container_inspect(name);
    Facts f;
    f.id = jstr(o, "Id");
    f.image_id = jstr(o, "Image");
    f.lowerdir = docker_container_lowerdirs(name);
    if (const auto* m = o.if_contains("Mounts"); m != nullptr && m->is_array()) f.mounts = m->as_array();
    return f;
}

// Every container of the fixture has /etc/group (the base image's, untouched). Probes only a
// mount the kernel lists as "ro": were it writable, a probe could write into the store.
void check_read_only(const fs::path& target) {
    auto m = mount_at(target);
    BOOST_TEST_REQUIRE((m.has_value() && m->has_option("ro")), "not a read-only mount; not probing writes");
    expect_writes_refused(target, "etc/group");
}

// A read-only overlay of ovlmount is mounted at `target`.
void expect_ro_overlay(const fs::path& target) {
    auto m = mount_at(target);
    BOOST_TEST_REQUIRE(m.has_value(), "nothing is mounted at " << target);
    BOOST_TEST(m->fstype == "overlay", "fstype " << m->fstype);
    BOOST_TEST(m->source == "ovlmount", "mount source " << m->source);
    BOOST_TEST(m->has_option("ro"), "mount options: " << m->options);
    BOOST_TEST(m->has_option("nosuid"), "mount options: " << m->options);
    BOOST_TEST(m->has_option("nodev"), "mount options: " << m->options);
}

// The record of a read-only container mount at `target` says what Docker says.
void expect_container_record(const boost::json::object& rec, const Facts& f) {
    BOOST_TEST(jstr(rec, "state") == "mounted");
    BOOST_TEST(jstr(rec, "source") == "container");
    BOOST_TEST(jstr(rec, "container_id") == f.id);
    BOOST_TEST(jstr(rec, "image_id") == f.image_id);
    BOOST_TEST(jstr(rec, "data_root") == data_root());
    OVLT_EXPECT_SAME_LIST(jstrings(rec, "lowerdir"), f.lowerdir, "record lowerdir (docker's UpperDir, then LowerDir)");
    BOOST_TEST(rec.at("writable") == false);
    BOOST_TEST(rec.at("upper").is_null());
    BOOST_TEST(rec.at("work").is_null());
    BOOST_TEST(rec.at("scratch").is_null());
    BOOST_TEST(is_rfc3339_utc(jstr(rec, "created")), jstr(rec, "created"));
}

// `umount target` succeeds, nothing is left mounted at or below it and no record remains.
void expect_umounted(const fs::path& state, const fs::path& target) {
    Result u = ovl({"--state-dir", state.string(), "umount", target.string()});
    OVLT_EXPECT_EXIT(u, 0);
    auto left = mounts_below(target);
    std::vector<std::string> names;
    for (const auto& m : left) names.push_back(m.target + " (" + m.fstype + ")");
    BOOST_TEST(left.empty(), "still mounted after umount:" << joined(names));
    const auto list = ovl_list(state);
    BOOST_TEST(list.empty(), "records left after umount: " << boost::json::serialize(list));
    BOOST_TEST(fs::is_directory(target), "umount removed the target directory");
}

// Mounts container `name` by every form (name, /name, full ID, unique ID prefix); checks the
// record and mount each time, and for the name the tree against `docker export`.
void check_container(const std::string& name) {
    TempDir t("ctr");
    const fs::path exported = t / "export";
    const fs::path state = t / "state";
    const Facts f = facts_of(name);
    docker_export_container(name, exported);
    for (const std::string& ref : {name, "/" + name, f.id, f.id.substr(0, 10)}) {
        BOOST_TEST_CONTEXT("container " << name << " as " << quote(ref)) {
            const fs::path target = t / "target";
            fs::create_directories(target);
            Result r = ovl(with_dirs(state, {"container", ref, target.string()}));
            OVLT_REQUIRE_EXIT(r, 0);
            expect_ro_overlay(target);
            auto list = ovl_list(state);
            BOOST_TEST_REQUIRE(list.size() == 1u, boost::json::serialize(list));
            const auto& rec = record_of(list, target);
            expect_container_record(rec, f);
            BOOST_TEST(jstrings(rec, "submounts").empty(), "submounts without --volumes: " << boost::json::serialize(rec));
            BOOST_TEST(mounts_below(target).size() == 1u, "more than the overlay is mounted below " << target);
            if (ref == name) {
                // Without --volumes a volume's mount point is the same empty dir as in the export.
                OVLT_EXPECT_NO_DIFFS(compare_trees(exported, target, {}), "mounted container " + name + " vs docker export");
                check_read_only(target);
            }
            expect_umounted(state, target);
        }
    }
}

// The mount of the filesystem holding `path` (the last-mounted with the longest mount point).
MountEntry mount_holding(const std::string& path) {
    std::optional<MountEntry> best;
    for (auto& m : mountinfo()) {
        bool holds = m.target == "/" || path == m.target ||
                     (path.size() > m.target.size() && path.compare(0, m.target.size(), m.target) == 0 &&
                      path[m.target.size()] == '/');
        if (holds && (!best || m.target.size() >= best->target.size())) best = m;
    }
    if (!best) throw std::runtime_error("no mount holds " + path);
    return *best;
}

// A read-only, nosuid, nodev bind of `source` is mounted at `at`: same filesystem, and the
// bind's root is `source` within it.
void expect_ro_bind(const fs::path& at, const fs::path& source) {
    BOOST_TEST_CONTEXT("bind of " << source << " at " << at) {
        auto m = mount_at(at);
        BOOST_TEST_REQUIRE(m.has_value(), "nothing is mounted at " << at);
        const std::string src = canon(source);
        const MountEntry holder = mount_holding(src);
        std::string rel = holder.target == "/" ? src : src.substr(holder.target.size());
        std::string expect_root = holder.root == "/" ? rel : holder.root + rel;
        if (expect_root.empty()) expect_root = "/";
        BOOST_TEST(m->root == expect_root, "mountinfo root " << m->root << ", expected " << expect_root);
        BOOST_TEST(m->fstype == holder.fstype, "fstype " << m->fstype << ", expected " << holder.fstype);
        BOOST_TEST(m->source == holder.source, "source " << m->source << ", expected " << holder.source);
        BOOST_TEST(m->has_option("nosuid"), "mount options: " << m->options);
        BOOST_TEST(m->has_option("nodev"), "mount options: " << m->options);
        OVLT_EXPECT_NO_DIFFS(compare_trees(source, at, {}), "bind at " + at.string() + " vs its source");
        // Required before the write probe: on a writable bind it would write into the store.
        BOOST_TEST_REQUIRE(m->has_option("ro"), "mount options: " << m->options);
        int fd = ::open((at / "ovltest-new-file").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        expect_erofs("creating a file in " + at.string(), fd);
    }
}

struct VolumeMount {
    std::string type, name, source, destination;
};

std::vector<VolumeMount> volume_mounts(const Facts& f) {
    std::vector<VolumeMount> out;
    for (const auto& m : f.mounts) {
        VolumeMount v;
        v.type = jstr(m, "Type");
        v.destination = jstr(m, "Destination");
        v.source = jstr(m, "Source");
        if (v.type == "volume") v.name = jstr(m, "Name");
        out.push_back(v);
    }
    return out;
}

// Two of `ids` that share their first hex digit, if any.
std::optional<std::pair<std::string, std::string>> sharing_first_digit(const std::vector<std::string>& ids) {
    for (std::size_t i = 0; i < ids.size(); ++i)
        for (std::size_t j = i + 1; j < ids.size(); ++j)
            if (ids[i][0] == ids[j][0]) return std::make_pair(ids[i], ids[j]);
    return std::nullopt;
}

}  // namespace

// ---- 1, 2: the stack, the record and the tree ---------------------------------------------

BOOST_AUTO_TEST_CASE(changed_container_by_name_id_and_prefix) { check_container(kChanges); }

BOOST_AUTO_TEST_CASE(never_started_container_by_name_id_and_prefix) { check_container(kCreated); }

BOOST_AUTO_TEST_CASE(container_with_volumes_by_name_id_and_prefix) { check_container(kVols); }

BOOST_AUTO_TEST_CASE(the_export_comparison_sees_the_container_layer) {
    // Self-check of the method: the export of ovltest-changes differs from its image's export
    // exactly where the container changed things, so comparing with the container's export can
    // tell a mount of the image (or of a wrong stack) from the container.
    TempDir t("ctr");
    docker_export_container(kChanges, t / "container");
    docker_export_image(kMulti, t / "image");
    auto d = compare_trees(t / "container", t / "image", docker_init_entries(), 200);
    const std::string all = joined(d);
    for (const char* what : {"/added-file", "/etc/ovltest-release", "/data/keep-link: mode", "/new-fifo", "/d/again",
                             "/etc/passwd.renamed"})
        BOOST_TEST(all.find(what) != std::string::npos, "not detected: " << what << "; got:" << all);
}

// ---- 3: --volumes, --host-binds ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(volumes_are_bound_read_only_and_host_binds_only_on_request) {
    TempDir t("vol");
    const fs::path state = t / "state";
    const Facts f = facts_of(kVols);
    const auto vols = volume_mounts(f);
    std::vector<VolumeMount> named;
    std::optional<VolumeMount> host;
    for (const auto& v : vols) {
        if (v.type == "volume") named.push_back(v);
        if (v.type == "bind") host = v;
    }
    BOOST_TEST_REQUIRE(named.size() == 2u, "the fixture's ovltest-vols has two volumes: " << boost::json::serialize(f.mounts));
    BOOST_TEST_REQUIRE(host.has_value(), "the fixture's ovltest-vols has a host bind: " << boost::json::serialize(f.mounts));

    for (bool host_binds : {false, true}) {
        BOOST_TEST_CONTEXT((host_binds ? "--volumes --host-binds" : "--volumes")) {
            const fs::path target = t / (host_binds ? "with-host" : "volumes");
            fs::create_directories(target);
            std::vector<std::string> args{"container", "--volumes"};
            if (host_binds) args.push_back("--host-binds");
            args.insert(args.end(), {kVols, target.string()});
            Result r = ovl(with_dirs(state, args));
            OVLT_REQUIRE_EXIT(r, 0);
            expect_ro_overlay(target);

            std::vector<std::string> expect_submounts;
            for (const auto& v : named) {
                const fs::path in_store = fs::path(data_root()) / "volumes" / v.name / "_data";
                BOOST_TEST_REQUIRE(fs::is_directory(in_store), in_store << " (volume " << v.name << ") is missing");
                expect_ro_bind(target / v.destination.substr(1), in_store);
                expect_submounts.push_back(canon(target / v.destination.substr(1)));
            }
            BOOST_TEST(read_file(target / "vol/data") == "in-volume\n");
            BOOST_TEST(fs::is_directory(target / "vol/sub"));
            BOOST_TEST(read_file(target / "anon/a") == "anon\n");

            const fs::path hostbind = target / host->destination.substr(1);
            if (host_binds) {
                expect_ro_bind(hostbind, host->source);
                BOOST_TEST(read_file(hostbind / "host-file") == "from-host\n");
                expect_submounts.push_back(canon(hostbind));
            } else {
                BOOST_TEST(!mount_at(hostbind).has_value(), "the host bind " << host->source << " was bound without --host-binds");
                BOOST_TEST((fs::is_directory(hostbind) && fs::is_empty(hostbind)), hostbind << " is not an empty dir");
                BOOST_TEST((r.out + r.err).find(host->destination) != std::string::npos,
                           "the skipped host bind " << host->destination << " is not reported: " << r.describe());
            }

            auto list = ovl_list(state);
            const auto& rec = record_of(list, target);
            expect_container_record(rec, f);
            OVLT_EXPECT_SAME_LIST(sorted(jstrings(rec, "submounts")), sorted(expect_submounts), "record submounts");
            BOOST_TEST(mounts_below(target).size() == 1u + expect_submounts.size(), "mounts below " << target);

            expect_umounted(state, target);
        }
    }
}

// ---- 4: --writable -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(writable_container_mount_leaves_the_writable_layer_alone) {
    TempDir t("cwr");
    const fs::path target = t / "target", state = t / "state";
    fs::create_directories(target);
    const Facts f = facts_of(kChanges);
    // On a copy of the data root: were the writes to land in the container's own layer, they
    // would change the copy, not the daemon's store. Docker's dirs, moved into the copy.
    const fs::path root = t / "root";
    copy_data_root(root);
    std::vector<std::string> lowerdir;
    for (const auto& d : f.lowerdir) {
        BOOST_TEST_REQUIRE(d.rfind(data_root() + "/", 0) == 0, d << " is not below " << data_root());
        lowerdir.push_back(root.string() + d.substr(data_root().size()));
    }
    const fs::path own_upper = lowerdir.front();  // the container's writable layer
    const Snapshot before = snapshot(own_upper, false);

    Result r = ovl(with_dirs(state, {"container", "--writable", kChanges, target.string()}, root.string()));
    OVLT_REQUIRE_EXIT(r, 0);
    auto m = mount_at(target);
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST(m->fstype == "overlay");
    BOOST_TEST(m->has_option("rw"), m->options);

    auto list = ovl_list(state);
    const auto& rec = record_of(list, target);
    BOOST_TEST(jstr(rec, "source") == "container");
    BOOST_TEST(jstr(rec, "container_id") == f.id);
    BOOST_TEST(rec.at("writable") == true);
    OVLT_EXPECT_SAME_LIST(jstrings(rec, "lowerdir"), lowerdir, "record lowerdir");
    const fs::path upper = jstr(rec, "upper");
    const std::string scratch_root = canon(state / "scratch");
    BOOST_TEST_REQUIRE(upper.string().rfind(scratch_root + "/", 0) == 0, upper << " is not under " << scratch_root);

    // New file; a file the container itself wrote (in its writable layer) modified and one
    // deleted; a file of the image deleted; a dir the container created removed.
    write_file(target / "ovltest-new-file", "hello\n");
    BOOST_TEST(read_file(upper / "ovltest-new-file") == "hello\n");
    BOOST_TEST_REQUIRE(read_file(target / "etc/ovltest-release") == read_file(own_upper / "etc/ovltest-release"));
    write_file(target / "etc/ovltest-release", "rewritten\n");
    BOOST_TEST(read_file(upper / "etc/ovltest-release") == "rewritten\n");
    BOOST_TEST_REQUIRE(fs::exists(target / "added-file"));
    fs::remove(target / "added-file");
    BOOST_TEST(!fs::exists(fs::symlink_status(target / "added-file")));
    BOOST_TEST(fs::exists(fs::symlink_status(upper / "added-file")), "no whiteout in the scratch upper");
    fs::remove(target / "etc/group");
    fs::remove_all(target / "added-dir");
    BOOST_TEST(!fs::exists(fs::symlink_status(target / "added-dir")));

    Result u = ovl({"--state-dir", state.string(), "umount", target.string()});
    OVLT_EXPECT_EXIT(u, 0);
    BOOST_TEST(!mount_at(target).has_value());
    BOOST_TEST(ovl_list(state).empty());
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(own_upper, false)),
                         "the container's writable layer " + own_upper.string() + " changed");
}

// ---- 5: --all ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(all_containers_and_umount_all) {
    TempDir t("call");
    const fs::path dir = t / "all";  // DIR/<name> is created by ovlmount
    fs::create_directories(dir);
    const fs::path state = t / "state";
    docker_export_container(kChanges, t / "export");
    std::vector<std::string> names;
    Result r;
    {
        // No other test process creates or removes a container while the set is taken.
        DataRootLock lock;
        names = docker_container_names();
        r = ovl(with_dirs(state, {"container", "--all", dir.string()}));
    }
    OVLT_REQUIRE_EXIT(r, 0);
    for (const std::string& want : {kChanges, kVols, kCreated})
        BOOST_TEST_REQUIRE((std::find(names.begin(), names.end(), want) != names.end()), "docker ps -a lacks " << want);

    std::vector<std::string> mounted;
    for (const auto& m : mounts_below(dir))
        if (fs::path(m.target).parent_path() == canon(dir)) mounted.push_back(fs::path(m.target).filename().string());
    std::sort(mounted.begin(), mounted.end());
    mounted.erase(std::unique(mounted.begin(), mounted.end()), mounted.end());
    OVLT_EXPECT_SAME_LIST(mounted, names, "containers mounted below " + dir.string() + " vs docker ps -a");
    for (const auto& n : names)
        BOOST_TEST_CONTEXT("container " << n) { expect_ro_overlay(dir / n); }
    BOOST_TEST(mounts_below(dir).size() == names.size(), "--all without --volumes mounted more than one overlay each");

    auto list = ovl_list(state);
    BOOST_TEST(list.size() == names.size(), boost::json::serialize(list));
    const auto& rec = record_of(list, dir / kChanges);
    expect_container_record(rec, facts_of(kChanges));
    OVLT_EXPECT_NO_DIFFS(compare_trees(t / "export", dir / kChanges, {}), "DIR/ovltest-changes vs docker export");

    Result u = ovl({"--state-dir", state.string(), "umount", "--all"});
    OVLT_EXPECT_EXIT(u, 0);
    BOOST_TEST(mounts_below(dir).empty(), "mounted after umount --all");
    BOOST_TEST(ovl_list(state).empty());
}

// ---- 6: errors -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(unknown_container_is_not_found) {
    TempDir t("cerr");
    const fs::path target = t / "target", state = t / "state";
    fs::create_directories(target);
    for (const std::string& ref : {std::string("ovltest-no-such-container"), std::string("/ovltest-no-such-container"),
                                   std::string(64, 'f'), std::string("ffffffffffffe")}) {
        BOOST_TEST_CONTEXT("reference " << ref) {
            Result r = ovl(with_dirs(state, {"container", ref, target.string()}));
            OVLT_EXPECT_EXIT(r, 3);
            OVLT_EXPECT_ONE_ERROR_LINE(r);
            BOOST_TEST(mounts_below(t.path()).empty());
            if (fs::exists(state)) BOOST_TEST(ovl_list(state).empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(ambiguous_prefix_lists_the_candidates) {
    TempDir t("camb");
    const fs::path target = t / "target", state = t / "state";
    fs::create_directories(target);
    // The fixture's containers, plus containers created here until two IDs share a first hex
    // digit. The lock keeps the set stable (other test processes create and remove containers).
    DataRootLock lock;
    std::vector<std::string> created;
    struct Remover {
        std::vector<std::string>& ids;
        ~Remover() {
            for (const auto& id : ids) docker({"rm", "-v", id});
        }
    } remover{created};
    std::vector<std::string> ids;
    for (const auto& n : {kChanges, kVols, kCreated}) ids.push_back(facts_of(n).id);
    auto pair = sharing_first_digit(ids);
    for (int i = 0; i < 64 && !pair; ++i) {
        created.push_back(docker_ok({"create", "--network", "none", kBase, "/bin/true"}));
        ids.push_back(created.back());
        pair = sharing_first_digit(ids);
    }
    BOOST_TEST_REQUIRE(pair.has_value(), "no two containers share a first hex digit");
    const std::string prefix = pair->first.substr(0, 1);

    Result r = ovl(with_dirs(state, {"container", prefix, target.string()}));
    OVLT_EXPECT_EXIT(r, 3);
    OVLT_EXPECT_ONE_ERROR_LINE(r);
    for (const auto& id : {pair->first, pair->second})
        BOOST_TEST(r.err.find(id.substr(0, 12)) != std::string::npos, "candidate " << id << " not named: " << r.describe());
    BOOST_TEST(mounts_below(t.path()).empty());
    if (fs::exists(state)) BOOST_TEST(ovl_list(state).empty());

    Result d = ovl({"--data-root", data_root(), "diff", prefix});
    OVLT_EXPECT_EXIT(d, 3);
    OVLT_EXPECT_ONE_ERROR_LINE(d);
}

BOOST_AUTO_TEST_CASE(corrupt_container_metadata_is_refused) {
    const Facts f = facts_of(kChanges);
    const std::string base_chain = docker_diff_ids(kBase).at(0);  // one layer: chainID = diffID
    struct Case {
        std::string what;
        std::string ref;  // how the container is named on the command line
        std::function<void(const fs::path& root)> corrupt;
    };
    const std::vector<Case> cases{
        {"config.v2.json truncated", f.id,
         [&](const fs::path& root) {
             const fs::path p = root / "containers" / f.id / "config.v2.json";
             const auto n = fs::file_size(p);
             fs::resize_file(p, n / 2);
         }},
        {"mount-id ../../x", kChanges,
         [&](const fs::path& root) { write_file(root / "image/overlay2/layerdb/mounts" / f.id / "mount-id", "../../x"); }},
        {"layerdb parent is another chainID", kChanges,
         [&](const fs::path& root) {
             const fs::path p = root / "image/overlay2/layerdb/mounts" / f.id / "parent";
             BOOST_TEST_REQUIRE(trim(read_file(p)) != base_chain);
             write_file(p, base_chain);
         }},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            TempDir t("ccor");
            const fs::path root = t / "root", target = t / "target", state = t / "state";
            copy_data_root(root);
            c.corrupt(root);
            fs::create_directories(target);
            const Snapshot before = snapshot(root, false);
            Result r = ovl(with_dirs(state, {"container", c.ref, target.string()}, root.string()));
            OVLT_EXPECT_EXIT(r, 4);
            OVLT_EXPECT_ONE_ERROR_LINE(r);
            BOOST_TEST(!mount_at(target).has_value());
            BOOST_TEST(mounts_below(t.path()).empty());
            if (fs::exists(state)) BOOST_TEST(ovl_list(state).empty());
            OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(root, false)), "data root copy changed");
        }
    }
}
