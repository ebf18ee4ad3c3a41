// Why: see bolt.hpp. Every read goes through read_page(), which refuses a page before any byte
// of it is trusted: meta pages, ids past the meta's high-water mark or the file's end, a header
// naming another page, overflow past either bound, a type other than branch or leaf, an
// element table longer than the page. Elements are then checked one by one as they are used.
// A walk keeps the ids it has read, so a page reached twice (a cycle, or two parents) is
// corrupt; that also bounds the work to the pages in the file. Pages are read whole into
// memory (at most the file's size) and dropped when the walk leaves them, except that the
// first bolt_page_cache_bytes of pages are kept for the next lookup in the same transaction
// (they cannot change until the txid moves, and reload() drops them when it does).
#include "ovlmount/store/bolt.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <limits>
#include <unordered_set>

namespace ovlmount {

namespace {

constexpr std::uint32_t bolt_magic = 0xED0CDAED;
constexpr std::uint32_t bolt_version = 2;
constexpr std::uint64_t page_header_size = 16;
constexpr std::uint64_t element_size = 16;
constexpr std::uint64_t meta_size = 64;
constexpr std::uint64_t meta_checksummed_size = 56;
constexpr std::uint16_t branch_page_flag = 0x01;
constexpr std::uint16_t leaf_page_flag = 0x02;
constexpr std::uint32_t bucket_leaf_flag = 0x01;
constexpr std::uint64_t bucket_header_size = 16;
constexpr std::uint32_t min_page_size = 512;
constexpr std::uint32_t max_page_size = 64 * 1024;
constexpr std::int64_t go_seconds_before_unix_epoch = 62135596800;
constexpr std::size_t go_time_v1_size = 15;
constexpr std::size_t max_varint_size = 10;

std::uint64_t load_le(std::string_view bytes, std::uint64_t offset, int width) {
  std::uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i)
    value = value << 8 | static_cast<unsigned char>(bytes[offset + static_cast<std::uint64_t>(i)]);
  return value;
}
std::uint16_t u16_at(std::string_view bytes, std::uint64_t offset) {
  return static_cast<std::uint16_t>(load_le(bytes, offset, 2));
}
std::uint32_t u32_at(std::string_view bytes, std::uint64_t offset) {
  return static_cast<std::uint32_t>(load_le(bytes, offset, 4));
}
std::uint64_t u64_at(std::string_view bytes, std::uint64_t offset) { return load_le(bytes, offset, 8); }

std::uint64_t load_be(std::string_view bytes, std::size_t offset, std::size_t width) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) value = value << 8 | static_cast<unsigned char>(bytes[offset + i]);
  return value;
}

std::uint64_t fnv1a_64(std::string_view bytes) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char byte : bytes) {
    hash ^= static_cast<unsigned char>(byte);
    hash *= 1099511628211ULL;
  }
  return hash;
}

std::string hex(std::uint64_t value) {
  char text[19];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

bool is_power_of_two(std::uint32_t value) { return value != 0 && (value & (value - 1)) == 0; }

struct BranchElement {
  std::string_view key;
  std::uint64_t child = 0;
};

struct LeafElement {
  std::uint32_t flags = 0;
  std::string_view key;
  std::string_view value;
};

// Header and element-table checks shared by file pages and inline pages; the problem, if any.
std::optional<std::string> check_page_shape(const std::string& label, std::uint16_t flags, std::uint16_t count,
                                            std::uint64_t size) {
  if (flags != branch_page_flag && flags != leaf_page_flag)
    return label + " is neither a branch nor a leaf (flags " + hex(flags) + ")";
  if (flags == branch_page_flag && count == 0) return label + " is a branch without elements";
  if (page_header_size + count * element_size > size)
    return label + " has " + std::to_string(count) + " elements, more than fit in its " + std::to_string(size) +
           " bytes";
  return std::nullopt;
}

}  // namespace

struct BoltFile::MetaCandidate {
  std::optional<std::uint32_t> page_size;  // set when the meta is valid
  std::uint64_t root_page = 0;
  std::uint64_t high_water = 0;
  std::uint64_t txid = 0;
  bool has_magic = false;
  std::string why_invalid;
};

struct BoltFile::Page {
  std::uint64_t id = 0;
  bool is_inline = false;
  std::uint16_t flags = 0;
  std::uint16_t count = 0;
  std::string bytes;

