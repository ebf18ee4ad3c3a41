// Shared helpers of the integration test programs (each is its own Boost.Test module).
#pragma once

#include "support.hpp"

#include <boost/test/unit_test.hpp>

#include <regex>

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
