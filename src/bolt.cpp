// Why: see bolt.hpp. Every read goes through read_page(), which refuses a page before any byte
// of it is trusted: meta pages, ids past the meta's high-water mark or the file's end, a header
// naming another page, overflow past either bound, a type other than branch or leaf, an
// element table longer than the page. Elements are then checked one by one as they are used.
// A walk keeps the ids it has read, so a page reached twice (a cycle, or two parents) is
// corrupt; that also bounds the work to the pages in the file. Pages are read whole into
// memory (at most the file's size) and dropped when the walk leaves them.
#include "ovlmount/bolt.hpp"

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

}  // namespace

struct BoltFile::Page {
  std::uint64_t id = 0;  // 0 for an inline bucket's page
  bool is_inline = false;
  std::uint16_t flags = 0;
  std::uint16_t count = 0;
  std::string bytes;  // the whole page, header included

  std::string label() const { return is_inline ? std::string("inline bucket page") : "page " + std::to_string(id); }
  bool is_leaf() const { return flags == leaf_page_flag; }

  std::string element_label(std::uint16_t index) const {
    return label() + ": element " + std::to_string(index);
  }

  std::optional<std::string> check_element_span(std::uint16_t index, std::uint64_t pos, std::uint64_t length) const {
    const std::uint64_t element_at = page_header_size + index * element_size;
    if (element_at + pos + length > bytes.size())
      return element_label(index) + " runs past the end of the page (position " + std::to_string(pos) + ", " +
             std::to_string(length) + " bytes, page " + std::to_string(bytes.size()) + " bytes)";
    return std::nullopt;
  }

  std::string_view span(std::uint16_t index, std::uint64_t pos, std::uint64_t length) const {
    const std::uint64_t element_at = page_header_size + index * element_size;
    return std::string_view(bytes).substr(element_at + pos, length);
  }
};

struct BoltFile::Found {
  std::uint32_t flags = 0;
  std::string value;
};

namespace {

using PageOrProblem = std::optional<std::string>;

// Header and element-table checks shared by file pages and inline pages.
PageOrProblem check_page_shape(const std::string& label, std::uint16_t flags, std::uint16_t count, std::size_t size) {
  if (flags != branch_page_flag && flags != leaf_page_flag)
    return label + " is neither a branch nor a leaf (flags " + hex(flags) + ")";
  if (flags == branch_page_flag && count == 0) return label + " is a branch without elements";
  if (page_header_size + count * element_size > size)
    return label + " has " + std::to_string(count) + " elements, more than fit in its " + std::to_string(size) +
           " bytes";
  return std::nullopt;
}

}  // namespace

Error BoltFile::corrupt_here(std::string problem) const { return corrupt(display_name_, std::move(problem)); }

BoltFile::BoltFile(UniqueFd fd, std::string display_name) : fd_(std::move(fd)), display_name_(std::move(display_name)) {}

Result<BoltFile> BoltFile::open(UniqueFd fd, std::string display_name) {
  BoltFile file(std::move(fd), std::move(display_name));
  struct stat status {};
  if (::fstat(file.fd_.get(), &status) != 0) return failure(file.display_name_, "fstat: " + errno_text(errno));
  if (!S_ISREG(status.st_mode)) return file.corrupt_here("not a regular file");
  if (auto reloaded = file.reload(); !reloaded) return reloaded.error();
  return file;
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
      return corrupt_here("file ends at byte " + std::to_string(offset + done) + ", before the " +
                          std::to_string(file_size_) + " bytes it had (truncated while being read?)");
    done += static_cast<std::size_t>(got);
  }
  return bytes;
}

struct MetaCandidate {
  std::optional<std::uint32_t> page_size;
  std::uint64_t root_page = 0;
  std::uint64_t high_water = 0;
  std::uint64_t txid = 0;
  std::string why_invalid;
};

