// The adversarial corpus (issue 9): tests/corpus/generate.sh builds broken and hostile copies of
// every store fixture, one defect each; every command is run on every case. Each must end with
// the documented exit code and one line on stderr naming the object at fault, within a time
// limit, without a sanitizer report, leaving no mount, no record and no scratch dir behind, and
// without changing anything in the store (content, mode, owner, size, mtime and atime: the
// corpus lives on a strictatime tmpfs, so a read that is not O_NOATIME shows).
//
// Cases whose correct behaviour is not reached yet are listed in kKnownFailures: they still
// run, their failures are printed, and they do not fail the test.
#define BOOST_TEST_MODULE ovlmount_integration_corpus
#include "itest.hpp"

#include <sys/mount.h>

#include <fstream>
#include <iostream>

using namespace ovltest;

namespace {

// Cases expected to fail today (name -> why); keep this list short and each entry explained.
const std::map<std::string, std::string> kKnownFailures = {};

const auto kCommandTimeout = std::chrono::seconds(20);

// The commands that leave a mount when they succeed (the test unmounts it with `umount`).
const std::set<std::string> kMountingCommands = {"mount", "mount-rw", "container", "container-rw", "container-vols"};

struct Case {
    std::string name;
    fs::path dir;
    std::map<std::string, std::string> fields;  // the manifest

