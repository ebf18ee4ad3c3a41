// Why: the two hashes ovlmount trusts (image ID, chainID) are computed here with Crypto++, and
// tar-split's CRC64 with Boost.CRC (a table-driven crc_optimal, not a hand-written table).
#include "ovlmount/core/digest.hpp"

#include <boost/crc.hpp>

#include <cryptopp/sha.h>

namespace ovlmount {
namespace {

using Crc64IsoEngine = boost::crc_optimal<64, 0x1B, ~std::uint64_t{0}, ~std::uint64_t{0}, true, true>;

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  CryptoPP::SHA256 hash;
  CryptoPP::byte digest[CryptoPP::SHA256::DIGESTSIZE];
  hash.CalculateDigest(digest, reinterpret_cast<const CryptoPP::byte*>(bytes.data()), bytes.size());
  return hex_of(digest, sizeof digest);
}

std::string hex_of(const unsigned char* bytes, std::size_t size) {
  constexpr char digits[] = "0123456789abcdef";
  std::string hex(size * 2, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    hex[2 * i] = digits[bytes[i] >> 4];
    hex[2 * i + 1] = digits[bytes[i] & 0xf];
  }
  return hex;
}

bool is_hex64(std::string_view text) {
  if (text.size() != 64) return false;
  for (const char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_sha256_digest(std::string_view text) {
  return text.size() == 71 && text.starts_with("sha256:") && is_hex64(text.substr(7));
}

std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> chain;
  chain.reserve(diff_ids.size());
  for (const auto& diff_id : diff_ids) {
    if (chain.empty())
      chain.push_back(diff_id);
    else
      chain.push_back("sha256:" + sha256_hex(chain.back() + " " + diff_id));
  }
  return chain;
}

void Crc64Iso::update(std::string_view bytes) {
  Crc64IsoEngine engine(remainder_);
  engine.process_bytes(bytes.data(), bytes.size());
  remainder_ = engine.get_interim_remainder();
}

std::uint64_t Crc64Iso::value() const { return Crc64IsoEngine(remainder_).checksum(); }

std::uint64_t crc64_iso(std::string_view bytes) {
  Crc64Iso crc;
  crc.update(bytes);
  return crc.value();
}

}  // namespace ovlmount
