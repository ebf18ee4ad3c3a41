// Why: Docker keeps, per layer, the layer tar without its file contents: tar-split.json.gz, a
// gzip of one JSON entry per line (vbatts/tar-split's storage.Entry). Segments are the raw tar
// bytes (headers, padding, the end-of-archive blocks); file entries name a file, its size and
// the CRC64 of its content. The file comes from a seized store, so it is read as hostile input:
// streamed one entry at a time in bounded memory, every field type-checked, every size bounded,
// and anything malformed is a corrupt error naming the file, never a crash or a guess.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/fd.hpp"
#include "ovlmount/core/root_dir.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ovlmount {

// Limits past which a tar-split is refused as corrupt. A segment holds at most a few tar header
// blocks (PAX and GNU long-name records are capped at 1 MiB each by Go's archive/tar).
inline constexpr std::size_t tar_split_max_line = std::size_t{16} << 20;            // one JSON entry
inline constexpr std::uint64_t tar_split_max_inflated = std::uint64_t{4} << 30;     // the whole JSON text
inline constexpr std::uint64_t tar_split_max_file_size = std::uint64_t{1} << 40;    // one file's content
inline constexpr std::uint64_t tar_split_max_total_size = std::uint64_t{1} << 50;   // all files' content
inline constexpr std::size_t tar_split_max_name = 4096;                              // one file name
// Blank lines, which Go's encoder never writes: each costs a loop turn, and a gzip of nothing but
// newlines inflates 1000-fold (4 MiB would keep `verify` busy for minutes below the 4 GiB cap).
inline constexpr std::uint64_t tar_split_max_blank_lines = std::uint64_t{1} << 20;

// One entry of a tar-split stream.
struct TarSplitEntry {
  enum class Kind { segment, file };
  Kind kind = Kind::segment;
  std::string payload;  // segment: the raw tar bytes to write as they are; file: empty
  std::string name;     // file: the tar entry's name as recorded ("./etc/", "etc/passwd")
  std::string path;     // file: normalize_tar_name(name): "etc", "etc/passwd"; "" for the root
  std::uint64_t size = 0;              // file: bytes of content that follow its header
  std::optional<std::uint64_t> crc64;  // file: CRC-64/GO-ISO of the content; nullopt when size is 0
  std::optional<char> typeflag;        // file: the typeflag of the tar header just before it
                                       // ('0' file, '1' hard link, '2' symlink, '5' dir, ...);
                                       // nullopt when the last 512 segment bytes since the
                                       // previous file entry are no valid header
};

// `name` the way Docker's unpacking resolves it below the layer dir (Go's filepath.Clean,
// then relative): "./a//b/../c/" -> "a/c", "/etc" -> "etc", "./" -> "". nullopt when the name
// would leave the layer dir ("../x") or holds a NUL byte; Docker refuses to unpack those.
std::optional<std::string> normalize_tar_name(std::string_view name);

// Reads a tar-split.json.gz from start to end, one entry at a time, in constant memory (a
// 64 KiB compressed buffer and at most one line of JSON). Concatenated gzip members are read
// as one stream, as Go's gzip reader does. Entries must be one JSON object per line:
// {"type":1|2, "name":..., "name_raw":<base64>, "size":N, "payload":<base64>|null,
// "position":N}; unknown keys are ignored, blank lines skipped.
class TarSplitReader {
 public:
  // Opens the tar-split at `relative` beneath `root` (O_NOATIME, no symlinks); not_found naming
  // it when there is no such file, corrupt when it is not a regular file.
  static Result<TarSplitReader> open(const RootDir& root, std::string_view relative);

  // Reads the gzip stream from `fd`; `display_name` is what errors name.
  TarSplitReader(UniqueFd fd, std::string display_name);
  TarSplitReader(TarSplitReader&&) noexcept;
  TarSplitReader& operator=(TarSplitReader&&) noexcept;
  ~TarSplitReader();

  // Reads the next entry into `entry` (its buffers are reused): true, or false after the last.
  // corrupt naming the file on bad gzip (or a truncated stream), a line that is not a JSON
  // object, a field of the wrong type, an unknown entry type, a negative or oversized size, bad
  // base64, a file entry without a name or whose name leaves the layer, a file of size > 0
  // whose payload is not an 8-byte CRC64, or more than tar_split_max_blank_lines blank lines;
  // failure on a read error. After an error, stop.
  Result<bool> next(TarSplitEntry& entry);

  // The file name errors use.
  const std::string& display_name() const { return display_name_; }

 private:
  struct Inflater;

  Result<std::optional<std::string_view>> next_line();
  Result<void> inflate_more();
  Result<void> parse_entry(std::string_view line, TarSplitEntry& entry);
  void remember_header_bytes(std::string_view segment);
  std::optional<char> typeflag_of_last_header() const;
  Error corrupt_entry(const std::string& problem) const;

  std::string display_name_;
  std::unique_ptr<Inflater> inflater_;
  std::string text_;                 // inflated JSON text not yet consumed
  std::size_t text_start_ = 0;       // first unconsumed byte of text_
  std::size_t scanned_to_ = 0;       // text_[text_start_, scanned_to_) holds no newline
  std::uint64_t inflated_total_ = 0;
  std::uint64_t content_total_ = 0;  // sum of the file entries' sizes so far
  std::uint64_t line_number_ = 0;
  std::uint64_t blank_lines_ = 0;
  std::string last_header_;          // the last 512 segment bytes since the previous file entry
};

}  // namespace ovlmount
