// `ovlmount files`: one row per path of an image's or container's merged tree. The oracles are
// GNU find (-printf of type, mode, owner, size, mtime and link target) and sha256sum, run on
// the same image mounted read-only with `ovlmount mount` / `ovlmount container` in this test's
// own mount namespace, and `ovlmount which --json` for the layer column. `files` itself must
// mount nothing this namespace can see, change nothing in the data root and leave no scratch
// dir behind.
#define BOOST_TEST_MODULE ovlmount_integration_files
#include "itest.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

using namespace ovltest;

namespace {

// One row, as strings: "" where there is no value.
struct Row {
    std::string path, type, mode, uid, gid, size, mtime, link, sha256;

    std::vector<std::string> fields() const { return {path, type, mode, uid, gid, size, mtime, link, sha256}; }
};

// What escape() in the core does (printable ASCII and valid UTF-8 pass; backslash, newline,
// other control bytes and invalid bytes are escaped), for reading the text format.
std::string escaped(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (len && i + len <= s.size()) {
            for (std::size_t k = 1; k < len; ++k)
                if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) len = 0;
            const auto n = len ? static_cast<unsigned char>(s[i + 1]) : 0;
            if ((c == 0xE0 && n < 0xA0) || (c == 0xED && n >= 0xA0) || (c == 0xF0 && n < 0x90) || (c == 0xF4 && n >= 0x90))
                len = 0;
        } else {
            len = 0;
        }
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else if (c >= 0x20 && c < 0x7F) out += static_cast<char>(c);
        else if (len) {
            out.append(s.substr(i, len));
            i += len;
            continue;
        } else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xF];
        }
        ++i;
    }
    return out;
}

std::string unhex(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

// Rows as one readable line each (escaped, tab-separated), for comparing lists.
std::vector<std::string> lines(const std::vector<Row>& rows) {
    std::vector<std::string> out;
    for (const Row& r : rows) {
        std::string l;
        for (const auto& f : r.fields()) l += (l.empty() ? "" : "\t") + escaped(f);
        out.push_back(l);
    }
    return out;
}

std::vector<std::string> paths_of(const std::vector<Row>& rows) {
    std::vector<std::string> out;
    for (const Row& r : rows) out.push_back(r.path);
    return out;
}

// Where the two lists first differ (at most `max` lines), for messages.
std::vector<std::string> differences(const std::vector<Row>& got, const std::vector<Row>& expected, std::size_t max = 20) {
    const auto g = lines(got), e = lines(expected);
    std::vector<std::string> out;
    if (g.size() != e.size())
        out.push_back("got " + std::to_string(g.size()) + " rows, expected " + std::to_string(e.size()));
    for (std::size_t i = 0; i < std::max(g.size(), e.size()) && out.size() < max; ++i) {
        const std::string a = i < g.size() ? g[i] : "(none)", b = i < e.size() ? e[i] : "(none)";
        if (a != b) out.push_back("row " + std::to_string(i) + ":\n    got      " + a + "\n    expected " + b);
    }
    return out;
}

// ---- the oracle: find and sha256sum on a mount -------------------------------------------

std::vector<std::string> nul_fields(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t end; (end = s.find('\0', start)) != std::string::npos; start = end + 1)
        out.push_back(s.substr(start, end - start));
    return out;
}

