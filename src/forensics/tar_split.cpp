// Why: see tar_split.hpp. Base64 is decoded here, strictly (standard alphabet, '=' padding,
// length a multiple of 4), because Crypto++'s decoder skips bytes outside the alphabet and so
// would accept a damaged payload. The gzip is inflated with zlib in fixed-size chunks, and each
// line is parsed on its own with Boost.JSON, so memory stays bounded whatever the file holds.
#include "ovlmount/forensics/tar_split.hpp"

#include "ovlmount/core/json_input.hpp"

#include <boost/json.hpp>
#include <zlib.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <vector>

namespace ovlmount {
namespace json = boost::json;

namespace {

// `text` in double quotes.
std::string quoted(std::string_view text) {
  std::string result(1, '"');
  result.append(text);
  result.push_back('"');
  return result;
}

constexpr std::size_t compressed_chunk_size = 64 * 1024;
constexpr std::size_t inflate_chunk_size = 256 * 1024;
constexpr std::size_t tar_block_size = 512;
constexpr std::size_t tar_checksum_offset = 148;
constexpr std::size_t tar_checksum_length = 8;
constexpr std::size_t tar_typeflag_offset = 156;
// What one entry's parse may take: a line of tar_split_max_line bytes such as "[0,0,0,...]"
// would otherwise cost about 400 MiB; a real entry (at most a 1 MiB PAX header) takes little.
constexpr std::size_t max_entry_memory = std::size_t{64} << 20;

constexpr std::array<std::int8_t, 256> base64_values = [] {
  std::array<std::int8_t, 256> values{};
  values.fill(-1);
  constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < alphabet.size(); ++i)
    values[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return values;
}();

// Decodes standard padded base64 (Go's base64.StdEncoding output) into `out`; false on any
// byte outside the alphabet, misplaced '=' or a length that is not a multiple of 4.
bool decode_base64(std::string_view text, std::string& out) {
  out.clear();
  if (text.size() % 4 != 0) return false;
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  out.resize(text.size() / 4 * 3);
  const auto value_at = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<std::int32_t>(base64_values[static_cast<unsigned char>(text[i])]));
  };
  std::uint32_t invalid = 0;
  for (std::size_t i = 0, o = 0; i < text.size(); i += 4, o += 3) {
    const bool last_quad = i + 4 == text.size();
    const std::uint32_t a = value_at(i);
    const std::uint32_t b = value_at(i + 1);
    const std::uint32_t c = last_quad && padding == 2 ? 0 : value_at(i + 2);
    const std::uint32_t d = last_quad && padding >= 1 ? 0 : value_at(i + 3);
    invalid |= a | b | c | d;
    const std::uint32_t bits = a << 18 | b << 12 | c << 6 | d;
    out[o] = static_cast<char>(bits >> 16 & 0xff);
    out[o + 1] = static_cast<char>(bits >> 8 & 0xff);
    out[o + 2] = static_cast<char>(bits & 0xff);
  }
  if (invalid & 0x80000000u) return false;
  out.resize(out.size() - padding);
  return true;
}

// The value of a tar header's octal checksum field; nullopt when it is not octal digits
// (optionally space-led) ended by NUL or space.
std::optional<std::uint32_t> octal_checksum(std::string_view field) {
  std::size_t i = 0;
  while (i < field.size() && field[i] == ' ') ++i;
  std::uint32_t value = 0;
  std::size_t digits = 0;
  for (; i < field.size() && field[i] >= '0' && field[i] <= '7'; ++i, ++digits)
    value = value * 8 + static_cast<std::uint32_t>(field[i] - '0');
  if (digits == 0 || (i < field.size() && field[i] != '\0' && field[i] != ' ')) return std::nullopt;
  return value;
}

std::string_view json_kind_name(json::kind kind) {
  switch (kind) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64: return "an integer";
    case json::kind::double_: return "a fraction";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "unknown";
}

}  // namespace

struct TarSplitReader::Inflater {
  UniqueFd fd;
  z_stream stream{};
  bool initialized = false;
  bool input_ended = false;   // read() returned 0
  bool member_ended = false;  // inflate() reported the end of a gzip member
  bool finished = false;      // the last member ended at the end of the input
  std::vector<unsigned char> input = std::vector<unsigned char>(compressed_chunk_size);

  explicit Inflater(UniqueFd file) : fd(std::move(file)) {}
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  ~Inflater() {
    if (initialized) inflateEnd(&stream);
  }
};

std::optional<std::string> normalize_tar_name(std::string_view name) {
  if (name.find('\0') != std::string_view::npos) return std::nullopt;
  const bool rooted = name.starts_with('/');
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t slash = std::min(name.find('/', start), name.size());
    const std::string_view part = name.substr(start, slash - start);
    if (part == "..") {
      if (!parts.empty())
        parts.pop_back();
      else if (!rooted)
        return std::nullopt;
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = slash + 1;
  }
  std::string path;
  for (const auto part : parts) {
    if (!path.empty()) path += '/';
    path += part;
  }
  return path;
}

