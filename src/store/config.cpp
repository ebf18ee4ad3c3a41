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
// U+00A1..U+0499, U+2C5E..U+3057 but U+3000, U+FB26..U+FEFE (lenient UTF-8 decoding; toml++
// refuses bad UTF-8 itself).
bool toml_mishandles(char32_t c) {
  return (c >= 0xa1 && c <= 0x499) || (c >= 0x2c5e && c <= 0x3057 && c != 0x3000) || (c >= 0xfb26 && c <= 0xfefe);
}

// Where a TOML scanner is: a comment runs to the end of its line; the strings end at their own
// quotes (a basic string's backslash escapes the next byte) or, single-line, at a newline.
enum class TomlSpan { code, comment, basic, literal, multiline_basic, multiline_literal };

// Blanks (with spaces, byte for byte) the code points toml++ mishandles that sit in comments, as
// localized configs have them ("# Répertoire"). Returns the first one that sits elsewhere (a
// key or a string, which blanking would change), if any: then `text` must not be parsed.
std::optional<char32_t> blank_mishandled_in_comments(std::string& text) {
  TomlSpan span = TomlSpan::code;
  const auto escapes_ascii = [&](size_t i) { return i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0x80u; };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto lead = static_cast<unsigned char>(c);
    if (lead >= 0xc0u) {
      const auto next = [&](size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(text[i + k]) & 0x3fu); };
      size_t length = 0;
      char32_t code = 0;
      if ((lead & 0xe0u) == 0xc0u && i + 1 < text.size()) length = 2, code = (char32_t{lead} & 0x1fu) << 6 | next(1);
      else if ((lead & 0xf0u) == 0xe0u && i + 2 < text.size()) length = 3, code = (char32_t{lead} & 0x0fu) << 12 | next(1) << 6 | next(2);
      if (length != 0 && toml_mishandles(code)) {
        if (span != TomlSpan::comment) return code;
        text.replace(i, length, length, ' ');
        i += length - 1;
      }
      continue;
    }
    const std::string_view rest = std::string_view(text).substr(i);
    switch (span) {
      case TomlSpan::code:
        if (c == '#') span = TomlSpan::comment;
        else if (rest.starts_with("\"\"\"")) span = TomlSpan::multiline_basic, i += 2;
        else if (rest.starts_with("'''")) span = TomlSpan::multiline_literal, i += 2;
        else if (c == '"') span = TomlSpan::basic;
        else if (c == '\'') span = TomlSpan::literal;
        break;
      case TomlSpan::comment:
        if (c == '\n') span = TomlSpan::code;
        break;
      case TomlSpan::basic:
        if (c == '\\' && escapes_ascii(i)) ++i;
        else if (c == '"' || c == '\n') span = TomlSpan::code;
        break;
      case TomlSpan::literal:
        if (c == '\'' || c == '\n') span = TomlSpan::code;
        break;
      case TomlSpan::multiline_basic:
        if (c == '\\' && escapes_ascii(i)) ++i;
        else if (rest.starts_with("\"\"\"")) span = TomlSpan::code, i += 2;
        break;
      case TomlSpan::multiline_literal:
        if (rest.starts_with("'''")) span = TomlSpan::code, i += 2;
        break;
    }
  }
  return std::nullopt;
}

Result<toml::table> parse_toml(std::string text, const std::string& object) {
  if (std::count(text.begin(), text.end(), '.') > static_cast<std::ptrdiff_t>(max_toml_dots))
    return corrupt(object, "not valid TOML for ovlmount (more than " + std::to_string(max_toml_dots) +
                               " dots: keys may nest deeper than it parses safely)");
  if (const auto c = blank_mishandled_in_comments(text)) {
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