  std::string label() const { return is_inline ? std::string("inline bucket page") : "page " + std::to_string(id); }
  bool is_leaf() const { return flags == leaf_page_flag; }

  std::optional<std::string> element_problem(std::uint16_t index, std::uint64_t pos, std::uint64_t length) const {
    const std::uint64_t element_at = page_header_size + index * element_size;
    if (pos > bytes.size() || length > bytes.size() || element_at + pos + length > bytes.size())
      return label() + ": element " + std::to_string(index) + " runs past the end of the page (position " +
             std::to_string(pos) + ", " + std::to_string(length) + " bytes, page of " + std::to_string(bytes.size()) +
             " bytes)";
    return std::nullopt;
  }

  std::string_view element_bytes(std::uint16_t index, std::uint64_t pos, std::uint64_t length) const {
    return std::string_view(bytes).substr(page_header_size + index * element_size + pos, length);
  }

  std::optional<std::string> branch_element(std::uint16_t index, BranchElement& element) const {
    const std::uint64_t element_at = page_header_size + index * element_size;
    const std::uint32_t pos = u32_at(bytes, element_at);
    const std::uint32_t key_size = u32_at(bytes, element_at + 4);
    if (auto problem = element_problem(index, pos, key_size)) return problem;
    element.key = element_bytes(index, pos, key_size);
    element.child = u64_at(bytes, element_at + 8);
    return std::nullopt;
  }

  std::optional<std::string> leaf_element(std::uint16_t index, LeafElement& element) const {
    const std::uint64_t element_at = page_header_size + index * element_size;
    element.flags = u32_at(bytes, element_at);
    const std::uint32_t pos = u32_at(bytes, element_at + 4);
    const std::uint32_t key_size = u32_at(bytes, element_at + 8);
    const std::uint32_t value_size = u32_at(bytes, element_at + 12);
    if (auto problem = element_problem(index, pos, std::uint64_t{key_size} + value_size)) return problem;
    element.key = element_bytes(index, pos, key_size);
    element.value = element_bytes(index, std::uint64_t{pos} + key_size, value_size);
    return std::nullopt;
  }
};

struct BoltFile::Found {
  std::uint32_t flags = 0;
  std::string value;
};

// One walk down one bucket's tree: remembers the pages it read, so a page reached twice is
// refused, and how deep it went.
struct BoltFile::Walker {
  const BoltFile& file;
  std::unordered_set<std::uint64_t> visited;

  Result<Page> root_page(const BoltBucket& bucket) {
    if (bucket.root_page != 0) return child_page(bucket.root_page, 0);
    Page page;
    page.is_inline = true;
    page.bytes = bucket.inline_page;
    if (page.bytes.size() < page_header_size)
      return file.corrupt_here("inline bucket page of " + std::to_string(page.bytes.size()) +
                               " bytes, shorter than a page header");
    page.flags = u16_at(page.bytes, 8);
    page.count = u16_at(page.bytes, 10);
    if (auto problem = check_page_shape(page.label(), page.flags, page.count, page.bytes.size()))
      return file.corrupt_here(std::move(*problem));
    if (!page.is_leaf()) return file.corrupt_here("inline bucket page is not a leaf");
    return page;
  }

  Result<Page> child_page(std::uint64_t page_id, int depth) {
    if (depth > bolt_max_depth)
      return file.corrupt_here("tree deeper than " + std::to_string(bolt_max_depth) + " levels at page " +
                               std::to_string(page_id));
    if (!visited.insert(page_id).second)
      return file.corrupt_here("page " + std::to_string(page_id) + " is reached twice in one tree (a cycle?)");
    return file.read_page(page_id);
  }

  Result<BoltBucket> sub_bucket(std::string_view value, const std::string& where) const {
    if (value.size() < bucket_header_size)
      return file.corrupt_here(where + ": sub-bucket value of " + std::to_string(value.size()) +
                               " bytes, shorter than a bucket header");
    BoltBucket bucket{.txid = file.meta_.txid, .root_page = u64_at(value, 0), .inline_page = {}};
    if (bucket.root_page == 0) bucket.inline_page = std::string(value.substr(bucket_header_size));
    return bucket;
  }

