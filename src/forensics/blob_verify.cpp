// Why: see blob_verify.hpp. Two passes over the blob keep memory constant and let libarchive do
// all the decoding: the "raw" format yields the uncompressed stream for the diff_id, the tar
// format yields the entries. Only gzip and zstd are enabled, both linked in, so a crafted blob
// can never make libarchive start an external decompressor. The walk of the snapshot dir names
// overlay marks as the tar names them (".wh.x", "d/.wh..wh..opq"), so the comparison is one
// merge of two sorted vectors, as in layer_verify.
#include "ovlmount/forensics/blob_verify.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/forensics/overlay_marks.hpp"
#include "ovlmount/forensics/tar_split.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <cryptopp/sha.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace ovlmount {
namespace {

constexpr std::size_t read_buffer_size = std::size_t{1} << 20;

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

// One tar entry of the blob.
struct BlobEntry {
  std::string path;  // normalized: "etc/passwd"
  mode_t type = 0;   // S_IFMT bits; 0 for a hard link
  std::uint64_t size = 0;
  std::string hardlink;  // normalized target of a hard link
  std::uint64_t symlink_length = 0;
  bool reported = false;
};

std::string beneath(const std::string& dir, std::string_view path) {
  if (path.empty()) return dir;
  return dir + "/" + std::string(path);
}

std::string_view base_name(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string hex_digest(CryptoPP::SHA256& hash) {
  CryptoPP::byte digest[CryptoPP::SHA256::DIGESTSIZE];
  hash.Final(digest);
  return "sha256:" + hex_of(digest, sizeof digest);
}

void hash_update(CryptoPP::SHA256& hash, const void* data, std::size_t size) {
  hash.Update(static_cast<const CryptoPP::byte*>(data), size);
}

// The blob's bytes for libarchive's read callback, hashed and counted as they go by.
class BlobSource {
 public:
  BlobSource(int fd, std::uint64_t total, const VerifyProgress& progress)
      : fd_(fd), total_(total), progress_(progress), buffer_(read_buffer_size) {}

  // Rewinds to the start for another pass.
  bool rewind() {
    done_ = 0;
    read_errno_ = 0;
    reported_end_ = false;
    return ::lseek(fd_, 0, SEEK_SET) == 0;
  }

  // Reads the rest of the blob (what libarchive left after the end of the compressed stream).
  void drain(CryptoPP::SHA256* hash) {
    hash_ = hash;
    const void* ignored = nullptr;
    while (read(&ignored) > 0) {
    }
  }

  ssize_t read(const void** data) {
    ssize_t n = 0;
    do n = ::read(fd_, buffer_.data(), buffer_.size());
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      read_errno_ = errno;
      return -1;
    }
    *data = buffer_.data();
    if (hash_) hash_update(*hash_, buffer_.data(), static_cast<std::size_t>(n));
    done_ += static_cast<std::uint64_t>(n);
    if (n == 0 && progress_ && !reported_end_) progress_(done_, std::max(total_, done_));
    if (n == 0) reported_end_ = true;
    return n;
  }

  void hash_into(CryptoPP::SHA256* hash) { hash_ = hash; }
  int read_errno() const { return read_errno_; }

  static la_ssize_t callback(archive*, void* self, const void** data) {
    return static_cast<BlobSource*>(self)->read(data);
  }

 private:
  int fd_;
  std::uint64_t total_;
  const VerifyProgress& progress_;
  std::vector<char> buffer_;
  CryptoPP::SHA256* hash_ = nullptr;
  std::uint64_t done_ = 0;
  int read_errno_ = 0;
  bool reported_end_ = false;
};

// A reader of the blob with gzip and zstd enabled and `format` ("raw" or "tar").
Result<ArchivePtr> open_archive(BlobSource& source, bool raw, const std::string& blob_path) {
  ArchivePtr a(archive_read_new());
  if (!a) return failure(blob_path, "cannot allocate a libarchive reader");
  if (archive_read_support_filter_gzip(a.get()) != ARCHIVE_OK || archive_read_support_filter_zstd(a.get()) != ARCHIVE_OK ||
      (raw ? archive_read_support_format_raw(a.get()) : archive_read_support_format_tar(a.get())) != ARCHIVE_OK)
    return failure(blob_path, std::string("libarchive: ") + archive_error_string(a.get()));
  if (archive_read_open(a.get(), &source, nullptr, &BlobSource::callback, nullptr) != ARCHIVE_OK)
    return corrupt(blob_path, std::string("cannot read the layer blob: ") + archive_error_string(a.get()));
  return a;
}

Error archive_problem(archive* a, const BlobSource& source, const std::string& blob_path) {
  if (source.read_errno() != 0) return failure(blob_path, "cannot read: " + errno_text(source.read_errno()));
  const char* text = archive_error_string(a);
  return corrupt(blob_path, std::string("cannot read the layer blob: ") + (text ? text : "unknown libarchive error"));
}

// Compares the data of the current entry of `a` with the regular file `fd`; whether all equal.
Result<bool> same_content(archive* a, int fd, const BlobSource& source, const std::string& blob_path,
                          std::vector<char>& buffer) {
  bool same = true;
  while (true) {
    const void* block = nullptr;
    std::size_t size = 0;
    la_int64_t offset = 0;
    const int status = archive_read_data_block(a, &block, &size, &offset);
    if (status == ARCHIVE_EOF) return same;
    if (status < ARCHIVE_WARN) return archive_problem(a, source, blob_path);
    if (!same) continue;
    std::size_t compared = 0;
    while (compared < size) {
      const std::size_t want = std::min(size - compared, buffer.size());
      const ssize_t n = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset) + static_cast<off_t>(compared));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 ||
          std::memcmp(buffer.data(), static_cast<const char*>(block) + compared, static_cast<std::size_t>(n)) != 0) {
        same = false;
        break;
      }
      compared += static_cast<std::size_t>(n);
    }
  }
}