// What find + sha256sum say about the tree at `mnt`, sorted bytewise by path.
std::vector<Row> find_rows(const fs::path& mnt, bool hash = true) {
    Result f = run({"find", mnt.string(), "-printf", "%P\\0%y\\0%m\\0%U\\0%G\\0%s\\0%T@\\0%l\\0"});
    if (f.code != 0) throw std::runtime_error("find failed: " + f.describe());
    const auto v = nul_fields(f.out);
    if (v.size() % 8 != 0) throw std::runtime_error("find printed " + std::to_string(v.size()) + " fields");
    std::map<std::string, std::string> hashes;
    if (hash) {
        Result h = run({"sh", "-c", "find \"$1\" -type f -print0 | xargs -0 -r sha256sum -z", "sh", mnt.string()});
        if (h.code != 0) throw std::runtime_error("sha256sum failed: " + h.describe());
        for (const auto& l : nul_fields(h.out)) {
            if (l.size() < 66 || l.compare(64, 2, "  ") != 0) throw std::runtime_error("sha256sum line: " + l);
            hashes[l.substr(66 + mnt.string().size())] = l.substr(0, 64);
        }
    }
    static const std::map<std::string, std::string> types{{"f", "file"}, {"d", "dir"}, {"l", "symlink"}, {"c", "char"},
                                                          {"b", "block"}, {"p", "fifo"}, {"s", "socket"}};
    std::vector<Row> rows;
    for (std::size_t i = 0; i < v.size(); i += 8) {
        Row r;
        r.path = "/" + v[i];
        r.type = types.at(v[i + 1]);
        r.mode = std::string(4 - std::min<std::size_t>(4, v[i + 2].size()), '0') + v[i + 2];
        r.uid = v[i + 3];
        r.gid = v[i + 4];
        r.size = v[i + 5];
        const std::string& t = v[i + 6];  // seconds, '.', ten digits (nanoseconds and a 0)
        const auto dot = t.find('.');
        if (dot == std::string::npos || t.size() - dot - 1 < 9) throw std::runtime_error("find %T@: " + t);
        r.mtime = t.substr(0, dot + 10);
        r.link = v[i + 7];
        if (r.type == "file" && hash) {
            auto it = hashes.find(r.path == "/" ? "" : r.path);
            if (it == hashes.end()) throw std::runtime_error("sha256sum did not hash " + r.path);
            r.sha256 = it->second;
        }
        rows.push_back(r);
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.path < b.path; });
    return rows;
}

// ---- reading the three formats ------------------------------------------------------------

std::vector<boost::json::object> json_lines(const Result& r) {
    std::vector<boost::json::object> out;
    for (const auto& l : split(r.out, '\n')) {
        if (l.empty()) continue;
        auto v = parse_json(l, "files --json line");
        if (!v.is_object()) throw std::runtime_error("not an object: " + l);
        out.push_back(v.as_object());
    }
    return out;
}

std::string name_field(const boost::json::object& o, const std::string& key) {
    if (const auto* hex = o.if_contains(key + "_hex")) return unhex(std::string(hex->as_string()));
    const auto& v = o.at(key);
    return v.is_null() ? "" : std::string(v.as_string());
}

Row json_row(const boost::json::object& o) {
    Row r;
    r.path = name_field(o, "path");
    r.type = std::string(o.at("type").as_string());
    r.mode = std::string(o.at("mode").as_string());
    r.uid = std::to_string(json_int(o.at("uid")));
    r.gid = std::to_string(json_int(o.at("gid")));
    r.size = std::to_string(json_int(o.at("size")));
    r.mtime = std::string(o.at("mtime").as_string());
    r.link = name_field(o, "link");
    r.sha256 = o.at("sha256").is_null() ? "" : std::string(o.at("sha256").as_string());
    return r;
}

std::vector<Row> json_rows(const Result& r) {
    std::vector<Row> rows;
    for (const auto& o : json_lines(r)) rows.push_back(json_row(o));
    return rows;
}

// Text rows, fields still escaped ("-" for none); only the first nine columns.
std::vector<std::string> text_lines(const Result& r) {
    std::vector<std::string> out;
    for (const auto& l : split(r.out, '\n')) {
        if (l.empty()) continue;
        auto f = split(l, '\t');
        if (f.size() < 9) throw std::runtime_error("text row with " + std::to_string(f.size()) + " fields: " + l);
        std::string joined_fields;
        for (std::size_t i = 0; i < 9; ++i) joined_fields += (i ? "\t" : "") + (f[i] == "-" ? std::string() : f[i]);
        out.push_back(joined_fields);
    }
    return out;
}

// RFC 4180 records (CRLF line ends, quoted fields with doubled quotes).
std::vector<std::vector<std::string>> csv_records(const std::string& s) {
    std::vector<std::vector<std::string>> out;
    std::vector<std::string> rec;
    std::string field;
    bool quoted = false, was_quoted = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (quoted) {
            if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') field += '"', ++i;
            else if (c == '"') quoted = false;
            else field += c;
        } else if (c == '"' && field.empty() && !was_quoted) {
            quoted = was_quoted = true;
        } else if (c == ',') {
            rec.push_back(field), field.clear(), was_quoted = false;
        } else if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
            rec.push_back(field), field.clear(), was_quoted = false, ++i;
            out.push_back(rec), rec.clear();
        } else if (c == '"' || c == '\n' || c == '\r') {
            throw std::runtime_error("CSV: stray " + std::string(c == '"' ? "quote" : "line break") + " at byte " +
                                     std::to_string(i));
        } else {
            field += c;
        }
    }
    if (quoted || !field.empty() || !rec.empty()) throw std::runtime_error("CSV: the last record is not terminated by CRLF");
    return out;
}

