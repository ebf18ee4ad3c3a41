// Why: Docker's reference grammar (distribution/reference), written out as small scanners
// instead of regular expressions so each rule can be read against the original:
//   reference   := name [ ":" tag ] [ "@" digest ]
//   name        := [ domain "/" ] path-component { "/" path-component }
//   domain      := host [ ":" port ]      host := domain-component { "." domain-component } | "[" ipv6 "]"
//   path-comp   := alnum { separator alnum }   alnum := [a-z0-9]+   separator := [._] | "__" | "-"+
//   tag         := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//   digest      := algorithm ":" hex      (sha256: 64, sha384: 96, sha512: 128 lowercase hex)
#include "ovlmount/core/reference.hpp"

#include "ovlmount/core/digest.hpp"

namespace ovlmount {
namespace {

constexpr std::string_view default_domain = "docker.io";
constexpr std::string_view legacy_default_domain = "index.docker.io";
constexpr std::string_view official_repo_prefix = "library/";
constexpr size_t max_name_length = 255;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool is_path_component(std::string_view s) {
  size_t i = 0;
  const auto alnum_run = [&] {
    const size_t start = i;
    while (i < s.size() && is_lower_alnum(s[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < s.size()) {
    if (s[i] == '.' || s[i] == '-' || s[i] == '_') {
      if (s[i] == '_' && i + 1 < s.size() && s[i + 1] == '_') i += 2;
      else if (s[i] == '-') while (i < s.size() && s[i] == '-') ++i;
      else ++i;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

bool is_path(std::string_view s) {
  while (true) {
    const size_t slash = s.find('/');
    if (!is_path_component(s.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    s.remove_prefix(slash + 1);
  }
}

bool is_domain_component(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  for (const char c : s)
    if (!is_alnum(c) && c != '-') return false;
  return true;
}

bool is_domain(std::string_view s) {
  const size_t colon = s.starts_with('[') ? s.find(':', s.find(']')) : s.find(':');
  if (colon != std::string_view::npos) {
    const auto port = s.substr(colon + 1);
    if (port.empty()) return false;
    for (const char c : port)
      if (c < '0' || c > '9') return false;
    s = s.substr(0, colon);
  }
  if (s.starts_with('[')) {
    if (s.size() < 3 || !s.ends_with(']')) return false;
    for (const char c : s.substr(1, s.size() - 2))
      if (!is_lower_hex(c) && !(c >= 'A' && c <= 'F') && c != ':' && c != '.') return false;
    return true;
  }
  while (true) {
    const size_t dot = s.find('.');
    if (!is_domain_component(s.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

bool is_tag(std::string_view s) {
  if (s.empty() || s.size() > 128 || !is_word(s.front())) return false;
  for (const char c : s)
    if (!is_word(c) && c != '.' && c != '-') return false;
  return true;
}

bool is_digest(std::string_view s) {
  const size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  const auto algorithm = s.substr(0, colon);
  const auto hex = s.substr(colon + 1);
  size_t expected = 0;
  if (algorithm == "sha256") expected = 64;
  else if (algorithm == "sha384") expected = 96;
  else if (algorithm == "sha512") expected = 128;
  if (expected == 0 || hex.size() != expected) return false;
  for (const char c : hex)
    if (!is_lower_hex(c)) return false;
  return true;
}

// Docker's splitDockerDomain: the first element is a domain only if it contains '.' or ':',
// is "localhost", or has an uppercase letter.
std::pair<std::string, std::string> split_domain(std::string_view name) {
  const size_t slash = name.find('/');
  std::string domain;
  std::string remainder;
  const auto first = name.substr(0, slash);
  const bool first_is_domain =
      slash != std::string_view::npos &&
      (first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
       first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos);
  if (first_is_domain) {
    domain = first;
    remainder = name.substr(slash + 1);
  } else {
    domain = default_domain;
    remainder = name;
  }
  if (domain == legacy_default_domain) domain = default_domain;
  if (domain == default_domain && remainder.find('/') == std::string::npos)
    remainder = std::string(official_repo_prefix) + remainder;
  return {domain, remainder};
}

}  // namespace

std::string ImageRef::familiar_name() const {
  if (domain != default_domain) return domain + "/" + path;
  if (!path.starts_with(official_repo_prefix)) return path;
  const std::string_view rest = std::string_view(path).substr(official_repo_prefix.size());
  return rest.find('/') == std::string_view::npos ? std::string(rest) : path;
}

std::string ImageRef::store_key() const {
  if (!digest.empty()) return familiar_name() + "@" + digest;
  return familiar_name() + ":" + (tag.empty() ? "latest" : tag);
}

Result<ImageRef> parse_reference(std::string_view text) {
  const std::string object(text);
  if (is_hex64(text))
    return usage_error(object, "invalid reference format: a 64-hex string is an image ID, not a name");

  ImageRef ref;
  std::string_view rest = text;
  if (const size_t at = rest.find('@'); at != std::string_view::npos) {
    ref.digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (!is_digest(ref.digest))
      return usage_error(object, "invalid reference format: bad digest (want sha256:<64 lowercase hex>)");
  }
  const size_t last_slash = rest.rfind('/');
  if (const size_t colon = rest.rfind(':');
      colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    ref.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (!is_tag(ref.tag)) return usage_error(object, "invalid reference format: bad tag");
  }
  if (rest.empty()) return usage_error(object, "invalid reference format: empty name");

  auto [domain, path] = split_domain(rest);
  for (const char c : path)
    if (c >= 'A' && c <= 'Z')
      return usage_error(object, "invalid reference format: repository name must be lowercase");
  if (!is_domain(domain)) return usage_error(object, "invalid reference format: bad registry name");
  if (!is_path(path)) return usage_error(object, "invalid reference format: bad repository name");
  if (domain.size() + 1 + path.size() > max_name_length)
    return usage_error(object, "invalid reference format: name longer than 255 characters");
  ref.domain = std::move(domain);
  ref.path = std::move(path);
  return ref;
}

std::optional<std::string> full_image_id(std::string_view text) {
  if (text.starts_with("sha256:")) text.remove_prefix(7);
  if (!is_hex64(text)) return std::nullopt;
  return std::string(text);
}

std::optional<std::string> image_id_prefix(std::string_view text) {
  if (text.starts_with("sha256:")) text.remove_prefix(7);
  if (text.empty() || text.size() > 64) return std::nullopt;
  for (const char c : text)
    if (!is_lower_hex(c)) return std::nullopt;
  return std::string(text);
}

}  // namespace ovlmount
