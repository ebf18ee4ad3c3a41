// Why: Docker's store is content-addressed. An image ID is the SHA-256 of its config's bytes
// and a layer's directory is found through its chainID, a hash over the diffIDs below it.
// Computing both ourselves (with Crypto++) is what lets ovlmount refuse a tampered store
// instead of mounting whatever the metadata points at. Docker's tar-split also records a CRC64
// of each file, which names the files that differ when a layer's digest does not match.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ovlmount {

// Lowercase hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

// `size` bytes as lowercase hex (a digest's text form).
std::string hex_of(const unsigned char* bytes, std::size_t size);

// True when `text` is exactly 64 lowercase hex digits.
bool is_hex64(std::string_view text);

// True when `text` is exactly "sha256:" followed by 64 lowercase hex digits.
bool is_sha256_digest(std::string_view text);

// The chainIDs of a stack of layers given bottom first by their diffIDs ("sha256:<hex>"):
// chain[0] = diff[0]; chain[i] = "sha256:" + sha256(chain[i-1] + " " + diff[i]).
std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids);

// Streaming CRC-64/GO-ISO, the checksum tar-split records per file (Go's crc64.ISO table with
// crc64.New: reflected polynomial 0xD800000000000000, initial value and final xor all ones).
// update() any number of times; value() is the CRC of everything fed so far.
class Crc64Iso {
 public:
  void update(std::string_view bytes);
  std::uint64_t value() const;

 private:
  std::uint64_t remainder_ = ~std::uint64_t{0};  // Boost.CRC's interim remainder
};

// CRC-64/GO-ISO of `bytes`: crc64_iso("123456789") == 0xb90956c775a41001.
std::uint64_t crc64_iso(std::string_view bytes);

}  // namespace ovlmount