std::vector<Row> csv_rows(const Result& r, bool layer = false) {
    auto recs = csv_records(r.out);
    std::vector<std::string> header{"path", "type", "mode", "uid", "gid", "size", "mtime", "link", "sha256"};
    if (layer) header.insert(header.end(), {"layer", "role", "diff_id", "cache_id"});
    if (recs.empty() || recs.front() != header) throw std::runtime_error("CSV header: " + r.out.substr(0, 200));
    std::vector<Row> rows;
    for (std::size_t i = 1; i < recs.size(); ++i) {
        const auto& f = recs[i];
        if (f.size() != header.size()) throw std::runtime_error("CSV record with " + std::to_string(f.size()) + " fields");
        rows.push_back({f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]});
    }
    return rows;
}

// ---- running ------------------------------------------------------------------------------

// `ovlmount --data-root ROOT --state-dir STATE files ARGS...`
Result files(const fs::path& state, std::vector<std::string> args, const std::string& root = {}) {
    args.insert(args.begin(), "files");
    return ovl(with_dirs(state, args, root));
}

// The scratch dirs left in `state`.
std::vector<std::string> scratch_left(const fs::path& state) {
    std::vector<std::string> out;
    std::error_code ec;
    if (fs::is_directory(state / "scratch", ec))
        for (const auto& e : fs::directory_iterator(state / "scratch")) out.push_back(e.path().string());
    return out;
}

// Mounts `ref` read-only at `target` (`kind`: "mount" or "container") for the oracle.
struct OracleMount {
    OracleMount(const std::string& kind, const std::string& ref, const fs::path& dir, const std::string& root = {})
        : state(dir / "oracle-state"), target(dir / "oracle-mnt") {
        fs::create_directories(target);
        Result r = ovl(with_dirs(state, {kind, ref, target.string()}, root));
        if (r.code != 0) throw std::runtime_error("mounting the oracle failed: " + r.describe());
    }
    ~OracleMount() { ovl({"--state-dir", state.string(), "umount", target.string()}); }
    fs::path state, target;
};

// `files` of `ref` in all three formats equals find + sha256sum of a mount of it.
void check_against_find(const std::string& kind, const std::string& ref, const std::string& root = {}) {
    BOOST_TEST_CONTEXT("files " << ref) {
        TempDir t("files");
        std::vector<Row> expected;
        {
            OracleMount m(kind, ref, t.path(), root);
            expected = find_rows(m.target);
        }
        BOOST_TEST_REQUIRE(expected.size() > 10u);
        const fs::path state = t / "state";

        Result j = files(state, {"--json", ref}, root);
        OVLT_REQUIRE_EXIT(j, 0);
        BOOST_TEST(j.err.empty(), j.err);
        const auto got = json_rows(j);
        OVLT_EXPECT_NO_DIFFS(differences(got, expected), "files --json vs find + sha256sum");
        auto order = paths_of(got);
        BOOST_TEST(std::is_sorted(order.begin(), order.end()), "rows are not in bytewise order of their paths");

        Result p = files(state, {ref}, root);
        OVLT_REQUIRE_EXIT(p, 0);
        OVLT_EXPECT_SAME_LIST(text_lines(p), lines(expected), "files (text) vs find + sha256sum");

        Result c = files(state, {"--csv", ref}, root);
        OVLT_REQUIRE_EXIT(c, 0);
        OVLT_EXPECT_NO_DIFFS(differences(csv_rows(c), expected), "files --csv vs find + sha256sum");

        BOOST_TEST(scratch_left(state).empty(), "scratch dirs left: " << joined(scratch_left(state)));
        BOOST_TEST(mounts_below(t.path()).empty(), "something is still mounted below " << t.path());
    }
}

