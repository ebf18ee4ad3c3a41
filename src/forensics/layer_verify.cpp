// Why: see layer_verify.hpp. The digest pass is the proof; everything else only names what
// differs. A file that cannot be read as tar-split describes it (missing, wrong size, not a
// regular file) is recorded and contributes only the bytes it has, up to the recorded size (a
// crafted tar-split claiming a terabyte for a missing file costs nothing), so one bad file
// never stops the check and the rebuilt stream is the same on every run. CRC64s are computed only after a mismatch:
// the common, untouched layer is read once. Names are compared as sorted vectors, so a layer
// of 100k files costs two sorts, not a tree of nodes.
#include "ovlmount/forensics/layer_verify.hpp"

#include "ovlmount/forensics/overlay_marks.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/forensics/tar_split.hpp"

#include <cryptopp/sha.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace ovlmount {
namespace {

constexpr std::size_t read_buffer_size = std::size_t{1} << 20;
constexpr std::uint64_t progress_step = std::uint64_t{8} << 20;

// One tar entry tar-split lists.
struct ListedEntry {
  std::string path;  // normalized: "etc/passwd"
  std::uint64_t size = 0;
  std::optional<std::uint64_t> crc64;
  std::optional<char> typeflag;
  bool reported = false;      // a problem about it is already recorded
  bool listed_twice = false;  // the path occurs more than once in tar-split
};

std::string beneath(const std::string& dir, std::string_view path) {
  if (path.empty()) return dir;
  return dir + "/" + std::string(path);
}

std::string child_path(const std::string& dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  return dir + "/" + std::string(name);
}

std::string_view base_name(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The file type a tar typeflag unpacks to; nullopt for a hard link (it takes its target's
// type) and for flags that name no file type.
std::optional<mode_t> unpacked_type(char typeflag) {
  switch (typeflag) {
    case '0':
    case '\0':
    case '7': return S_IFREG;
    case '2': return S_IFLNK;
    case '3': return S_IFCHR;
    case '4': return S_IFBLK;
    case '5': return S_IFDIR;
    case '6': return S_IFIFO;
    default: return std::nullopt;
  }
}

std::string size_problem(std::uint64_t actual, std::uint64_t recorded) {
  return "size " + std::to_string(actual) + ", tar-split says " + std::to_string(recorded);
}

std::uint64_t progress_total(const Layer& layer, std::uint64_t done) {
  if (layer.size < 0) return 0;
  return std::max(static_cast<std::uint64_t>(layer.size), done);
}

// Why `relative` (which tar-split lists as a regular file of `size` bytes) could not be opened.
std::string unopenable_problem(const RootDir& root, const std::string& relative, const Error& open_error,
                               std::uint64_t size) {
  auto st = root.stat(relative);
  if (st && !*st) return "missing";
  if (st && !S_ISREG((*st)->mode))
    return "is a " + file_kind((*st)->mode) + ", tar-split lists a regular file of " + std::to_string(size) + " bytes";
  return "cannot read: " + open_error.problem;
}

// Reads file after file from the diff dir into one handler, in large sequential reads.
class FileReader {
 public:
  explicit FileReader(const RootDir& root) : root_(root), buffer_(read_buffer_size) {}

  // Feeds at most the first `size` bytes of the regular file at `relative` to `consume`; the
  // problem when it is shorter, not a regular file or unreadable. A longer file is left to the walk, which sees every size anyway.
  template <class Consume>
  std::optional<std::string> read(const std::string& relative, std::uint64_t size, Consume&& consume) {
    auto fd = root_.open_file(relative);
    if (!fd) return unopenable_problem(root_, relative, fd.error(), size);
    if (size > buffer_.size()) ::posix_fadvise(fd->get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    std::uint64_t remaining = size;
    int read_errno = 0;
    while (remaining > 0) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, buffer_.size()));
      const ssize_t n = ::read(fd->get(), buffer_.data(), want);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) read_errno = errno;
      if (n <= 0) break;
      consume(std::string_view(buffer_.data(), static_cast<std::size_t>(n)));
      remaining -= static_cast<std::uint64_t>(n);
    }
    if (read_errno != 0) return "cannot read: " + errno_text(read_errno);
    if (remaining > 0) return size_problem(size - remaining, size);
    return std::nullopt;
  }

 private:
  const RootDir& root_;
  std::vector<char> buffer_;
};

// Calls `progress` about every progress_step bytes, and once at the end.
class ProgressMeter {
 public:
  ProgressMeter(const VerifyProgress& progress, std::uint64_t known_total, bool total_known)
      : progress_(progress), known_total_(known_total), total_known_(total_known) {}