constexpr auto by_path = [](const auto& a, const auto& b) { return a.path < b.path; };

// Sorts by path, keeping the last entry of each path (as unpacking does).
void sort_listed(std::vector<BlobEntry>& listed) {
  std::stable_sort(listed.begin(), listed.end(), by_path);
  std::vector<BlobEntry> unique;
  unique.reserve(listed.size());
  for (auto& entry : listed) {
    if (!unique.empty() && unique.back().path == entry.path)
      unique.back() = std::move(entry);
    else
      unique.push_back(std::move(entry));
  }
  listed = std::move(unique);
}

bool has_listed_descendant(const std::vector<BlobEntry>& listed, const std::string& dir) {
  const std::string prefix = dir + "/";
  const auto next = std::lower_bound(listed.begin(), listed.end(), prefix,
                                     [](const BlobEntry& entry, const std::string& key) { return entry.path < key; });
  return next != listed.end() && next->path.starts_with(prefix);
}

// Whether the disk entry is what the blob lists; the problem when not.
std::optional<std::string> entry_problem(const RootDir& root, const std::string& layer_dir, const BlobEntry& listed,
                                         const LayerDirEntry& disk) {
  if (base_name(listed.path).starts_with(whiteout_prefix)) {
    if (disk.overlay_marker) return std::nullopt;
    return "is a " + file_kind(disk.mode) + ", not an overlay whiteout or opaque dir";
  }
  if (disk.overlay_marker) return "is an overlay mark, the layer blob lists a " + file_kind(listed.type);
  if (!listed.hardlink.empty()) {
    auto target = root.stat(beneath(layer_dir, listed.hardlink));
    auto self = root.stat(beneath(layer_dir, listed.path));
    if (!target || !*target) return "hard link target " + listed.hardlink + " is missing";
    if (!self || !*self || (*self)->ino != (*target)->ino) return "is not a hard link of " + listed.hardlink;
    return std::nullopt;
  }
  if ((disk.mode & S_IFMT) != listed.type)
    return "is a " + file_kind(disk.mode) + ", the layer blob lists a " + file_kind(listed.type);
  if (S_ISREG(listed.type) && disk.size != listed.size)
    return "size " + std::to_string(disk.size) + ", the layer blob says " + std::to_string(listed.size);
  if (S_ISLNK(listed.type) && disk.size != listed.symlink_length)
    return "symlink target of " + std::to_string(disk.size) + " bytes, the layer blob's has " +
           std::to_string(listed.symlink_length);
  return std::nullopt;
}