  Result<std::optional<Found>> find(const BoltBucket& bucket, std::string_view key) {
    auto page = root_page(bucket);
    if (!page) return page.error();
    for (int depth = 1; !page->is_leaf(); ++depth) {
      BranchElement chosen;
      bool passed = false;
      for (std::uint16_t index = 0; index < page->count; ++index) {
        BranchElement element;
        if (auto problem = page->branch_element(index, element)) return file.corrupt_here(std::move(*problem));
        if (visited.contains(element.child))
          return file.corrupt_here("page " + std::to_string(element.child) + " is reached twice in one tree (a cycle?)");
        if (index > 0 && element.key > key) passed = true;
        if (!passed) chosen = element;
      }
      page = child_page(chosen.child, depth);
      if (!page) return page.error();
    }
    for (std::uint16_t index = 0; index < page->count; ++index) {
      LeafElement element;
      if (auto problem = page->leaf_element(index, element)) return file.corrupt_here(std::move(*problem));
      if (element.key == key) return Found{.flags = element.flags, .value = std::string(element.value)};
    }
    return std::nullopt;
  }

  // Walks `page` in key order. Its keys must lie in [lower, upper), the range find() routes to
  // it through the branch keys above (none: unbounded), so every key a walk shows, find() finds.
  Result<void> visit(const Page& page, int depth, std::optional<std::string>& previous_key,
                     const std::function<Result<void>(const BoltItem&)>& visitor,
                     std::optional<std::string_view> lower = std::nullopt,
                     std::optional<std::string_view> upper = std::nullopt) {
    for (std::uint16_t index = 0; index < page.count; ++index) {
      if (!page.is_leaf()) {
        BranchElement element;
        if (auto problem = page.branch_element(index, element)) return file.corrupt_here(std::move(*problem));
        std::optional<std::string_view> next_key = upper;
        if (index + 1 < page.count) {
          BranchElement next;
          if (auto problem = page.branch_element(static_cast<std::uint16_t>(index + 1), next))
            return file.corrupt_here(std::move(*problem));
          if (next.key <= element.key)
            return file.corrupt_here(page.label() + ": branch keys out of order at element " + std::to_string(index + 1));
          next_key = next.key;
        }
        auto child = child_page(element.child, depth + 1);
        if (!child) return child.error();
        const std::optional<std::string_view> child_lower = index == 0 ? lower : std::optional(element.key);
        if (auto visited_child = visit(*child, depth + 1, previous_key, visitor, child_lower, next_key); !visited_child)
          return visited_child.error();
        continue;
      }
      LeafElement element;
      if (auto problem = page.leaf_element(index, element)) return file.corrupt_here(std::move(*problem));
      if (previous_key && element.key <= *previous_key)
        return file.corrupt_here(page.label() + ": keys out of order at element " + std::to_string(index));
      if ((lower && element.key < *lower) || (upper && element.key >= *upper))
        return file.corrupt_here(page.label() + ": key at element " + std::to_string(index) +
                                 " is outside the range its parent's branch keys give the page");
      previous_key = std::string(element.key);
      BoltItem item{.key = element.key, .value = {}, .bucket = std::nullopt};
      if (element.flags & bucket_leaf_flag) {
        auto bucket = sub_bucket(element.value, page.label());
        if (!bucket) return bucket.error();
        item.bucket = std::move(*bucket);
      } else {
        item.value = element.value;
      }
      if (auto visited_item = visitor(item); !visited_item) return visited_item.error();
    }
    return {};
  }
};

Error BoltFile::corrupt_here(std::string problem) const { return corrupt(display_name_, std::move(problem)); }

BoltFile::BoltFile(UniqueFd fd, std::string display_name)
    : fd_(std::move(fd)), display_name_(std::move(display_name)) {}

Result<BoltFile> BoltFile::open(UniqueFd fd, std::string display_name) {
  BoltFile file(std::move(fd), std::move(display_name));
  struct stat status {};
  if (::fstat(file.fd_.get(), &status) != 0) return failure(file.display_name_, "fstat: " + errno_text(errno));
  if (!S_ISREG(status.st_mode)) return file.corrupt_here("not a regular file");
  if (status.st_nlink > 1)
    return file.corrupt_here("metadata file has " + std::to_string(status.st_nlink) + " hard links");
  if (auto reloaded = file.reload(); !reloaded) return reloaded.error();
  return file;
}

