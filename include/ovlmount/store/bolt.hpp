// Why: containerd keeps its image and snapshot records in bbolt files (meta.db, the overlayfs
// snapshotter's metadata.db), and no C or C++ reader exists, so this is a small one of our own
// (format: DESIGN.md 7.1). It reads from a descriptor the caller opened (O_NOATIME, beneath the
// root), with pread only and without any lock: a running containerd holds an exclusive flock,
// and bbolt's own read-only open would wait for it. pread rather than mmap, because the file
// may be truncated or rewritten while we read it: a read past the end comes back short and
// becomes an error, where an mmap would die of SIGBUS. The file is hostile input: every page
// and element is bounds-checked, page types, depth and cycles are checked, and anything
// malformed is a corrupt error naming the file, never a crash or a guess. Nothing here writes.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/fd.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ovlmount {

// How many times BoltFile::consistent() walks before it gives up on a file that keeps changing.
inline constexpr int bolt_consistent_attempts = 5;

// How deep a bucket's tree of pages may be before the file is called corrupt (bbolt trees of
// real files are 1 to 4 levels deep).
inline constexpr int bolt_max_depth = 64;

// The most bytes one page with its overflow pages may span. A walk holds the pages on its path
// (up to bolt_max_depth of them), so this bounds its memory; containerd's and libpod's largest
// values (labels, a container's config) are a few hundred KiB.
inline constexpr std::uint64_t bolt_max_page_span = std::uint64_t{16} << 20;

// How many bytes of pages a BoltFile keeps between lookups of one transaction. Point lookups
// of one command pass through the same branch pages and bucket roots again and again; a few
// MiB hold those for the largest stores, and a listing's walk simply stops adding once full.
inline constexpr std::uint64_t bolt_page_cache_bytes = std::uint64_t{4} << 20;

// A bucket of one committed transaction: where its tree starts. Only meaningful to the
// BoltFile that returned it, and only until that file's next reload(); using it after a reload
// that moved the txid is a failure, not a read of the wrong tree.
struct BoltBucket {
  std::uint64_t txid = 0;       // the transaction it was read from
  std::uint64_t root_page = 0;  // its root page; 0 when the bucket is inline
  std::string inline_page;      // an inline bucket's page image (leaf elements only)
};

// One element of a bucket, as for_each() hands it over: either a plain value or a sub-bucket.
// The views point into a page buffer and are valid only during the callback.
struct BoltItem {
  std::string_view key;
  std::string_view value;            // the raw value; empty for a sub-bucket
  std::optional<BoltBucket> bucket;  // set when the element is a sub-bucket
};

// One element looked up by key, owning its bytes: a plain value or a sub-bucket.
struct BoltEntry {
  std::string value;                 // the raw value; empty for a sub-bucket
  std::optional<BoltBucket> bucket;  // set when the element is a sub-bucket
};

// A read-only bbolt file, read through a descriptor without locks.
class BoltFile {
 public:
  // Takes `fd` (opened read-only by the caller, ideally O_NOATIME|O_CLOEXEC), checks it is a
  // regular file with one link (a second may be a file outside the store) and reads its metas
  // (reload()). `display_name` is what errors name.
  // corrupt when neither meta page is valid; failure when the descriptor cannot be read.
  static Result<BoltFile> open(UniqueFd fd, std::string display_name);

  // corrupt when the file is shorter than the pages of the transaction read last (a torn or
  // truncated copy): a reader by key, which never visits most pages, checks this instead.
  Result<void> check_length() const;

  // Re-reads the file size and both meta pages and takes the valid meta (magic 0xED0CDAED,
  // version 2, FNV-1a-64 checksum, sane pageSize) with the higher txid. Buckets read before
  // are stale afterwards. corrupt when neither meta is valid; failure on a read error.
  Result<void> reload();

  // Calls `walk(const BoltFile&)`, which returns a Result<T>, between two reads of the meta,
  // and returns its result once the txid did not move during the walk; otherwise reloads and
  // walks again, up to bolt_consistent_attempts times, then fails. Contract for `walk`: read
  // through this file only, start from root(), keep no BoltBucket or view past its return, and
  // have no effects that would be wrong to repeat. An error from a walk whose txid did not
  // move is returned as it is (the file really is like that).
  template <class WalkFn>
  std::invoke_result_t<WalkFn&, const BoltFile&> consistent(WalkFn&& walk);

  // Calls `walk(const BoltFile&)` on the transaction read last (by open(), reload() or an
  // earlier call), then re-reads the meta: when the txid did not move, every page the walk read
  // belonged to that transaction and its result is returned; otherwise the file is reloaded and
  // the walk repeated on the new transaction, up to bolt_consistent_attempts times. A series of
  // small lookups through pinned() therefore all read one transaction while the file stands
  // still, without re-reading the meta before each. Same contract for `walk` as consistent(),
  // except that it may start from a BoltBucket it kept whose txid equals txid().
  template <class WalkFn>
  std::invoke_result_t<WalkFn&, const BoltFile&> pinned(WalkFn&& walk);

  // The root bucket of the current transaction (its elements are the top-level buckets).
  BoltBucket root() const;

  // The sub-bucket `name` of `parent`; nullopt when there is no such key, or when the key
  // holds a plain value (as bbolt's Bucket()). corrupt on a damaged page, element or tree.
  Result<std::optional<BoltBucket>> bucket(const BoltBucket& parent, std::string_view name) const;

