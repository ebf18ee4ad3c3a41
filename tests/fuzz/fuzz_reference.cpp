// Why: image references come from the command line and from every store's name catalogue;
// parse_reference must refuse what Docker refuses and normalize the rest to exactly the keys
// Docker's reference store uses. Checks: a parsed reference re-parses from its full name to the
// same image, and from its store key and familiar name too, except where Docker's own familiar
// names are ambiguous; the ID helpers agree with each other.
#include "fuzz_support.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/reference.hpp"

using namespace ovlmount;

namespace {

std::string full_name(const ImageRef& ref) {
  std::string name = ref.domain + "/" + ref.path;
  if (!ref.tag.empty()) name += ":" + ref.tag;
  if (!ref.digest.empty()) name += "@" + ref.digest;
  return name;
}

// Docker's own ambiguity: "docker.io/lst.io/x" and "lst.io/x" have the same familiar name
// "lst.io/x" (a first path component with '.' or ':', or "localhost", reads as a registry),
// and "docker.io/a_b.c/x" has one that does not parse at all.
bool familiar_is_ambiguous(const ImageRef& ref) {
  const std::string first = ref.path.substr(0, ref.path.find('/'));
  return ref.domain == "docker.io" && ref.path.find('/') != std::string::npos &&
         (first.find_first_of(".:") != std::string::npos || first == "localhost");
}

bool same(const ImageRef& a, const ImageRef& b) {
  return a.domain == b.domain && a.path == b.path && a.tag == b.tag && a.digest == b.digest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::input(data, size);

  if (const auto id = full_image_id(text)) {
    FUZZ_CHECK(is_hex64(*id), "full_image_id is not 64 hex");
    const auto prefix = image_id_prefix(text);
    FUZZ_CHECK(prefix && *prefix == *id, "a full image ID is not its own prefix");
  }
  if (const auto prefix = image_id_prefix(text)) {
    FUZZ_CHECK(!prefix->empty() && prefix->size() <= 64, "ID prefix length out of 1..64");
    FUZZ_CHECK(text.ends_with(*prefix), "ID prefix is not the end of the text");
  }

  auto ref = parse_reference(text);
  if (!ref) {
    fuzz::check_error(ref.error());
    FUZZ_CHECK(ref.error().code == ExitCode::usage, "a bad reference is not a usage error");
    return 0;
  }
  FUZZ_CHECK(!ref->domain.empty() && !ref->path.empty(), "a parsed reference without domain or path");
  FUZZ_CHECK(ref->digest.empty() || ref->digest.find(':') != std::string::npos, "a digest without an algorithm");

  auto again = parse_reference(full_name(*ref));
  FUZZ_CHECK(again, "the full name of a parsed reference does not parse");
  FUZZ_CHECK(same(*ref, *again), "the full name re-parses to another reference");

  if (familiar_is_ambiguous(*ref)) return 0;
  auto by_key = parse_reference(ref->store_key());
  FUZZ_CHECK(by_key, "the store key of a parsed reference does not parse");
  FUZZ_CHECK(by_key->store_key() == ref->store_key() && by_key->familiar_name() == ref->familiar_name(),
             "the store key re-parses to another key");

  // A familiar name of 64 hex digits reads as an image ID, in Docker too ("<64 hex>:tag" parses).
  if (is_hex64(ref->familiar_name())) return 0;
  auto by_familiar = parse_reference(ref->familiar_name());
  FUZZ_CHECK(by_familiar, "the familiar name does not parse");
  FUZZ_CHECK(by_familiar->domain == ref->domain && by_familiar->path == ref->path,
             "the familiar name re-parses to another repository");
  return 0;
}