Result<void> BoltFile::check_length() const {
  const std::uint64_t needed = meta_.high_water * meta_.page_size;
  if (needed <= file_size_) return {};
  struct stat status {};
  if (::fstat(fd_.get(), &status) != 0) return failure(display_name_, "fstat: " + errno_text(errno));
  if (needed <= static_cast<std::uint64_t>(status.st_size)) return {};
  return corrupt_here("page " + std::to_string(meta_.high_water - 1) + " is past the end of the file (" +
                      std::to_string(status.st_size) + " bytes; torn or truncated?)");
}

Result<void> BoltFile::reload() {
  struct stat status {};
  if (::fstat(fd_.get(), &status) != 0) return failure(display_name_, "fstat: " + errno_text(errno));
  file_size_ = static_cast<std::uint64_t>(status.st_size);
  auto meta = read_meta();
  if (!meta) return meta.error();
  if (meta->txid != meta_.txid || meta->page_size != meta_.page_size) {
    page_cache_.clear();
    page_cache_size_ = 0;
  }
  meta_ = *meta;
  return {};
}

Result<std::string> BoltFile::read_at(std::uint64_t offset, std::uint64_t length) const {
  if (offset > file_size_ || length > file_size_ - offset)
    return corrupt_here("read of " + std::to_string(length) + " bytes at " + std::to_string(offset) +
                        " past the end of the file (" + std::to_string(file_size_) + " bytes)");
  std::string bytes(length, '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t got = ::pread(fd_.get(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return failure(display_name_, "read: " + errno_text(errno));
    if (got == 0)
      return corrupt_here("file ends at byte " + std::to_string(offset + done) + ", short of the " +
                          std::to_string(file_size_) + " bytes it had (truncated while being read?)");
    done += static_cast<std::size_t>(got);
  }
  return bytes;
}

Result<BoltFile::MetaCandidate> BoltFile::read_meta_at(std::uint64_t offset,
                                                       std::optional<std::uint32_t> expected_page_size) const {
  MetaCandidate candidate;
  if (offset + page_header_size + meta_size > file_size_) {
    candidate.why_invalid = "file too short (" + std::to_string(file_size_) + " bytes)";
    return candidate;
  }
  auto bytes = read_at(offset, page_header_size + meta_size);
  if (!bytes) return bytes.error();
  const std::string_view meta = std::string_view(*bytes).substr(page_header_size);
  const std::uint32_t magic = u32_at(meta, 0);
  const std::uint32_t version = u32_at(meta, 4);
  const std::uint32_t page_size = u32_at(meta, 8);
  candidate.has_magic = magic == bolt_magic;
  if (!candidate.has_magic) {
    candidate.why_invalid = "bad magic " + hex(magic);
  } else if (version != bolt_version) {
    candidate.why_invalid = "version " + std::to_string(version) + ", not 2";
  } else if (u64_at(meta, meta_checksummed_size) != fnv1a_64(meta.substr(0, meta_checksummed_size))) {
    candidate.why_invalid = "checksum mismatch";
  } else if (!is_power_of_two(page_size) || page_size < min_page_size || page_size > max_page_size) {
    candidate.why_invalid = "page size " + std::to_string(page_size) + " is not a power of two from " +
                            std::to_string(min_page_size) + " to " + std::to_string(max_page_size);
  } else if (expected_page_size && page_size != *expected_page_size) {
    candidate.why_invalid =
        "page size " + std::to_string(page_size) + " does not match its offset " + std::to_string(*expected_page_size);
  } else {
    candidate.page_size = page_size;
    candidate.root_page = u64_at(meta, 16);
    candidate.high_water = u64_at(meta, 40);
    candidate.txid = u64_at(meta, 48);
  }
  return candidate;
}