// One `which --json REF PATH` answer: "index role diff_id cache_id" of the providing layer.
std::string which_layer(const std::string& ref, const std::string& path, const std::string& root = {}) {
    Result r = ovl({"--data-root", root.empty() ? data_root() : root, "which", "--json", ref, path});
    if (r.code != 0) return "which exit " + std::to_string(r.code) + ": " + trim(r.err);
    auto v = parse_json(r.out, "which --json");
    if (jstr(v, "status") != "provided") return "which says " + jstr(v, "status");
    const auto& l = jat(v, "layer");
    return std::to_string(json_int(jat(l, "index"))) + " " + jstr(l, "role") + " " +
           (jat(l, "diff_id").is_null() ? std::string("null") : jstr(l, "diff_id")) + " " + jstr(l, "cache_id");
}

std::string files_layer(const boost::json::object& o) {
    const auto& l = o.at("layer");
    if (!l.is_object()) return "no layer";
    return std::to_string(json_int(jat(l, "index"))) + " " + jstr(l, "role") + " " +
           (jat(l, "diff_id").is_null() ? std::string("null") : jstr(l, "diff_id")) + " " + jstr(l, "cache_id");
}

// `files --layer` of `ref` names, for every 10th path (and `also`), the layer `which` names;
// `hidden` paths are not listed at all, and `which` agrees they are hidden.
void check_layers(const std::string& ref, const std::vector<std::string>& also, const std::vector<std::string>& hidden) {
    BOOST_TEST_CONTEXT("files --layer " << ref) {
        TempDir t("files");
        Result r = files(t / "state", {"--json", "--layer", ref});
        OVLT_REQUIRE_EXIT(r, 0);
        const auto objects = json_lines(r);
        BOOST_TEST_REQUIRE(objects.size() > 10u);
        Result plain = files(t / "state", {"--json", ref});
        OVLT_REQUIRE_EXIT(plain, 0);
        OVLT_EXPECT_NO_DIFFS(differences(json_rows(r), json_rows(plain)), "the rows of --layer and without it");
        std::size_t asked = 0;
        for (std::size_t i = 0; i < objects.size(); ++i) {
            const std::string path = name_field(objects[i], "path");
            BOOST_TEST(objects[i].at("layer").is_object(), "no layer for " << path);
            if (i % 10 != 0 && std::find(also.begin(), also.end(), path) == also.end()) continue;
            ++asked;
            BOOST_TEST(files_layer(objects[i]) == which_layer(ref, path), "layer of " << path);
        }
        BOOST_TEST(asked >= objects.size() / 10);
        const auto listed = [&](const std::string& path) {
            return std::any_of(objects.begin(), objects.end(), [&](const auto& o) { return name_field(o, "path") == path; });
        };
        for (const auto& path : also) BOOST_TEST(listed(path), "self-check: " << path << " is not listed");
        for (const auto& path : hidden) {
            BOOST_TEST(!listed(path), path << " is listed, but it is hidden");
            BOOST_TEST(which_layer(ref, path) == "which says hidden", "self-check: which " << path);
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_oracle_sees_the_fixture) {
    // Self-check of the method: find + sha256sum on a mount of ovltest-multi see its setuid
    // bit, its FIFO, its uid 1234 and its symlink targets, and hash what sha256_hex hashes.
    TempDir t("files");
    OracleMount m("mount", kMulti, t.path());
    const auto rows = find_rows(m.target);
    std::map<std::string, Row> by_path;
    for (const auto& r : rows) by_path[r.path] = r;
    BOOST_TEST(by_path.at("/").type == "dir");
    BOOST_TEST(by_path.at("/perm/suid").mode == "4755");
    BOOST_TEST(by_path.at("/perm/sticky").mode == "1777");
    BOOST_TEST(by_path.at("/perm/fifo").type == "fifo");
    BOOST_TEST(by_path.at("/perm/owned").uid == "1234");
    BOOST_TEST(by_path.at("/abs-link").link == "/data/keep");
    BOOST_TEST(by_path.at("/data/keep").sha256 == sha256_hex("changed\n"));
    BOOST_TEST(by_path.at("/data/keep").mtime.size() == by_path.at("/data/keep").mtime.find('.') + 10);
    BOOST_TEST(!by_path.count("/gone"));
}

BOOST_AUTO_TEST_CASE(one_layer_image_equals_find_and_sha256sum) { check_against_find("mount", kBase); }

BOOST_AUTO_TEST_CASE(multi_layer_image_with_whiteouts_opaque_dirs_hard_links_and_odd_names) {
    check_against_find("mount", kMulti);
}

BOOST_AUTO_TEST_CASE(hundred_layer_image_equals_find_and_sha256sum) { check_against_find("mount", kDeep); }

BOOST_AUTO_TEST_CASE(container_with_changes_equals_find_and_sha256sum) { check_against_find("container", kChanges); }

BOOST_AUTO_TEST_CASE(layer_column_equals_which) {
    check_layers(kMulti, {"/", "/etc/passwd", "/dup.txt", "/d", "/d/new", "/data/keep", "/data/hl-a", "/perm/suid"},
                 {"/gone", "/d/a", "/data/to-delete", "/data/random.bin", "/data/doomed, really:yes.txt"});
    check_layers(kDeep, {"/layer-2", "/layer-100", "/top", "/bin/busybox"}, {"/layer-10"});
    check_layers(kChanges, {"/", "/added-file", "/etc/hostname", "/etc/passwd.renamed", "/d/again", "/data/keep-link"},
                 {"/etc/passwd", "/data/hl-b", "/data/sub dir", "/data/more", "/d/new"});
    check_layers(docker_image_id(kBase), {"/bin/busybox", "/etc/ovltest-release"}, {});
}

BOOST_AUTO_TEST_CASE(paths_select_subtrees) {
    TempDir t("files");
    const fs::path state = t / "state";
    Result all = files(state, {"--json", kMulti});
    OVLT_REQUIRE_EXIT(all, 0);
    const auto every = json_rows(all);
    const auto select = [&](const std::vector<std::string>& dirs, const std::vector<std::string>& single) {
        std::vector<Row> out;
        for (const auto& r : every) {
            const bool in = std::find(single.begin(), single.end(), r.path) != single.end() ||
                            std::any_of(dirs.begin(), dirs.end(), [&](const std::string& d) {
                                return r.path == d || r.path.rfind(d + "/", 0) == 0;
                            });
            if (in) out.push_back(r);
        }
        return out;
    };

    // Overlapping, repeated and unsorted paths, a trailing slash, a symlink (itself listed).
    Result r = files(state, {"--json", kMulti, "/perm/suid", "/data", "/etc/", "/data/keep", "/abs-link", "//data//more"});
    OVLT_REQUIRE_EXIT(r, 0);
    OVLT_EXPECT_NO_DIFFS(differences(json_rows(r), select({"/data", "/etc"}, {"/perm/suid", "/abs-link"})),
                         "files with PATHs vs the full listing");
    Result root = files(state, {"--json", kMulti, "/"});
    OVLT_REQUIRE_EXIT(root, 0);
    OVLT_EXPECT_NO_DIFFS(differences(json_rows(root), every), "files IMAGE / vs files IMAGE");
    Result one = files(state, {"--json", "--layer", kMulti, "/data/more/more.txt"});
    OVLT_REQUIRE_EXIT(one, 0);
    const auto objects = json_lines(one);
    BOOST_TEST_REQUIRE(objects.size() == 1u, one.out);
    BOOST_TEST(files_layer(objects[0]) == which_layer(kMulti, "/data/more/more.txt"));

    // Not in the tree (without following symlinks): exit 3 naming the path, nothing listed.
    for (const std::string missing : {"/nonexistent", "/data/keep/x", "/abs-link/x", "/gone"}) {
        Result m = files(state, {"--csv", kMulti, "/data", missing});
        OVLT_EXPECT_EXIT(m, 3);
        OVLT_EXPECT_ONE_ERROR_LINE(m);
        BOOST_TEST(m.err.find(missing) != std::string::npos, m.err);
        BOOST_TEST(m.out.empty(), m.describe());
    }
    Result dots = files(state, {kMulti, "/data/../etc"});
    OVLT_EXPECT_EXIT(dots, 2);
    OVLT_EXPECT_ONE_ERROR_LINE(dots);
    Result relative = files(state, {kMulti, "etc"});
    OVLT_EXPECT_EXIT(relative, 2);
    BOOST_TEST(scratch_left(state).empty(), "scratch dirs left: " << joined(scratch_left(state)));
}

// A walk holds a descriptor per directory level: 2000 levels need more than the usual soft
// limit of 1024 open files, which ovlmount raises to its hard limit.
BOOST_AUTO_TEST_CASE(a_tree_2000_directories_deep_equals_find_under_a_soft_limit_of_1024_open_files) {
    TempDir t("deep-tree");
    const fs::path root = t / "root";
    copy_data_root(root);
    const std::string chain_hex = docker_diff_ids(kBase).at(0).substr(7);
    const std::string cache_id = trim(read_file(root / "image/overlay2/layerdb/sha256" / chain_hex / "cache-id"));
    const NestedDirs deep(root / "overlay2" / cache_id / "diff/deep", 2000);
    struct rlimit inherited {};
    BOOST_TEST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &inherited) == 0);
    BOOST_TEST_REQUIRE(inherited.rlim_max >= 4096u, "the hard limit of open files is too low for this test");
    struct rlimit low = inherited;
    low.rlim_cur = 1024;
    BOOST_TEST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    check_against_find("mount", kBase, root.string());
    ::setrlimit(RLIMIT_NOFILE, &inherited);
}