namespace {

// Checks the meta struct of the page at the start of `page`; `expected_page_size` is the page
// size a meta found at this offset must state (meta 1 sits one page in).
MetaCandidate parse_meta(std::string_view page, std::optional<std::uint32_t> expected_page_size) {
  MetaCandidate candidate;
  const std::string_view meta = page.substr(page_header_size, meta_size);
  const std::uint32_t magic = u32_at(meta, 0);
  const std::uint32_t version = u32_at(meta, 4);
  const std::uint32_t page_size = u32_at(meta, 8);
  if (magic != bolt_magic) {
    candidate.why_invalid = "bad magic " + hex(magic);
  } else if (version != bolt_version) {
    candidate.why_invalid = "version " + std::to_string(version) + ", not 2";
  } else if (u64_at(meta, meta_checksummed_size) != fnv1a_64(meta.substr(0, meta_checksummed_size))) {
    candidate.why_invalid = "checksum mismatch";
  } else if (!is_power_of_two(page_size) || page_size < min_page_size || page_size > max_page_size) {
    candidate.why_invalid = "page size " + std::to_string(page_size) + " is not a power of two from " +
                            std::to_string(min_page_size) + " to " + std::to_string(max_page_size);
  } else if (expected_page_size && page_size != *expected_page_size) {
    candidate.why_invalid = "page size " + std::to_string(page_size) + " does not match its offset " +
                            std::to_string(*expected_page_size);
  } else {
    candidate.page_size = page_size;
    candidate.root_page = u64_at(meta, 16);
    candidate.high_water = u64_at(meta, 40);
    candidate.txid = u64_at(meta, 48);
  }
  return candidate;
}

}  // namespace

Result<MetaCandidate> BoltFile::read_meta_at(std::uint64_t offset, std::optional<std::uint32_t> expected_page_size) const {
  if (offset + page_header_size + meta_size > file_size_)
    return MetaCandidate{.why_invalid = "file too short (" + std::to_string(file_size_) + " bytes)"};
  auto bytes = read_at(offset, page_header_size + meta_size);
  if (!bytes) return bytes.error();
  return parse_meta(*bytes, expected_page_size);
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
    second.why_invalid = "no valid meta at any page size from " + std::to_string(min_page_size) + " to " +
                         std::to_string(max_page_size);
    for (std::uint32_t guess = min_page_size; guess <= max_page_size; guess *= 2) {
      auto found = read_meta_at(guess, guess);
      if (!found) return found.error();
      if (found->page_size) {
        second = std::move(*found);
        break;
      }
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

Result<void> BoltFile::reload() {
  struct stat status {};
  if (::fstat(fd_.get(), &status) != 0) return failure(display_name_, "fstat: " + errno_text(errno));
  file_size_ = static_cast<std::uint64_t>(status.st_size);
  auto meta = read_meta();
  if (!meta) return meta.error();
  meta_ = *meta;
  return {};
}

Result<BoltFile::Page> BoltFile::read_page(std::uint64_t page_id) const {
  const std::string label = "page " + std::to_string(page_id);
  const std::uint64_t page_size = meta_.page_size;
  if (page_id < 2) return corrupt_here(label + " is a meta page, not part of a tree");
  if (page_id >= meta_.high_water)
    return corrupt_here(label + " is past the last page (" + std::to_string(meta_.high_water - 1) + ") of transaction " +
                        std::to_string(meta_.txid));
  if (page_id >= file_size_ / page_size)
    return corrupt_here(label + " is past the end of the file (" + std::to_string(file_size_) + " bytes)");
  auto header = read_at(page_id * page_size, page_header_size);
  if (!header) return header.error();
  Page page;
  page.id = page_id;
  page.flags = u16_at(*header, 8);
  page.count = u16_at(*header, 10);
  const std::uint64_t overflow = u32_at(*header, 12);
  if (const std::uint64_t stated_id = u64_at(*header, 0); stated_id != page_id)
    return corrupt_here(label + " says it is page " + std::to_string(stated_id));
  const std::uint64_t span_pages = 1 + overflow;
  if (span_pages > meta_.high_water - page_id)
    return corrupt_here(label + " overflows by " + std::to_string(overflow) + " pages, past the last page (" +
                        std::to_string(meta_.high_water - 1) + ")");
  if (span_pages > file_size_ / page_size - page_id)
    return corrupt_here(label + " overflows by " + std::to_string(overflow) + " pages, past the end of the file (" +
                        std::to_string(file_size_) + " bytes)");
  if (auto problem = check_page_shape(label, page.flags, page.count, span_pages * page_size))
    return corrupt_here(std::move(*problem));
  auto bytes = read_at(page_id * page_size, span_pages * page_size);
  if (!bytes) return bytes.error();
  page.bytes = std::move(*bytes);
  return page;
}

namespace {

std::optional<std::string> read_branch_element(const BoltFile::Page& page, std::uint16_t index, BranchElement& out);

}  // namespace

Result<void> BoltFile::check_current(const BoltBucket& bucket) const {
  if (bucket.txid != meta_.txid)
    return failure(display_name_, "a bucket read in transaction " + std::to_string(bucket.txid) +
                                      " was used after reloading transaction " + std::to_string(meta_.txid));
  return {};
}

BoltBucket BoltFile::root() const { return BoltBucket{.txid = meta_.txid, .root_page = meta_.root_page, .inline_page = {}}; }

}  // namespace ovlmount