Result<BoltFile::Meta> BoltFile::read_meta() const {
  auto first = read_meta_at(0, std::nullopt);
  if (!first) return first.error();
  MetaCandidate second;
  if (first->page_size) {
    auto found = read_meta_at(*first->page_size, first->page_size);
    if (!found) return found.error();
    second = std::move(*found);
  } else {
    second.why_invalid =
        "no valid meta at any page size from " + std::to_string(min_page_size) + " to " + std::to_string(max_page_size);
    for (std::uint32_t guess = min_page_size; guess <= max_page_size; guess *= 2) {
      auto found = read_meta_at(guess, guess);
      if (!found) return found.error();
      if (found->page_size) {
        second = std::move(*found);
        break;
      }
      if (found->has_magic) second.why_invalid += " (at " + std::to_string(guess) + ": " + found->why_invalid + ")";
    }
  }
  const MetaCandidate* chosen = nullptr;
  if (first->page_size && second.page_size)
    chosen = second.txid > first->txid ? &second : &*first;
  else if (first->page_size)
    chosen = &*first;
  else if (second.page_size)
    chosen = &second;
  else
    return corrupt_here("no valid meta page (page 0: " + first->why_invalid + "; page 1: " + second.why_invalid + ")");
  return Meta{.page_size = *chosen->page_size,
              .root_page = chosen->root_page,
              .high_water = chosen->high_water,
              .txid = chosen->txid};
}

Result<BoltFile::Page> BoltFile::read_page(std::uint64_t page_id) const {
  const std::string label = "page " + std::to_string(page_id);
  const std::uint64_t page_size = meta_.page_size;
  const std::uint64_t pages_in_file = file_size_ / page_size;
  if (page_id < 2) return corrupt_here(label + " is a meta page, not part of a tree");
  if (page_id >= meta_.high_water)
    return corrupt_here(label + " is past the last page (" + std::to_string(meta_.high_water - 1) +
                        ") of transaction " + std::to_string(meta_.txid));
  if (page_id >= pages_in_file)
    return corrupt_here(label + " is past the end of the file (" + std::to_string(file_size_) + " bytes)");
  if (const auto cached = page_cache_.find(page_id); cached != page_cache_.end()) {
    Page page;
    page.id = page_id;
    page.flags = u16_at(cached->second, 8);
    page.count = u16_at(cached->second, 10);
    page.bytes = cached->second;
    return page;
  }
  auto first = read_at(page_id * page_size, page_size);
  if (!first) return first.error();
  const std::string_view header = *first;
  if (const std::uint64_t stated_id = u64_at(header, 0); stated_id != page_id)
    return corrupt_here(label + " says it is page " + std::to_string(stated_id));
  Page page;
  page.id = page_id;
  page.flags = u16_at(header, 8);
  page.count = u16_at(header, 10);
  const std::uint64_t overflow = u32_at(header, 12);
  const std::uint64_t span_pages = 1 + overflow;
  if (span_pages > meta_.high_water - page_id)
    return corrupt_here(label + " overflows by " + std::to_string(overflow) + " pages, past the last page (" +
                        std::to_string(meta_.high_water - 1) + ")");
  if (span_pages > pages_in_file - page_id)
    return corrupt_here(label + " overflows by " + std::to_string(overflow) + " pages, past the end of the file (" +
                        std::to_string(file_size_) + " bytes)");
  if (span_pages * page_size > bolt_max_page_span)
    return corrupt_here(label + " overflows by " + std::to_string(overflow) + " pages, more than the " +
                        std::to_string(bolt_max_page_span) + " bytes a page may span");
  if (auto problem = check_page_shape(label, page.flags, page.count, span_pages * page_size))
    return corrupt_here(std::move(*problem));
  page.bytes = std::move(*first);
  if (span_pages > 1) {
    auto rest = read_at((page_id + 1) * page_size, (span_pages - 1) * page_size);
    if (!rest) return rest.error();
    page.bytes += *rest;
  }
  if (page_cache_size_ + page.bytes.size() <= bolt_page_cache_bytes) {
    page_cache_.emplace(page_id, page.bytes);
    page_cache_size_ += page.bytes.size();
  }
  return page;
}

Result<void> BoltFile::check_current(const BoltBucket& bucket) const {
  if (bucket.txid != meta_.txid)
    return failure(display_name_, "a bucket read in transaction " + std::to_string(bucket.txid) +
                                      " was used after reloading transaction " + std::to_string(meta_.txid));
  return {};
}

BoltBucket BoltFile::root() const {
  return BoltBucket{.txid = meta_.txid, .root_page = meta_.root_page, .inline_page = {}};
}

