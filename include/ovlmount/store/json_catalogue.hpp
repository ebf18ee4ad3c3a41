// Why: containers-storage keeps its images, layers and containers in three JSON catalogues
// (images.json, layers.json, containers.json), each one file for the whole store, written by a
// host that may be hostile. This reader decides how such a catalogue is read and what reading it
// may cost: it streams the file, an array of objects, and hands each entry to its caller as the
// few members the caller named, so the caller only decides what an entry means. A bad entry is
// a corrupt error naming the file and the entry (its position and, once known, its ID).
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/root_dir.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ovlmount {

// A 64-hex ID or the hex of a sha256 digest, as its 32 bytes: catalogues of 100,000 images
// hold hundreds of thousands of them, and resolving needs them in memory at once.
using Hash = std::array<std::uint8_t, 32>;

// The 32 bytes of `hex`, or nullopt unless it is 64 lowercase hex digits (is_hex64).
std::optional<Hash> hash_of(std::string_view hex);

// `hash` as 64 lowercase hex digits.
std::string hex_of(const Hash& hash);

// `hash` as 64 lowercase hex digits; "" for nullopt.
std::string hex_of(const std::optional<Hash>& hash);

// One entry of a catalogue, for messages: `file`: entry `index` (`id` when known). `file` is
// referred to, not copied: it must outlive the context.
class EntryContext {
 public:
  EntryContext(const std::string& file, size_t index) : file_(file), index_(index) {}
  void set_id(std::string id) { id_ = std::move(id); }
  Error corrupt_entry(const std::string& problem) const {
    return corrupt(file_, "entry " + std::to_string(index_) + (id_.empty() ? "" : " (" + id_ + ")") + ": " + problem);
  }

 private:
  const std::string& file_;
  size_t index_;
  std::string id_;
};

// A member of a catalogue entry that a reader asked for, as the JSON had it.
struct Member {
  enum class Type { absent, null, string, array, count, other };
  Type type = Type::absent;
  std::string text;                // a string's value
  std::vector<std::string> items;  // an array's strings
  bool only_strings = true;        // false when the array held anything but strings
  std::int64_t count = -1;         // a non-negative integer's value (Type::count)

  void clear() {
    type = Type::absent;
    text.clear();
    items.clear();
    only_strings = true;
    count = -1;
  }
};

// The members named by a reader's keys, in the order of its keys.
using Members = std::vector<Member>;

// Called with each entry that is a JSON object; an error stops the checking of later entries.
using EntrySink = std::function<std::optional<Error>(EntryContext&, const Members&)>;

// What a readable catalogue held that is wrong: its first bad entry's error, if any.
struct EntryErrors {
  EntryErrors() = default;  // not an aggregate, so an Error converts to Result's error only
  std::optional<Error> first;
};

// Streams the catalogue at `relative` (a JSON array of objects) through `sink`, entry by
// entry, handing it the members named by `keys`. A missing or blank file is an empty catalogue
// (containers-storage creates them lazily). The file is checked as RootDir::read_file checks it
// (a regular file, one link, at most 512 MiB); malformed JSON anywhere, or JSON that would take
// more than json_max_memory to parse (json_input.hpp), is its error. Else the value is the first
// entry's error (an entry that is not an object, or what `sink` returned), after which `sink`
// is called no more.
Result<EntryErrors> read_catalogue(const RootDir& root, std::string_view relative, std::span<const std::string_view> keys,
                                   const EntrySink& sink);

// Member `key` (at `position` of the reader's keys) as a string: "" when absent or null. The
// view is into `members`, valid until the next entry is read.
Result<std::string_view> optional_string(const Members& members, size_t position, std::string_view key,
                                         const EntryContext& context);

// Member `key` as an array of strings: empty when absent or null.
Result<std::vector<std::string>> optional_strings(const Members& members, size_t position, std::string_view key,
                                                  const EntryContext& context);

// Member `key`: a 64-hex ID, or "" when absent and `required` is false.
Result<std::string_view> id_member(const Members& members, size_t position, std::string_view key, bool required,
                                   const EntryContext& context);

// The position in `entries` of the first entry (in file order) whose ID an earlier one already
// has, or nullopt; `order` receives the positions of `entries` sorted by ID (ties in file order).
// Entries kept from a catalogue are numbered as in the file: read_catalogue stops at a bad one.
template <typename Entries, typename IdOf>
std::optional<size_t> first_repeated(const Entries& entries, std::vector<std::uint32_t>& order,
                                     IdOf id_of) {
  order.resize(entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::uint32_t>(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return id_of(entries[a]) < id_of(entries[b]); });
  std::optional<size_t> first;
  for (size_t i = 1; i < order.size(); ++i)
    if (id_of(entries[order[i]]) == id_of(entries[order[i - 1]]) && (!first || order[i] < *first)) first = order[i];
  return first;
}

// Reorders `entries` in place so that entry i is the one that was at `order[i]`.
template <typename Entries>
void permute(Entries& entries, std::vector<std::uint32_t>& order) {
  for (size_t start = 0; start < order.size(); ++start) {
    if (order[start] == start) continue;
    auto held = std::move(entries[start]);
    size_t at = start;
    while (order[at] != start) {
      const size_t from = order[at];
      entries[at] = std::move(entries[from]);
      order[at] = static_cast<std::uint32_t>(at);
      at = from;
    }
    entries[at] = std::move(held);
    order[at] = static_cast<std::uint32_t>(at);
  }
}

}  // namespace ovlmount