BOOST_AUTO_TEST_CASE(hash_none_leaves_out_only_the_hashes) {
    TempDir t("files");
    Result hashed = files(t / "state", {"--json", kMulti});
    Result none = files(t / "state", {"--json", "--hash", "none", kMulti});
    OVLT_REQUIRE_EXIT(hashed, 0);
    OVLT_REQUIRE_EXIT(none, 0);
    auto expected = json_rows(hashed);
    std::size_t files_seen = 0;
    for (auto& r : expected) {
        if (r.type == "file") {
            BOOST_TEST(r.sha256.size() == 64u, r.path);
            ++files_seen;
        } else {
            BOOST_TEST(r.sha256.empty(), r.path);
        }
        r.sha256.clear();
    }
    BOOST_TEST(files_seen > 10u);
    for (const auto& o : json_lines(none)) BOOST_TEST(o.at("sha256").is_null());
    OVLT_EXPECT_NO_DIFFS(differences(json_rows(none), expected), "--hash none vs the hashed listing");
    Result text = files(t / "state", {"--hash", "none", kMulti, "/data/keep"});
    OVLT_REQUIRE_EXIT(text, 0);
    const auto f = split(trim(text.out), '\t');
    BOOST_TEST_REQUIRE(f.size() == 9u, text.out);
    BOOST_TEST(f[0] == "/data/keep");
    BOOST_TEST(f[1] == "file");
    BOOST_TEST(f[7] == "-");
    BOOST_TEST(f[8] == "-");
}