Result<std::optional<BoltBucket>> BoltFile::bucket(const BoltBucket& parent, std::string_view name) const {
  if (auto current = check_current(parent); !current) return current.error();
  Walker walker{.file = *this, .visited = {}};
  auto found = walker.find(parent, name);
  if (!found) return found.error();
  if (!*found || !((*found)->flags & bucket_leaf_flag)) return std::nullopt;
  auto child = walker.sub_bucket((*found)->value, "bucket " + std::string(name));
  if (!child) return child.error();
  return std::move(*child);
}

Result<std::optional<BoltBucket>> BoltFile::bucket(const std::vector<std::string_view>& path) const {
  BoltBucket current = root();
  for (const std::string_view name : path) {
    auto next = bucket(current, name);
    if (!next) return next.error();
    if (!*next) return std::nullopt;
    current = std::move(**next);
  }
  return current;
}

Result<std::optional<std::string>> BoltFile::get(const BoltBucket& bucket, std::string_view key) const {
  if (auto current = check_current(bucket); !current) return current.error();
  Walker walker{.file = *this, .visited = {}};
  auto found = walker.find(bucket, key);
  if (!found) return found.error();
  if (!*found || ((*found)->flags & bucket_leaf_flag)) return std::nullopt;
  return std::move((*found)->value);
}

Result<std::optional<BoltEntry>> BoltFile::entry(const BoltBucket& bucket, std::string_view key) const {
  if (auto current = check_current(bucket); !current) return current.error();
  Walker walker{.file = *this, .visited = {}};
  auto found = walker.find(bucket, key);
  if (!found) return found.error();
  if (!*found) return std::nullopt;
  BoltEntry result;
  if ((*found)->flags & bucket_leaf_flag) {
    auto child = walker.sub_bucket((*found)->value, "bucket " + std::string(key));
    if (!child) return child.error();
    result.bucket = std::move(*child);
  } else {
    result.value = std::move((*found)->value);
  }
  return result;
}

Result<void> BoltFile::for_each(const BoltBucket& bucket,
                                const std::function<Result<void>(const BoltItem&)>& visit) const {
  if (auto current = check_current(bucket); !current) return current.error();
  Walker walker{.file = *this, .visited = {}};
  auto page = walker.root_page(bucket);
  if (!page) return page.error();
  std::optional<std::string> previous_key;
  return walker.visit(*page, 0, previous_key, visit);
}

std::optional<std::uint64_t> decode_uvarint(std::string_view bytes) {
  std::uint64_t value = 0;
  for (std::size_t index = 0; index < bytes.size() && index < max_varint_size; ++index) {
    const auto byte = static_cast<unsigned char>(bytes[index]);
    if (byte < 0x80) {
      if (index == max_varint_size - 1 && byte > 1) return std::nullopt;
      if (index + 1 != bytes.size()) return std::nullopt;
      return value | std::uint64_t{byte} << (7 * index);
    }
    value |= std::uint64_t{byte & 0x7fu} << (7 * index);
  }
  return std::nullopt;
}

std::optional<std::int64_t> decode_varint(std::string_view bytes) {
  const auto zigzag = decode_uvarint(bytes);
  if (!zigzag) return std::nullopt;
  const auto magnitude = static_cast<std::int64_t>(*zigzag >> 1);
  return (*zigzag & 1) ? ~magnitude : magnitude;
}

std::optional<GoTime> decode_go_time(std::string_view bytes) {
  if (bytes.size() != go_time_v1_size || bytes[0] != 1) return std::nullopt;
  const auto go_seconds = static_cast<std::int64_t>(load_be(bytes, 1, 8));
  const auto nanoseconds = static_cast<std::int32_t>(static_cast<std::uint32_t>(load_be(bytes, 9, 4)));
  const auto offset_minutes = static_cast<std::int16_t>(static_cast<std::uint16_t>(load_be(bytes, 13, 2)));
  if (nanoseconds < 0 || nanoseconds > 999'999'999) return std::nullopt;
  if (go_seconds < std::numeric_limits<std::int64_t>::min() + go_seconds_before_unix_epoch) return std::nullopt;
  GoTime time;
  time.unix_seconds = go_seconds - go_seconds_before_unix_epoch;
  time.nanoseconds = nanoseconds;
  time.utc = offset_minutes == -1;
  time.offset_minutes = time.utc ? std::int16_t{0} : offset_minutes;
  return time;
}

}  // namespace ovlmount
