// Why: the tar-split reader's tests and layer verification's tests both write tar-split files
// the way vbatts/tar-split's Go encoder does (payloads in standard base64, a file entry's CRC64
// as its payload, gzip on top); one writer keeps the two from drifting apart.
#pragma once

#include "ovlmount/core/digest.hpp"

#include <boost/test/unit_test.hpp>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace ovlmount::test {

// Standard base64 (RFC 4648, with '=' padding), as Go's encoding/json writes a []byte.
inline std::string base64(std::string_view bytes) {
  static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t bits = 0;
    for (std::size_t j = 0; j < 3; ++j)
      bits = bits << 8 | (j < n ? static_cast<unsigned char>(bytes[i + j]) : 0u);
    for (std::size_t j = 0; j < 4; ++j) out += j <= n ? alphabet[bits >> (18 - 6 * j) & 0x3f] : '=';
  }
  return out;
}

// The payload of a tar-split file entry: the CRC-64/GO-ISO of `content`, 8 bytes big-endian, in base64.
inline std::string crc_payload(std::string_view content) {
  const std::uint64_t crc = crc64_iso(content);
  std::string bytes;
  for (int shift = 56; shift >= 0; shift -= 8) bytes += static_cast<char>(crc >> shift & 0xff);
  return base64(bytes);
}

// A ustar header block (512 bytes) with a valid checksum: `name`, `typeflag`, `size`, `mode`,
// `mtime`, uid and gid 0, and `link` as the link target.
inline std::string ustar_header(std::string_view name, char typeflag, std::uint64_t size, std::uint64_t mode = 0644,
                                std::uint64_t mtime = 0, std::string_view link = {}) {
  std::string header(512, '\0');
  const auto octal = [&](std::size_t offset, std::size_t width, std::uint64_t value) {
    std::string digits(width - 1, '0');
    for (std::size_t i = width - 1; i-- > 0; value /= 8) digits[i] = static_cast<char>('0' + value % 8);
    header.replace(offset, width - 1, digits);
  };
  header.replace(0, name.size(), name);
  octal(100, 8, mode);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, mtime);
  header[156] = typeflag;
  header.replace(157, link.size(), link);
  header.replace(257, 6, std::string("ustar\0", 6));
  header.replace(263, 2, "00");
  header.replace(148, 8, "        ");
  unsigned sum = 0;
  for (const char c : header) sum += static_cast<unsigned char>(c);
  octal(148, 7, sum);
  header[155] = ' ';
  return header;
}

// Writes `text` as one gzip member to `path` (appending a new member when `append`); empty
// text makes an empty member. The test stops (BOOST_TEST_REQUIRE) if a zlib call fails.
inline void write_gzip(const std::filesystem::path& path, std::string_view text, bool append = false) {
  gzFile file = gzopen(path.c_str(), append ? "ab" : "wb");
  BOOST_TEST_REQUIRE(file != nullptr);
  if (!text.empty()) BOOST_TEST_REQUIRE(gzwrite(file, text.data(), static_cast<unsigned>(text.size())) > 0);
  BOOST_TEST_REQUIRE(gzclose(file) == Z_OK);
}

}  // namespace ovlmount::test