  void advance(std::uint64_t bytes) {
    done_ += bytes;
    if (done_ >= next_report_) {
      report();
      next_report_ = done_ + progress_step;
    }
  }

  void report() const {
    if (progress_) progress_(done_, total_known_ ? std::max(known_total_, done_) : 0);
  }

 private:
  const VerifyProgress& progress_;
  std::uint64_t known_total_;
  bool total_known_;
  std::uint64_t done_ = 0;
  std::uint64_t next_report_ = progress_step;
};

std::string sha256_digest_of(CryptoPP::SHA256& hash) {
  CryptoPP::byte digest[CryptoPP::SHA256::DIGESTSIZE];
  hash.Final(digest);
  return "sha256:" + hex_of(digest, sizeof digest);
}

constexpr auto by_path = [](const auto& a, const auto& b) { return a.path < b.path; };

// Sorts `listed` by path and keeps one entry per path (the last, as unpacking a tar does);
// a path listed twice is a problem, since tar-split itself refuses to rebuild such a stream.
void sort_listed(std::vector<ListedEntry>& listed, std::vector<FileProblem>& problems) {
  std::stable_sort(listed.begin(), listed.end(), by_path);
  std::vector<ListedEntry> unique;
  unique.reserve(listed.size());
  for (auto& entry : listed) {
    if (unique.empty() || unique.back().path != entry.path) {
      unique.push_back(std::move(entry));
      continue;
    }
    if (!unique.back().listed_twice) problems.push_back({entry.path, "listed twice in tar-split"});
    entry.reported = entry.listed_twice = true;
    unique.back() = std::move(entry);
  }
  listed = std::move(unique);
}

bool has_listed_descendant(const std::vector<ListedEntry>& listed, const std::string& dir) {
  const std::string prefix = dir + "/";
  const auto next = std::lower_bound(listed.begin(), listed.end(), prefix,
                                     [](const ListedEntry& entry, const std::string& key) { return entry.path < key; });
  return next != listed.end() && next->path.starts_with(prefix);
}

// Whether the disk entry is what tar-split lists; the problem when not. A file with content
// was read as a regular file while the stream was rebuilt; here its size on disk is compared.
std::optional<std::string> entry_problem(const ListedEntry& listed, const LayerDirEntry& disk) {
  if (base_name(listed.path).starts_with(whiteout_prefix)) {
    if (disk.overlay_marker) return std::nullopt;
    return "is a " + file_kind(disk.mode) + ", not an overlay whiteout or opaque dir";
  }
  if (listed.size > 0) {
    if (disk.size != listed.size) return size_problem(disk.size, listed.size);
    return std::nullopt;
  }
  if (!listed.typeflag) return std::nullopt;
  const auto expected = unpacked_type(*listed.typeflag);
  if (!expected) return std::nullopt;
  if ((disk.mode & S_IFMT) != *expected)
    return "is a " + file_kind(disk.mode) + ", tar-split lists a " + file_kind(*expected);
  if (*expected == S_IFREG && disk.size != 0) return size_problem(disk.size, 0);
  return std::nullopt;
}

// Matches the sorted `listed` against the diff dir's `disk` entries.
void compare_names(std::vector<ListedEntry>& listed, std::vector<LayerDirEntry>& disk, std::vector<FileProblem>& problems) {
  std::sort(disk.begin(), disk.end(), by_path);
  auto on_disk = disk.begin();
  auto in_list = listed.begin();
  while (on_disk != disk.end() || in_list != listed.end()) {
    if (in_list != listed.end() && in_list->path.empty()) {
      ++in_list;
    } else if (in_list == listed.end() || (on_disk != disk.end() && on_disk->path < in_list->path)) {
      const bool implied_parent = S_ISDIR(on_disk->mode) && !on_disk->overlay_marker &&
                                  has_listed_descendant(listed, on_disk->path);
      if (!implied_parent) problems.push_back({on_disk->path, "not in tar-split"});
      ++on_disk;
    } else if (on_disk == disk.end() || in_list->path < on_disk->path) {
      if (!in_list->reported) problems.push_back({in_list->path, "missing"});
      in_list->reported = true;
      ++in_list;
    } else {
      if (!in_list->reported) {
        if (auto problem = entry_problem(*in_list, *on_disk)) {
          problems.push_back({in_list->path, std::move(*problem)});
          in_list->reported = true;
        }
      }
      ++on_disk;
      ++in_list;
    }
  }
}