    std::string get(const std::string& key) const {
        auto it = fields.find(key);
        return it == fields.end() ? std::string() : it->second;
    }
    fs::path store() const { return dir / "store"; }
    // The store options of every command.
    std::vector<std::string> root_args() const {
        std::vector<std::string> v{get("root"), store().string()};
        for (const auto& w : words(get("extra"))) v.push_back(w);
        return v;
    }
    // The exit codes command `key` may end with: the manifest's expect.<key>, else `fallback`.
    std::vector<int> expected(const std::string& key, const std::string& fallback) const {
        std::string spec = get("expect." + key);
        if (spec.empty()) spec = fallback;
        std::vector<int> codes;
        for (const auto& c : split(spec, '|')) codes.push_back(std::stoi(c));
        return codes;
    }
};

Case read_case(const fs::path& dir) {
    Case c{dir.filename().string(), dir, {}};
    std::ifstream in(dir / "manifest");
    for (std::string line; std::getline(in, line);) {
        auto eq = line.find('=');
        if (eq != std::string::npos) c.fields[line.substr(0, eq)] = line.substr(eq + 1);
    }
    if (c.get("kind").empty() || c.get("root").empty() || c.get("expect").empty() ||
        (c.get("ref").empty() && c.get("container").empty()))
        throw std::runtime_error("incomplete manifest in " + dir.string());
    return c;
}

struct Command {
    std::string key;
    std::vector<std::string> args;
    std::vector<int> codes;
};

// Every applicable command of a case. `dirs` holds the state dir, the mount target and the
// export output dir.
std::vector<Command> commands_of(const Case& c, const fs::path& state, const fs::path& target, const fs::path& out) {
    const std::string e = c.get("expect");
    const std::string ref = c.get("ref");
    const std::string ctr = c.get("container");
    const std::string subject = ctr.empty() ? ref : ctr;
    const std::string run_code = e == "0" ? "0" : "125";  // `run` says 125 for its own errors
    std::vector<Command> v;
    auto add = [&](const std::string& key, std::vector<std::string> args, const std::string& fallback) {
        std::vector<std::string> all = c.root_args();
        all.insert(all.end(), {"--state-dir", state.string()});
        all.insert(all.end(), args.begin(), args.end());
        v.push_back({key, all, c.expected(key, fallback)});
    };
    if (!ref.empty()) {
        add("resolve", {"resolve", "--json", ref}, e);
        add("mount", {"mount", ref, target.string()}, e);
        add("mount-rw", {"mount", "--writable", ref, target.string()}, e);
    }
    if (!ctr.empty()) {
        add("container", {"container", ctr, target.string()}, e);
        add("container-rw", {"container", "--writable", ctr, target.string()}, e);
        add("container-vols", {"container", "--volumes", ctr, target.string()}, e);
        add("diff", {"diff", ctr}, e);
    }
    // A listing names a broken entry; whether the other listing sees it is the store's business.
    add("images", {"images"}, ctr.empty() ? e : "0|" + e);
    add("containers", {"containers"}, ctr.empty() ? "0|" + e : e);
    add("inspect", {"inspect", "--json", subject}, e);
    add("verify", {"verify", subject}, e);
    add("which", {"which", subject, "/etc/passwd"}, e);
    add("export", {"export", "-o", (out / "export.tar").string(), subject}, e);
    add("files", {"files", "--hash", "sha256", subject}, e);
    add("run", {"run", subject, "--", "true"}, run_code);
    return v;
}

bool contains_any(const std::string& text, const std::string& alternatives) {
    for (const auto& a : split(alternatives, '|'))
        if (!a.empty() && text.find(a) != std::string::npos) return true;
    return false;
}

std::set<int> mount_ids() {
    std::set<int> ids;
    for (const auto& m : mountinfo()) ids.insert(m.id);
    return ids;
}

// Everything a command left in the state dir: records (mounts/), scratch dirs (scratch/) or
// anything else but the lock file and those two dirs.
std::vector<std::string> leftovers(const fs::path& state) {
    std::vector<std::string> found;
    for (const auto& e : fs::recursive_directory_iterator(state)) {
        const auto rel = fs::relative(e.path(), state).string();
        if (rel != "lock" && rel != "mounts" && rel != "scratch") found.push_back(e.path().string());
    }
    return found;
}

struct Totals {
    int cases = 0;
    int commands = 0;
    int failures = 0;
    int known = 0;
};

// Runs every command of one case; returns its failures (empty: the case passed).
std::vector<std::string> run_case(const Case& c, Totals& totals) {
    std::vector<std::string> failures;
    TempDir t("corpus-run");
    const fs::path state = t / "state";
    const fs::path target = t / "target";
    const fs::path out = t / "out";
    fs::create_directories(state);
    fs::create_directories(target);
    fs::create_directories(out);

    const Snapshot before = snapshot(c.dir, true);
    const std::set<int> mounts_before = mount_ids();
    RunOptions opts;
    opts.timeout = kCommandTimeout;
    opts.env_add = {"UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1",
                    "ASAN_OPTIONS=detect_leaks=1",
                    "LSAN_OPTIONS=print_suppressions=0:suppressions=" OVLMOUNT_CORPUS_LSAN_SUPP};
    for (const auto& cmd : commands_of(c, state, target, out)) {
        ++totals.commands;
        const Result r = ovl(cmd.args, opts);
        std::string why;
        if (r.err.find("[killed by the test: timeout]") != std::string::npos)
            why += " it hung (killed after " + std::to_string(kCommandTimeout.count()) + " s);";
        if (std::find(cmd.codes.begin(), cmd.codes.end(), r.code) == cmd.codes.end()) why += " exit code;";
        if (r.code != 0 && !one_error_line(r.err)) why += " not one error line;";
        if (r.code != 0 && !contains_any(r.err, c.get("names"))) why += " stderr names none of " + c.get("names") + ";";
        if (const std::string absent = c.get("absent"); !absent.empty() && r.out.find(absent) != std::string::npos)
            why += " stdout shows " + absent + ";";
        if (const std::string listed = c.get("listed"); cmd.key == "images" && !listed.empty() &&
                                                         r.out.find(listed) == std::string::npos)
            why += " images does not list " + listed + ";";
        for (const char* s : {"AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer"})
            if (r.err.find(s) != std::string::npos) why += std::string(" sanitizer report (") + s + ");";
        if (r.code == 0 && kMountingCommands.count(cmd.key) != 0) {
            const Result u = ovl({"--state-dir", state.string(), "umount", target.string()}, opts);
            if (u.code != 0) why += " its mount could not be unmounted: " + u.describe() + ";";
        }
        if (r.code == 0 && cmd.key == "export") fs::remove(out / "export.tar");
        if (mount_ids() != mounts_before) {
            why += " a mount was left;";
            unmount_below(target);
        }
        if (auto left = leftovers(state); !left.empty()) {
            why += " left in the state dir: " + left.front() + ";";
            unmount_below(target);
            ovl({"--state-dir", state.string(), "cleanup"});
            remove_tree(state);
            fs::create_directories(state);
        }
        if (!fs::is_empty(out)) {
            why += " export left a file;";
            for (const auto& e : fs::directory_iterator(out)) fs::remove_all(e.path());
        }
        if (!why.empty()) {
            std::string codes;
            for (int code : cmd.codes) codes += (codes.empty() ? "" : "|") + std::to_string(code);
            failures.push_back(cmd.key + " (expected " + codes + "):" + why + "\n    " + r.describe());
        }
    }
    for (const auto& d : diff_snapshots(before, snapshot(c.dir, true), 10))
        failures.push_back("the store changed: " + d);
    return failures;
}

// The corpus on a strictatime tmpfs of its own, removed at the end.
struct Corpus {
    TempDir t{"corpus"};
    fs::path mnt = t / "fs";
    fs::path dir = mnt / "corpus";
    Corpus() {
        fs::create_directories(mnt);
        if (::mount("tmpfs", mnt.c_str(), "tmpfs", MS_STRICTATIME, "mode=0755") != 0)
            throw std::runtime_error("mounting a strictatime tmpfs failed: " + std::string(std::strerror(errno)));
        RunOptions o;
        o.timeout = std::chrono::minutes(5);
        Result r = run({"bash", OVLMOUNT_CORPUS_GENERATE_SH, dir.string()}, o);
        if (r.code != 0) throw std::runtime_error("generating the corpus failed: " + r.describe());
    }
    ~Corpus() { ::umount2(mnt.c_str(), MNT_DETACH); }
    Corpus(const Corpus&) = delete;
    Corpus& operator=(const Corpus&) = delete;
};

std::vector<Case> cases_in(const fs::path& dir) {
    std::vector<Case> cases;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_directory() && e.path().filename().string()[0] != '.') cases.push_back(read_case(e.path()));
    std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.name < b.name; });
    return cases;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_command_on_every_broken_store) {
    env();
    Corpus corpus;
    const std::vector<Case> cases = cases_in(corpus.dir);
    BOOST_TEST(cases.size() >= 80u);
    std::map<std::string, int> per_kind, per_defect;
    const char* only = std::getenv("OVLMOUNT_CORPUS_ONLY");  // a substring of case names, to debug
    Totals totals;
    for (const auto& c : cases) {
        if (only != nullptr && c.name.find(only) == std::string::npos) continue;
        ++totals.cases;
        ++per_kind[c.get("kind")];
        ++per_defect[c.get("defect")];
        const auto failures = run_case(c, totals);
        const bool known = kKnownFailures.count(c.name) != 0;
        if (failures.empty()) {
            BOOST_TEST(!known, c.name << " passes: remove it from kKnownFailures");
            continue;
        }
        std::string text = c.name + " (" + c.get("what") + "):";
        for (const auto& f : failures) text += "\n  " + f;
        if (known) {
            ++totals.known;
            BOOST_TEST_MESSAGE("known failure (" << kKnownFailures.at(c.name) << "): " << text);
        } else {
            ++totals.failures;
            BOOST_ERROR(text);
        }
    }
    std::string kinds, defects;
    for (const auto& [k, n] : per_kind) kinds += " " + k + "=" + std::to_string(n);
    for (const auto& [k, n] : per_defect) defects += " " + k + "=" + std::to_string(n);
    std::cout << "corpus: " << totals.cases << " cases, " << totals.commands << " commands run, " << totals.failures
              << " failing cases, " << totals.known << " known failures\n  per store:" << kinds
              << "\n  per defect:" << defects << std::endl;
}