BOOST_AUTO_TEST_CASE(odd_names_in_every_format) {
    // Names no fixture image can hold (a newline, a tab, a backslash, quotes, bytes that are not
    // UTF-8) and names whose bytewise order is not a plain depth-first one ("a-c" and "a.d" sort
    // between "a" and "a/b"), added to the top layer of ovltest-multi in a copy of the data root.
    TempDir t("files");
    const fs::path copy = t / "copy";
    copy_data_root(copy);
    const fs::path top = copy / fs::path(docker_lowerdirs(kMulti).front()).lexically_relative(data_root());
    BOOST_TEST_REQUIRE(fs::is_directory(top), top);
    const fs::path odd = top / "odd";
    fs::create_directories(odd / "a");
    for (const std::string& name : {std::string("new\nline"), std::string("tab\there"), std::string("back\\slash"),
                                    std::string("quote\"d, comma"), std::string("\xff\xfe not utf-8"), std::string("-"),
                                    std::string("a-c"), std::string("a.d"), std::string("a/b"), std::string("\xc3\xa9t\xc3\xa9")})
        write_file(odd / name, name + "\n");
    fs::create_symlink("tar\tget\n\xff", odd / "link\nwith newline");
    BOOST_TEST_REQUIRE(::chmod((odd / "a-c").c_str(), 02755) == 0);

    check_against_find("mount", kMulti, copy.string());

    Result r = files(t / "state", {"--json", kMulti, "/odd"}, copy.string());
    OVLT_REQUIRE_EXIT(r, 0);
    const auto rows = json_rows(r);
    std::vector<std::string> order;
    for (const auto& row : rows) order.push_back(row.path);
    OVLT_EXPECT_SAME_LIST(std::vector<std::string>(order.begin(), order.begin() + 5),
                          (std::vector<std::string>{"/odd", "/odd/-", "/odd/a", "/odd/a-c", "/odd/a.d"}),
                          "bytewise order of whole paths");
    const auto after = std::find(order.begin(), order.end(), "/odd/a.d");
    BOOST_TEST((after != order.end() && after + 1 != order.end() && after[1] == "/odd/a/b"), "/odd/a/b follows /odd/a.d");
    std::size_t with_hex = 0;
    for (const auto& o : json_lines(r)) with_hex += (o.contains("path_hex") ? 1u : 0u) + (o.contains("link_hex") ? 1u : 0u);
    BOOST_TEST(with_hex == 2u, "names that are not UTF-8 carry their bytes in hex: " << r.out);
    Result text = files(t / "state", {kMulti, "/odd"}, copy.string());
    OVLT_REQUIRE_EXIT(text, 0);
    BOOST_TEST(lines_of(text.out, false).size() == rows.size(), "one text line per row: " << text.out);
}