Result<TarSplitReader> TarSplitReader::open(const RootDir& root, std::string_view relative) {
  auto fd = root.open_file(relative);
  if (!fd) return fd.error();
  return TarSplitReader(std::move(*fd), root.absolute(relative));
}

TarSplitReader::TarSplitReader(UniqueFd fd, std::string display_name)
    : display_name_(std::move(display_name)), inflater_(std::make_unique<Inflater>(std::move(fd))) {}
TarSplitReader::TarSplitReader(TarSplitReader&&) noexcept = default;
TarSplitReader& TarSplitReader::operator=(TarSplitReader&&) noexcept = default;
TarSplitReader::~TarSplitReader() = default;

Error TarSplitReader::corrupt_entry(const std::string& problem) const {
  return corrupt(display_name_, "line " + std::to_string(line_number_) + ": " + problem);
}

Result<void> TarSplitReader::inflate_more() {
  Inflater& z = *inflater_;
  if (!z.initialized) {
    if (inflateInit2(&z.stream, 16 + MAX_WBITS) != Z_OK) return failure(display_name_, "cannot start zlib");
    z.initialized = true;
  }
  const std::size_t old_size = text_.size();
  text_.resize(old_size + inflate_chunk_size);
  z.stream.next_out = reinterpret_cast<Bytef*>(text_.data() + old_size);
  z.stream.avail_out = static_cast<uInt>(inflate_chunk_size);
  while (z.stream.avail_out > 0 && !z.finished) {
    if (z.stream.avail_in == 0 && !z.input_ended) {
      const ssize_t n = ::read(z.fd.get(), z.input.data(), z.input.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return failure(display_name_, errno_text(errno));
      if (n == 0) z.input_ended = true;
      z.stream.next_in = z.input.data();
      z.stream.avail_in = static_cast<uInt>(n);
    }
    if (z.stream.avail_in == 0 && z.input_ended) {
      if (!z.member_ended) return corrupt(display_name_, "gzip stream is empty or truncated");
      z.finished = true;
      break;
    }
    if (z.member_ended) {
      inflateReset(&z.stream);
      z.member_ended = false;
    }
    const int status = inflate(&z.stream, Z_NO_FLUSH);
    if (status == Z_STREAM_END)
      z.member_ended = true;
    else if (status == Z_MEM_ERROR)
      return failure(display_name_, "out of memory inflating gzip");
    else if (status != Z_OK)
      return corrupt(display_name_,
                     std::string("bad gzip data: ") + (z.stream.msg ? z.stream.msg : "zlib error " + std::to_string(status)));
  }
  const std::size_t produced = inflate_chunk_size - z.stream.avail_out;
  text_.resize(old_size + produced);
  inflated_total_ += produced;
  if (inflated_total_ > tar_split_max_inflated)
    return corrupt(display_name_, "inflates to more than " + std::to_string(tar_split_max_inflated) + " bytes");
  return {};
}

Result<std::optional<std::string_view>> TarSplitReader::next_line() {
  while (true) {
    const std::size_t newline = text_.find('\n', std::max(scanned_to_, text_start_));
    const std::size_t line_length = (newline == std::string::npos ? text_.size() : newline) - text_start_;
    if (line_length > tar_split_max_line)
      return corrupt(display_name_,
                     "line " + std::to_string(line_number_ + 1) + " is longer than " + std::to_string(tar_split_max_line) + " bytes");
    if (newline != std::string::npos) {
      const std::string_view line(text_.data() + text_start_, newline - text_start_);
      text_start_ = scanned_to_ = newline + 1;
      ++line_number_;
      return std::optional<std::string_view>(line);
    }
    scanned_to_ = text_.size();
    if (inflater_->finished) {
      if (text_start_ == text_.size()) return std::optional<std::string_view>();
      const std::string_view line(text_.data() + text_start_, text_.size() - text_start_);
      text_start_ = scanned_to_ = text_.size();
      ++line_number_;
      return std::optional<std::string_view>(line);
    }
    if (text_start_ > 0) {
      text_.erase(0, text_start_);
      scanned_to_ -= text_start_;
      text_start_ = 0;
    }
    if (auto inflated = inflate_more(); !inflated) return inflated.error();
  }
}

void TarSplitReader::remember_header_bytes(std::string_view segment) {
  if (segment.size() >= tar_block_size) {
    last_header_.assign(segment.substr(segment.size() - tar_block_size));
    return;
  }
  last_header_.append(segment);
  if (last_header_.size() > tar_block_size) last_header_.erase(0, last_header_.size() - tar_block_size);
}

std::optional<char> TarSplitReader::typeflag_of_last_header() const {
  if (last_header_.size() != tar_block_size) return std::nullopt;
  const auto recorded = octal_checksum(std::string_view(last_header_).substr(tar_checksum_offset, tar_checksum_length));
  if (!recorded) return std::nullopt;
  std::uint32_t unsigned_sum = ' ' * tar_checksum_length;
  std::int32_t signed_sum = ' ' * tar_checksum_length;
  for (std::size_t i = 0; i < tar_block_size; ++i) {
    if (i == tar_checksum_offset) i += tar_checksum_length;
    unsigned_sum += static_cast<unsigned char>(last_header_[i]);
    signed_sum += static_cast<signed char>(last_header_[i]);
  }
  if (*recorded != unsigned_sum && static_cast<std::int64_t>(*recorded) != signed_sum) return std::nullopt;
  return last_header_[tar_typeflag_offset];
}

Result<void> TarSplitReader::parse_entry(std::string_view line, TarSplitEntry& entry) {
  boost::system::error_code ec;
  const json::value value = parse_untrusted_json(line, ec, max_entry_memory);
  if (ec) return corrupt_entry("not valid JSON: " + ec.message());
  const json::object* object = value.if_object();
  if (!object) return corrupt_entry("not a JSON object");

  std::string wrong_type;
  const auto integer = [&](std::string_view key) -> std::optional<std::int64_t> {
    const json::value* field = object->if_contains(key);
    if (!field || field->is_null()) return std::nullopt;
    if (field->is_int64()) return field->get_int64();
    if (wrong_type.empty())
      wrong_type = quoted(key).append(field->is_uint64() ? " is too large"
                                                         : std::string(" is ")
                                                               .append(json_kind_name(field->kind()))
                                                               .append(", not an integer"));
    return std::nullopt;
  };
  const auto string = [&](std::string_view key) -> std::optional<std::string_view> {
    const json::value* field = object->if_contains(key);
    if (!field || field->is_null()) return std::nullopt;
    if (const json::string* text = field->if_string()) return std::string_view(*text);
    if (wrong_type.empty())
      wrong_type = quoted(key).append(" is ").append(json_kind_name(field->kind())).append(", not a string");
    return std::nullopt;
  };
  const auto type = integer("type");
  const auto name = string("name");
  const auto name_raw = string("name_raw");
  const auto size = integer("size");
  const auto payload = string("payload");
  const auto position = integer("position");
  if (!wrong_type.empty()) return corrupt_entry(wrong_type);
  if (!type) return corrupt_entry("no \"type\"");
  if (position && *position < 0) return corrupt_entry("negative \"position\"");
  if (size && *size < 0) return corrupt_entry("negative \"size\"");

  if (*type == 2) {
    entry.kind = TarSplitEntry::Kind::segment;
    entry.name.clear();
    entry.path.clear();
    entry.size = 0;
    entry.crc64.reset();
    entry.typeflag.reset();
    if (!decode_base64(payload.value_or(""), entry.payload)) return corrupt_entry("segment payload is not valid base64");
    remember_header_bytes(entry.payload);
    return {};
  }
  if (*type != 1) return corrupt_entry("unknown entry type " + std::to_string(*type));

  entry.kind = TarSplitEntry::Kind::file;
  if (name_raw && !name_raw->empty()) {
    if (!decode_base64(*name_raw, entry.name)) return corrupt_entry("\"name_raw\" is not valid base64");
  } else {
    entry.name.assign(name.value_or(""));
  }
  if (entry.name.empty()) return corrupt_entry("file entry without a name");
  if (entry.name.size() > tar_split_max_name)
    return corrupt_entry("file name longer than " + std::to_string(tar_split_max_name) + " bytes");
  auto path = normalize_tar_name(entry.name);
  if (!path) return corrupt_entry("file name \"" + entry.name + "\" leaves the layer dir or holds a NUL byte");
  entry.path = std::move(*path);

  entry.size = static_cast<std::uint64_t>(size.value_or(0));
  if (entry.size > tar_split_max_file_size)
    return corrupt_entry("file size " + std::to_string(entry.size) + " is larger than " +
                         std::to_string(tar_split_max_file_size));
  content_total_ += entry.size;
  if (content_total_ > tar_split_max_total_size)
    return corrupt_entry("files add up to more than " + std::to_string(tar_split_max_total_size) + " bytes");

  std::string checksum;
  if (payload && !decode_base64(*payload, checksum)) return corrupt_entry("file payload is not valid base64");
  entry.crc64.reset();
  if (entry.size > 0) {
    if (checksum.size() != 8) return corrupt_entry("file payload is not an 8-byte CRC64");
    std::uint64_t crc = 0;
    for (const char byte : checksum) crc = crc << 8 | static_cast<unsigned char>(byte);
    entry.crc64 = crc;
  }
  entry.payload.clear();
  entry.typeflag = typeflag_of_last_header();
  last_header_.clear();
  return {};
}

Result<bool> TarSplitReader::next(TarSplitEntry& entry) {
  while (true) {
    auto line = next_line();
    if (!line) return line.error();
    if (!*line) return false;
    if ((*line)->find_first_not_of(" \t\r") == std::string_view::npos) {
      if (++blank_lines_ > tar_split_max_blank_lines)
        return corrupt(display_name_, "more than " + std::to_string(tar_split_max_blank_lines) + " blank lines");
      continue;
    }
    if (auto parsed = parse_entry(**line, entry); !parsed) return parsed.error();
    return true;
  }
}

}  // namespace ovlmount
