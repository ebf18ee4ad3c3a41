// Shared helpers of the integration test programs (each is its own Boost.Test module).
#pragma once

#include "support.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <regex>
#include <sstream>

namespace ovltest {

// The images tests/docker/build-images.sh builds.
inline const std::string kBase = "ovltest-base:1";  // one layer
inline const std::string kOne = "ovltest-one:latest";
inline const std::string kMulti = "ovltest-multi:latest";
inline const std::string kDeep = "ovltest-deep:latest";  // 100 layers
// The stopped containers it creates.
inline const std::string kChanges = "ovltest-changes";  // of ovltest-multi: every kind of change
inline const std::string kVols = "ovltest-vols";        // of ovltest-base: volumes and a host bind
inline const std::string kCreated = "ovltest-created";  // of ovltest-multi: never started

inline const std::string& data_root() { return env().data_root; }

// `ovlmount --data-root R --state-dir S <args...>`
inline std::vector<std::string> with_dirs(const fs::path& state, std::vector<std::string> args,
                                          const std::string& root = {}) {
    std::vector<std::string> v{"--data-root", root.empty() ? data_root() : root, "--state-dir", state.string()};
    v.insert(v.end(), args.begin(), args.end());
    return v;
}

inline std::string jstr(const boost::json::value& v, std::string_view key) {
    const auto* p = v.as_object().if_contains(key);
    if (p == nullptr) throw std::runtime_error("JSON has no key \"" + std::string(key) + "\": " + boost::json::serialize(v));
    if (!p->is_string())
        throw std::runtime_error("JSON key \"" + std::string(key) + "\" is not a string: " + boost::json::serialize(v));
    return std::string(p->as_string());
}

// The value at `key` of a JSON object, any type; throws naming the key if it is missing.
inline const boost::json::value& jat(const boost::json::value& v, std::string_view key) {
    const auto* p = v.as_object().if_contains(key);
    if (p == nullptr) throw std::runtime_error("JSON has no key \"" + std::string(key) + "\": " + boost::json::serialize(v));
    return *p;
}

inline std::vector<std::string> jstrings(const boost::json::value& v, std::string_view key) {
    const auto* p = v.as_object().if_contains(key);
    if (p == nullptr || !p->is_array())
        throw std::runtime_error("JSON key \"" + std::string(key) + "\" is not an array: " + boost::json::serialize(v));
    std::vector<std::string> out;
    for (const auto& x : p->as_array()) out.emplace_back(x.as_string());
    return out;
}

// "a, b, c" for messages.
inline std::string joined(const std::vector<std::string>& v, const std::string& sep = "\n  ") {
    std::string s;
    for (const auto& x : v) s += sep + x;
    return s;
}

inline std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// The whitespace-separated words of a line of plain output.
inline std::vector<std::string> words(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

// The lines of `text` that are not blank (empty or white space only), trimmed when `trimmed`,
// else as they stand.
inline std::vector<std::string> lines_of(const std::string& text, bool trimmed = true) {
    std::vector<std::string> out;
    for (auto& l : split(text, '\n'))
        if (!trim(l).empty()) out.push_back(trimmed ? trim(l) : l);
    return out;
}

inline std::string canon(const fs::path& p) {
    std::error_code ec;
    auto c = fs::canonical(p, ec);
    return ec ? p.string() : c.string();
}

inline bool is_rfc3339_utc(const std::string& s) {
    static const std::regex re(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$)");
    return std::regex_match(s, re);
}

// The record of `target` in a list --json array (nullptr if none).
inline const boost::json::object* find_record(const boost::json::array& list, const fs::path& target) {
    for (const auto& r : list)
        if (r.is_object() && r.as_object().contains("target") && r.as_object().at("target").is_string() &&
            r.as_object().at("target").as_string() == canon(target))
            return &r.as_object();
    return nullptr;
}

// Changes one digit of the "created" time in the config of image `image_id` ("sha256:<hex>")
// in the data root copy `root`: still valid JSON, only the config's digest shows it. Asserts
// (BOOST_TEST_REQUIRE) that the config has a "created" time starting with 2.
inline void change_created_digit(const fs::path& root, const std::string& image_id) {
    const fs::path cfg = root / "image/overlay2/imagedb/content/sha256" / image_id.substr(7);
    std::string c = read_file(cfg);
    auto p = c.find("\"created\":\"2");
    BOOST_TEST_REQUIRE(p != std::string::npos);
    c[p + 11] = '3';
    write_file(cfg, c);
}

// The record of `target` in a list --json array; throws with the whole list if there is none.
inline const boost::json::object& record_of(const boost::json::array& list, const fs::path& target) {
    const auto* rec = find_record(list, target);
    if (rec == nullptr) throw std::runtime_error("no record for " + target.string() + ": " + boost::json::serialize(list));
    return *rec;
}

}  // namespace ovltest

// Exit code check with the whole command, stdout and stderr in the failure message. Each macro
// evaluates its arguments exactly once (they are usually the command itself).
#define OVLT_EXPECT_EXIT(result, expected)                                                         \
    do {                                                                                           \
        const ::ovltest::Result& ovlt_r_ = (result);                                               \
        const int ovlt_e_ = (expected);                                                            \
        BOOST_TEST(ovlt_r_.code == ovlt_e_, "expected exit " << ovlt_e_ << ": " << ovlt_r_.describe()); \
    } while (0)
#define OVLT_REQUIRE_EXIT(result, expected)                                                        \
    do {                                                                                           \
        const ::ovltest::Result& ovlt_r_ = (result);                                               \
        const int ovlt_e_ = (expected);                                                            \
        BOOST_TEST_REQUIRE(ovlt_r_.code == ovlt_e_, "expected exit " << ovlt_e_ << ": " << ovlt_r_.describe()); \
    } while (0)
#define OVLT_EXPECT_ONE_ERROR_LINE(result)                                                         \
    do {                                                                                           \
        const ::ovltest::Result& ovlt_r_ = (result);                                               \
        BOOST_TEST(::ovltest::one_error_line(ovlt_r_.err),                                         \
                   "stderr must be one line starting 'ovlmount: ': " << ovlt_r_.describe());       \
    } while (0)
#define OVLT_EXPECT_NO_DIFFS(diffs, what)                                                          \
    do {                                                                                           \
        const auto& ovlt_d_ = (diffs);                                                             \
        BOOST_TEST(ovlt_d_.empty(), what << ": " << ovlt_d_.size() << " difference(s):" << ::ovltest::joined(ovlt_d_)); \
    } while (0)

// Two string lists equal, showing both when not.
#define OVLT_EXPECT_SAME_LIST(actual, expected, what)                                              \
    do {                                                                                           \
        const std::vector<std::string> ovlt_a_ = (actual);                                         \
        const std::vector<std::string> ovlt_x_ = (expected);                                       \
        BOOST_TEST((ovlt_a_ == ovlt_x_), what << "\n got (" << ovlt_a_.size() << "):"              \
                                              << ::ovltest::joined(ovlt_a_) << "\n expected ("     \
                                              << ovlt_x_.size() << "):" << ::ovltest::joined(ovlt_x_)); \
    } while (0)

namespace ovltest {
// The lowerdir list of a mount record: Docker's layers, top first. A read-only mount of a
// one-layer image may add one empty directory of ovlmount's own (below the state dir) as the
// bottom layer, because overlayfs needs two lowers without an upper.
inline void expect_record_lowerdir(const std::vector<std::string>& got, const std::string& image,
                                   const fs::path& state_dir) {
    std::vector<std::string> expect = docker_lowerdirs(image);
    if (expect.size() == 1 && got.size() == 2) {
        const std::string extra = got.back();
        const std::string state = canon(state_dir);
        BOOST_TEST((extra.rfind(state + "/", 0) == 0 && fs::is_directory(extra) && fs::is_empty(extra)),
                   "the extra bottom lower " << extra << " of a one-layer mount is not an empty dir below " << state);
        expect.push_back(extra);
    }
    OVLT_EXPECT_SAME_LIST(got, expect, "record lowerdir of " + image);
}
}  // namespace ovltest

namespace ovltest {
// `rc` (the result of a write attempt named `what`, errno as it left it) is a failure with
// EROFS; a descriptor it opened by mistake is closed. Two assertions when it failed, one when not.
inline void expect_erofs(const std::string& what, int rc) {
    int e = errno;
    BOOST_TEST(rc < 0, what << " succeeded on a read-only mount");
    if (rc < 0) BOOST_TEST(e == EROFS, what << " failed with " << std::strerror(e) << ", expected EROFS");
    if (rc >= 0) ::close(rc);
}

// Every kind of write into the read-only mount at `target` fails with EROFS: creating a file,
// opening, unlinking and chmod-ing the existing file `existing` ("etc/passwd"), mkdir. The
// caller makes sure the mount is read-only: were it writable, a probe could change the store.
inline void expect_writes_refused(const fs::path& target, const std::string& existing) {
    const std::string file = (target / existing).string();
    expect_erofs("creating a file", ::open((target / "ovltest-new-file").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    expect_erofs("opening /" + existing + " for writing", ::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    expect_erofs("mkdir", ::mkdir((target / "ovltest-new-dir").c_str(), 0755));
    expect_erofs("unlink", ::unlink(file.c_str()));
    expect_erofs("chmod", ::chmod(file.c_str(), 0600));
}
}  // namespace ovltest