BOOST_AUTO_TEST_CASE(the_data_root_is_unchanged) {
    EvidenceCopy ev;
    const std::string root = ev.root.string();
    const fs::path state = ev.t / "state";
    const Snapshot before = snapshot(ev.root, true);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--json", "--layer", kMulti}, {"--csv", "--layer", kChanges}, {"--layer", kDeep},
          {"--hash", "none", kBase}, {"--layer", kMulti, "/data", "/perm/suid"}})
        OVLT_EXPECT_EXIT(files(state, args, root), 0);
    OVLT_EXPECT_EXIT(files(state, {kMulti, "/nonexistent"}, root), 3);
    OVLT_EXPECT_NO_DIFFS(diff_snapshots(before, snapshot(ev.root, true)), "the data root changed");
    BOOST_TEST(scratch_left(state).empty(), "scratch dirs left: " << joined(scratch_left(state)));
}

BOOST_AUTO_TEST_CASE(a_bad_reference_is_not_found) {
    TempDir t("files");
    const fs::path state = t / "state";
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"ovltest-nonexistent"}, {"--csv", "ovltest-nonexistent:1", "/etc"},
          {"--json", "--layer", "0000000000000000"}}) {
        Result r = files(state, args);
        OVLT_EXPECT_EXIT(r, 3);
        OVLT_EXPECT_ONE_ERROR_LINE(r);
        BOOST_TEST(r.out.empty(), r.describe());
    }
    BOOST_TEST(scratch_left(state).empty(), "scratch dirs left: " << joined(scratch_left(state)));
}

BOOST_AUTO_TEST_CASE(the_mount_is_seen_by_no_other_process) {
    // `files` writing into a FIFO nobody reads stops with its mount made: its own mount
    // namespace shows the overlay, this one (the rest of the system, for it) does not.
    TempDir t("files");
    const fs::path fifo = t / "fifo";
    const fs::path state = t / "state";
    BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::vector<std::string> argv{"/bin/sh", "-c", "exec \"$@\" >\"$0\"", fifo.string(), env().bin};
    for (const auto& a : with_dirs(state, {"files", "--json", "--layer", kDeep})) argv.push_back(a);
    Process p(argv);
    const int fd = ::open(fifo.c_str(), O_RDONLY | O_CLOEXEC);
    BOOST_TEST_REQUIRE(fd >= 0);
    std::string out(4096, '\0');
    ssize_t n = ::read(fd, out.data(), 1);
    BOOST_TEST_REQUIRE(n == 1);
    ::usleep(200000);  // the pipe fills up; `files` waits with its mount in place

    std::ifstream own("/proc/" + std::to_string(p.pid()) + "/mountinfo");
    std::string theirs((std::istreambuf_iterator<char>(own)), std::istreambuf_iterator<char>());
    BOOST_TEST(theirs.find(canon(state) + "/scratch/") != std::string::npos,
               "the private mount is not in files' own namespace: " << theirs);
    const auto ours = mountinfo();
    BOOST_TEST(std::none_of(ours.begin(), ours.end(),
                            [&](const MountEntry& m) { return m.target.rfind(canon(state), 0) == 0; }),
               "files' mount is visible outside its namespace");

    std::string rest = out.substr(0, 1);
    while ((n = ::read(fd, out.data(), out.size())) > 0) rest.append(out.data(), static_cast<std::size_t>(n));
    ::close(fd);
    Result r = p.wait();
    OVLT_EXPECT_EXIT(r, 0);
    BOOST_TEST(rest.size() > 65536u, "the listing should outgrow a pipe's buffer");
    BOOST_TEST(scratch_left(state).empty(), "scratch dirs left: " << joined(scratch_left(state)));
}
