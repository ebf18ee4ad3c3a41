// Why: Docker's and podman's tar-split.json.gz files come from the seized store and drive
// verify, export and diff; TarSplitReader must read any of them in bounded memory and refuse
// anything malformed. An input that is not gzip is gzip-compressed first, so the fuzzer mutates
// the JSON lines themselves rather than break the gzip CRC. Checks: each file entry's path is
// normalize_tar_name of its name and stays below the layer, a CRC is there exactly when the
// size is not 0, and normalizing is idempotent.
#include "fuzz_support.hpp"

#include "ovlmount/forensics/tar_split.hpp"

#include <zlib.h>

using namespace ovlmount;

namespace {

constexpr int max_entries = 100000;

std::string gzip(std::string_view text) {
  z_stream stream{};
  FUZZ_CHECK(deflateInit2(&stream, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK, "deflateInit2 failed");
  std::string out(deflateBound(&stream, static_cast<uLong>(text.size())) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  FUZZ_CHECK(deflate(&stream, Z_FINISH) == Z_STREAM_END, "deflate did not finish");
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

bool stays_below(const std::string& path) {
  if (path.starts_with('/') || path.find('\0') != std::string::npos) return false;
  for (std::size_t start = 0; start <= path.size();) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part(path.data() + start, end - start);
    if (part == ".." || part == "." || (part.empty() && !path.empty())) return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = fuzz::input(data, size);
  const bool gzipped = bytes.size() >= 2 && bytes[0] == '\x1f' && bytes[1] == '\x8b';
  TarSplitReader reader(fuzz::memory_file(gzipped ? std::string(bytes) : gzip(bytes)), "fuzz.tar-split.json.gz");
  TarSplitEntry entry;
  for (int count = 0; count < max_entries; ++count) {
    auto more = reader.next(entry);
    if (!more) {
      fuzz::check_error(more.error());
      FUZZ_CHECK(more.error().code == ExitCode::corrupt, "a bad tar-split is not corrupt");
      break;
    }
    if (!*more) break;
    if (entry.kind != TarSplitEntry::Kind::file) continue;
    const auto normal = normalize_tar_name(entry.name);
    FUZZ_CHECK(normal && *normal == entry.path, "path is not normalize_tar_name(name)");
    FUZZ_CHECK(stays_below(entry.path), "a path that leaves the layer or is not clean");
    const auto again = normalize_tar_name(entry.path);
    FUZZ_CHECK(again && *again == entry.path, "normalize_tar_name is not idempotent");
    FUZZ_CHECK(entry.crc64.has_value() == (entry.size != 0), "a CRC without content or content without a CRC");
    FUZZ_CHECK(entry.size <= tar_split_max_file_size, "a file larger than the limit");
  }
  return 0;
}