void compare_names(const RootDir& root, const std::string& layer_dir, std::vector<BlobEntry>& listed,
                   std::vector<LayerDirEntry>& disk, std::vector<FileProblem>& problems) {
  std::sort(disk.begin(), disk.end(), by_path);
  auto on_disk = disk.begin();
  auto in_list = listed.begin();
  while (on_disk != disk.end() || in_list != listed.end()) {
    if (in_list != listed.end() && in_list->path.empty()) {
      ++in_list;
    } else if (in_list == listed.end() || (on_disk != disk.end() && on_disk->path < in_list->path)) {
      const bool implied_parent =
          S_ISDIR(on_disk->mode) && !on_disk->overlay_marker && has_listed_descendant(listed, on_disk->path);
      if (!implied_parent) problems.push_back({on_disk->path, "not in the layer blob"});
      ++on_disk;
    } else if (on_disk == disk.end() || in_list->path < on_disk->path) {
      if (!in_list->reported) problems.push_back({in_list->path, "missing"});
      ++in_list;
    } else {
      if (!in_list->reported)
        if (auto problem = entry_problem(root, layer_dir, *in_list, *on_disk))
          problems.push_back({in_list->path, std::move(*problem)});
      ++on_disk;
      ++in_list;
    }
  }
}

// Pass 1: the blob's digest and the uncompressed stream's digest and size.
Result<void> hash_pass(BlobSource& source, const std::string& blob_path, std::string& blob_digest,
                       LayerVerification& verification) {
  CryptoPP::SHA256 compressed;
  CryptoPP::SHA256 uncompressed;
  source.hash_into(&compressed);
  auto a = open_archive(source, true, blob_path);
  if (!a) return a.error();
  archive_entry* entry = nullptr;
  if (archive_read_next_header(a->get(), &entry) < ARCHIVE_WARN) return archive_problem(a->get(), source, blob_path);
  while (true) {
    const void* block = nullptr;
    std::size_t size = 0;
    la_int64_t offset = 0;
    const int status = archive_read_data_block(a->get(), &block, &size, &offset);
    if (status == ARCHIVE_EOF) break;
    if (status < ARCHIVE_WARN) return archive_problem(a->get(), source, blob_path);
    hash_update(uncompressed, block, size);
    verification.bytes += size;
  }
  source.drain(&compressed);
  if (source.read_errno() != 0) return failure(blob_path, "cannot read: " + errno_text(source.read_errno()));
  source.hash_into(nullptr);
  blob_digest = hex_digest(compressed);
  verification.actual = hex_digest(uncompressed);
  return {};
}

