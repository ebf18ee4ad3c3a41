// Why: see config.hpp. toml++ is used header-only here, in this one file: the shared library
// Debian ships would cost every short command its load time (DESIGN.md "Start-up cost").
#include "ovlmount/store/config.hpp"

#include "ovlmount/store/containerd_store.hpp"

#include <boost/json.hpp>

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string_view>

namespace ovlmount {
namespace {

constexpr size_t max_config_depth = 64;
// toml++ limits nested arrays and inline tables, not dotted keys: it makes one table per key
// part and frees them recursively, so `a.a.a... = 1` with 100,000 parts overflows the stack.
// Real configs hold a few hundred dots (comments and strings included); this many nest safely.
constexpr size_t max_toml_dots = 4096;

// toml++ 3.3's is_non_ascii_horizontal_whitespace() reaches __builtin_unreachable() (undefined
// behaviour) for the code points of three of its 1018-wide blocks that are not whitespace:
// U+00A1..U+0499, U+2C5E..U+3057 but U+3000, U+FB26..U+FEFE. The first such code point of
// `text` (lenient UTF-8 decoding; toml++ refuses bad UTF-8 itself), if any.
std::optional<char32_t> code_point_toml_mishandles(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const auto next = [&](size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(text[i + k]) & 0x3fu); };
    char32_t c = 0;
    if ((lead & 0xe0u) == 0xc0u && i + 1 < text.size()) c = (char32_t{lead} & 0x1fu) << 6 | next(1);
    else if ((lead & 0xf0u) == 0xe0u && i + 2 < text.size()) c = (char32_t{lead} & 0x0fu) << 12 | next(1) << 6 | next(2);
    else continue;
    if ((c >= 0xa1 && c <= 0x499) || (c >= 0x2c5e && c <= 0x3057 && c != 0x3000) || (c >= 0xfb26 && c <= 0xfefe))
      return c;
  }
  return std::nullopt;
}

Result<toml::table> parse_toml(const std::string& text, const std::string& object) {
  if (std::count(text.begin(), text.end(), '.') > static_cast<std::ptrdiff_t>(max_toml_dots))
    return corrupt(object, "not valid TOML for ovlmount (more than " + std::to_string(max_toml_dots) +
                               " dots: keys may nest deeper than it parses safely)");
  if (const auto c = code_point_toml_mishandles(text)) {
    char name[16];
    std::snprintf(name, sizeof name, "U+%04X", static_cast<unsigned>(*c));
    return corrupt(object, "not valid TOML for ovlmount (holds " + std::string(name) +
                               ", which its TOML parser cannot read safely)");
  }
  toml::parse_result parsed = toml::parse(text, object);
  if (!parsed) {
    std::ostringstream where;
    where << parsed.error().source().begin;
    return corrupt(object, "not valid TOML (" + std::string(parsed.error().description()) + " at " + where.str() + ")");
  }
  return std::move(parsed).table();
}

Result<std::string> absolute_setting(const toml::node* node, const char* name, const std::string& fallback,
                                     const std::string& object) {
  if (!node) return fallback;
  const auto* value = node->as_string();
  if (!value || value->get().empty() || value->get().front() != '/')
    return corrupt(object, std::string(name) + " is not an absolute path");
  return value->get();
}

}  // namespace

Result<DockerConfig> parse_daemon_json(const std::string& text, const std::string& object) {
  boost::system::error_code ec;
  boost::json::parse_options options;
  options.max_depth = max_config_depth;
  const boost::json::value document = boost::json::parse(text, ec, {}, options);
  if (ec || !document.is_object())
    return corrupt(object, "not a valid JSON object (give --data-root to bypass it)");
  DockerConfig config;
  if (const boost::json::value* root = document.get_object().if_contains("data-root")) {
    if (!root->is_string() || root->get_string().empty() || root->get_string().front() != '/')
      return corrupt(object, "\"data-root\" is not an absolute path");
    config.data_root = root->get_string();
  }
  const boost::json::object& top = document.get_object();
  if (const boost::json::value* address = top.if_contains("containerd")) {
    if (!address->is_string()) return corrupt(object, "\"containerd\" is not a string");
    config.containerd = address->get_string();
  }
  if (const boost::json::value* ns = top.if_contains("containerd-namespace")) {
    if (!ns->is_string() || !is_containerd_identifier(ns->get_string()))
      return corrupt(object, "\"containerd-namespace\" is not a containerd namespace name");
    config.containerd_namespace = ns->get_string();
  }
  if (const boost::json::value* features = top.if_contains("features")) {
    if (!features->is_object()) return corrupt(object, "\"features\" is not an object");
    if (const boost::json::value* snapshotter = features->get_object().if_contains("containerd-snapshotter")) {
      if (!snapshotter->is_bool()) return corrupt(object, "\"features\": \"containerd-snapshotter\" is not true or false");
      config.containerd_snapshotter = snapshotter->get_bool();
    }
  }
  return config;
}

Result<std::string> parse_storage_conf(const std::string& text, const std::string& object) {
  auto table = parse_toml(text, object);
  if (!table) return table.error();
  const toml::node* storage = table->get("storage");
  if (storage && !storage->is_table()) return corrupt(object, "[storage] is not a table");
  const toml::table* settings = storage ? storage->as_table() : nullptr;
  if (const toml::node* driver = settings ? settings->get("driver") : nullptr) {
    const auto* name = driver->as_string();
    if (!name) return corrupt(object, "storage driver is not a string");
    if (!name->get().empty() && name->get() != "overlay")
      return not_found(object, "storage driver \"" + name->get() + "\" is not overlay, the only one ovlmount reads");
  }
  return absolute_setting(settings ? settings->get("graphroot") : nullptr, "graphroot", default_storage_root, object);
}

Result<std::string> parse_containerd_config(const std::string& text, const std::string& object) {
  auto table = parse_toml(text, object);
  if (!table) return table.error();
  return absolute_setting(table->get("root"), "root", default_containerd_root, object);
}

}  // namespace ovlmount