// The second pass after a digest mismatch: names each file whose CRC64 differs.
void compare_checksums(const RootDir& root, const Layer& layer, const std::vector<ListedEntry>& listed,
                       const VerifyProgress& progress, std::vector<FileProblem>& problems) {
  std::uint64_t total = 0;
  for (const auto& entry : listed)
    if (!entry.reported && entry.crc64) total += entry.size;
  ProgressMeter meter(progress, total, true);
  FileReader reader(root);
  for (const auto& entry : listed) {
    if (entry.reported || !entry.crc64) continue;
    Crc64Iso crc;
    auto problem = reader.read(beneath(layer.dir, entry.path), entry.size, [&](std::string_view bytes) {
      crc.update(bytes);
      meter.advance(bytes.size());
    });
    if (problem)
      problems.push_back({entry.path, std::move(*problem)});
    else if (crc.value() != *entry.crc64)
      problems.push_back({entry.path, "content differs (CRC64)"});
  }
  meter.report();
}

}  // namespace

Result<LayerVerification> verify_layer(const RootDir& root, const Layer& layer, const VerifyProgress& progress) {
  if (layer.tar_split.empty()) return not_found(root.absolute(layer.dir), "no tar-split.json.gz is kept for this layer");
  auto reader = TarSplitReader::open(root, layer.tar_split);
  if (!reader) return reader.error();

  LayerVerification verification;
  auto diff_dir_kind = root.kind(layer.dir);
  const bool diff_dir_readable = diff_dir_kind && *diff_dir_kind == EntryKind::directory;
  if (!diff_dir_readable) {
    const std::string why = !diff_dir_kind                                  ? diff_dir_kind.error().problem
                            : *diff_dir_kind == EntryKind::missing ? "the layer's diff dir is missing"
                                                                            : "the layer's diff dir is not a directory";
    verification.problems.push_back({"", why});
  }

  CryptoPP::SHA256 hash;
  const auto hash_bytes = [&](std::string_view bytes) {
    hash.Update(reinterpret_cast<const CryptoPP::byte*>(bytes.data()), bytes.size());
    verification.bytes += bytes.size();
  };
  ProgressMeter meter(progress, layer.size >= 0 ? static_cast<std::uint64_t>(layer.size) : 0, layer.size >= 0);
  FileReader files(root);
  std::vector<ListedEntry> listed;
  TarSplitEntry entry;
  while (true) {
    auto more = reader->next(entry);
    if (!more) return more.error();
    if (!*more) break;
    if (entry.kind == TarSplitEntry::Kind::segment) {
      if (diff_dir_readable) hash_bytes(entry.payload);
      continue;
    }
    ++verification.entries;
    ListedEntry& listed_entry = listed.emplace_back();
    listed_entry.path = entry.path;
    listed_entry.size = entry.size;
    listed_entry.crc64 = entry.crc64;
    listed_entry.typeflag = entry.typeflag;
    if (!diff_dir_readable || entry.size == 0) continue;
    auto problem = files.read(beneath(layer.dir, entry.path), entry.size, [&](std::string_view bytes) {
      hash_bytes(bytes);
      meter.advance(bytes.size());
    });
    if (problem) {
      verification.problems.push_back({entry.path, std::move(*problem)});
      listed_entry.reported = true;
    }
  }
  meter.report();
  if (!diff_dir_readable) {
    verification.bytes = 0;
    return verification;
  }
  verification.actual = sha256_digest_of(hash);

  sort_listed(listed, verification.problems);
  auto disk = layer_dir_entries(root, layer.dir, verification.problems);
  compare_names(listed, disk, verification.problems);
  if (verification.actual != layer.diff_id) compare_checksums(root, layer, listed, progress, verification.problems);

  std::stable_sort(verification.problems.begin(), verification.problems.end(), by_path);
  verification.ok = verification.actual == layer.diff_id && verification.problems.empty();
  return verification;
}

Result<TreeSize> tree_size(const RootDir& root, const std::string& dir) {
  TreeSize size;
  std::vector<std::string> pending_dirs = {""};
  while (!pending_dirs.empty()) {
    const std::string sub_dir = std::move(pending_dirs.back());
    pending_dirs.pop_back();
    auto names = root.list_dir(beneath(dir, sub_dir));
    if (!names) return names.error();
    for (const auto& name : *names) {
      std::string path = child_path(sub_dir, name);
      auto st = root.stat(beneath(dir, path));
      if (!st) return st.error();
      if (!*st) continue;
      if (S_ISREG((*st)->mode)) {
        ++size.files;
        size.bytes += (*st)->size;
      } else if (S_ISDIR((*st)->mode)) {
        pending_dirs.push_back(std::move(path));
      }
    }
  }
  return size;
}

}  // namespace ovlmount