// Pass 2: the tar entries, each regular file's content compared with the snapshot dir's.
Result<std::vector<BlobEntry>> entry_pass(const RootDir& root, const Layer& layer, BlobSource& source,
                                          const std::string& blob_path, LayerVerification& verification) {
  auto a = open_archive(source, false, blob_path);
  if (!a) return a.error();
  std::vector<BlobEntry> listed;
  std::vector<char> buffer(read_buffer_size);
  archive_entry* entry = nullptr;
  while (true) {
    const int status = archive_read_next_header(a->get(), &entry);
    if (status == ARCHIVE_EOF) break;
    if (status < ARCHIVE_WARN) return archive_problem(a->get(), source, blob_path);
    ++verification.entries;
    const char* name = archive_entry_pathname(entry);
    auto path = normalize_tar_name(name ? name : "");
    if (!name || !path) {
      verification.problems.push_back({name ? name : "", "unsafe or unreadable name in the layer blob"});
      continue;
    }
    BlobEntry& listed_entry = listed.emplace_back();
    listed_entry.path = std::move(*path);
    if (const char* link = archive_entry_hardlink(entry)) {
      auto target = normalize_tar_name(link);
      listed_entry.hardlink = target && !target->empty() ? *target : std::string(".");
      continue;
    }
    listed_entry.type = archive_entry_filetype(entry);
    listed_entry.size = static_cast<std::uint64_t>(std::max<la_int64_t>(archive_entry_size(entry), 0));
    if (const char* target = archive_entry_symlink(entry)) listed_entry.symlink_length = std::strlen(target);
    if (!S_ISREG(listed_entry.type) || listed_entry.size == 0 ||
        base_name(listed_entry.path).starts_with(whiteout_prefix))
      continue;
    const std::string relative = beneath(layer.dir, listed_entry.path);
    auto st = root.stat(relative);
    if (!st || !*st || !S_ISREG((*st)->mode) || (*st)->size != listed_entry.size) continue;
    auto fd = root.open_file(relative);
    if (!fd) {
      verification.problems.push_back({listed_entry.path, "cannot read: " + fd.error().problem});
      listed_entry.reported = true;
      continue;
    }
    auto same = same_content(a->get(), fd->get(), source, blob_path, buffer);
    if (!same) return same.error();
    if (!*same) {
      verification.problems.push_back({listed_entry.path, "content differs"});
      listed_entry.reported = true;
    }
  }
  return listed;
}

}  // namespace

Result<LayerVerification> verify_layer_blob(const RootDir& root, const Layer& layer, const VerifyProgress& progress) {
  if (layer.blob.empty()) return not_found(root.absolute(layer.dir), "no layer blob is kept for this layer");
  const std::string blob_path = root.absolute(layer.blob);
  auto blob_stat = root.stat(layer.blob);
  if (!blob_stat) return blob_stat.error();
  if (!*blob_stat) return not_found(blob_path, "the layer blob is missing");
  auto fd = root.open_file(layer.blob);
  if (!fd) return fd.error();
  ::posix_fadvise(fd->get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  BlobSource source(fd->get(), (*blob_stat)->size, progress);

  LayerVerification verification;
  std::string blob_digest;
  if (auto hashed = hash_pass(source, blob_path, blob_digest, verification); !hashed) return hashed.error();
  if (blob_digest != layer.blob_digest)
    verification.problems.push_back(
        {"", "blob digest mismatch: " + blob_path + " hashes to " + blob_digest + ", not " + layer.blob_digest});

  auto layer_dir_kind = root.kind(layer.dir);
  if (!layer_dir_kind || *layer_dir_kind != EntryKind::directory) {
    verification.problems.push_back(
        {"", !layer_dir_kind ? layer_dir_kind.error().problem : "the layer's snapshot dir is missing or no directory"});
    return verification;
  }
  if (!source.rewind()) return failure(blob_path, "cannot seek: " + errno_text(errno));
  auto listed = entry_pass(root, layer, source, blob_path, verification);
  if (!listed) return listed.error();
  source.drain(nullptr);
  sort_listed(*listed);
  auto disk = layer_dir_entries(root, layer.dir, verification.problems);
  compare_names(root, layer.dir, *listed, disk, verification.problems);

  std::stable_sort(verification.problems.begin(), verification.problems.end(), by_path);
  verification.ok = verification.actual == layer.diff_id && verification.problems.empty();
  return verification;
}

}  // namespace ovlmount