  // The bucket at `path` below the root, e.g. {"v1", "default", "images"}; nullopt as soon as
  // one name is missing or not a bucket. An empty path is the root.
  Result<std::optional<BoltBucket>> bucket(const std::vector<std::string_view>& path) const;

  // Lookups by key (bucket(), get(), entry()) check every child pointer of each branch page
  // they pass through, so a page pointing back up its own path is corrupt even when the key
  // sought lies elsewhere.

  // The value of `key` in `bucket`; nullopt when there is no such key, or when the key is a
  // sub-bucket (as bbolt's Get()). corrupt on a damaged page, element or tree.
  Result<std::optional<std::string>> get(const BoltBucket& bucket, std::string_view key) const;

  // The element `key` of `bucket`, value or sub-bucket; nullopt when there is no such key.
  // corrupt on a damaged page, element or tree.
  Result<std::optional<BoltEntry>> entry(const BoltBucket& bucket, std::string_view key) const;

  // Calls `visit` for each element of `bucket` in key order; stops at and returns the first
  // error `visit` returns. corrupt on a damaged page, element or tree, or keys out of order.
  // Each call checks its own bucket's tree; a caller that descends into sub-buckets of
  // unknown depth must bound that depth itself (a damaged sub-bucket may point back up).
  Result<void> for_each(const BoltBucket& bucket, const std::function<Result<void>(const BoltItem&)>& visit) const;

  // The transaction the walks see, and the file's page size (from the meta).
  std::uint64_t txid() const { return meta_.txid; }
  std::uint32_t page_size() const { return meta_.page_size; }

  // The file name errors use.
  const std::string& display_name() const { return display_name_; }

 private:
  struct Meta {
    std::uint32_t page_size = 0;
    std::uint64_t root_page = 0;
    std::uint64_t high_water = 0;  // pages at or past this id are not part of the file yet
    std::uint64_t txid = 0;
  };

  struct MetaCandidate;
  struct Page;
  struct Found;
  struct Walker;

  BoltFile(UniqueFd fd, std::string display_name);
  Result<Meta> read_meta() const;
  Result<MetaCandidate> read_meta_at(std::uint64_t offset, std::optional<std::uint32_t> expected_page_size) const;
  Result<std::string> read_at(std::uint64_t offset, std::uint64_t length) const;
  Result<Page> read_page(std::uint64_t page_id) const;
  Result<void> check_current(const BoltBucket& bucket) const;
  Error corrupt_here(std::string problem) const;

  UniqueFd fd_;
  std::string display_name_;
  mutable std::unordered_map<std::uint64_t, std::string> page_cache_;  // pages of meta_.txid, whole
  mutable std::uint64_t page_cache_size_ = 0;
  std::uint64_t file_size_ = 0;
  Meta meta_;
};

template <class WalkFn>
std::invoke_result_t<WalkFn&, const BoltFile&> BoltFile::consistent(WalkFn&& walk) {
  for (int attempt = 0; attempt < bolt_consistent_attempts; ++attempt) {
    if (auto reloaded = reload(); !reloaded) return reloaded.error();
    auto result = walk(std::as_const(*this));
    auto after = read_meta();
    if (!after) return after.error();
    if (after->txid == meta_.txid) return result;
  }
  return failure(display_name_, "kept changing while being read (" + std::to_string(bolt_consistent_attempts) +
                                    " attempts); is containerd committing without pause?");
}

template <class WalkFn>
std::invoke_result_t<WalkFn&, const BoltFile&> BoltFile::pinned(WalkFn&& walk) {
  for (int attempt = 0; attempt < bolt_consistent_attempts; ++attempt) {
    auto result = walk(std::as_const(*this));
    auto after = read_meta();
    if (!after) return after.error();
    if (after->txid == meta_.txid) return result;
    if (auto reloaded = reload(); !reloaded) return reloaded.error();
  }
  return failure(display_name_, "kept changing while being read (" + std::to_string(bolt_consistent_attempts) +
                                    " attempts); is containerd committing without pause?");
}

// Go's encoding/binary Uvarint over all of `bytes` (containerd's snapshot ids); nullopt when
// truncated, longer than 10 bytes, overflowing 64 bits, or followed by extra bytes.
std::optional<std::uint64_t> decode_uvarint(std::string_view bytes);

// Go's encoding/binary Varint (zigzag) over all of `bytes` (containerd's sizes, inode counts,
// image target size, db version); nullopt as decode_uvarint.
std::optional<std::int64_t> decode_varint(std::string_view bytes);

// A Go time.Time as time.MarshalBinary wrote it (containerd's createdat/updatedat).
struct GoTime {
  std::int64_t unix_seconds = 0;    // seconds since 1970-01-01 00:00:00 UTC
  std::int32_t nanoseconds = 0;     // 0 to 999999999
  std::int16_t offset_minutes = 0;  // the zone's offset east of UTC; 0 for UTC
  bool utc = false;                 // the time was in UTC (Go's offset -1 marker)
};

// Decodes the 15 bytes of a version-1 time.MarshalBinary: version byte 1, seconds since year 1
// (int64 big-endian), nanoseconds (int32), zone offset in minutes (int16, -1 for UTC). nullopt
// on another length or version (Go's version 2 carries second offsets; containerd's zones have
// none), nanoseconds out of range, or seconds that do not fit in Unix time.
std::optional<GoTime> decode_go_time(std::string_view bytes);

}  // namespace ovlmount
