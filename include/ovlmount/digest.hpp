// Why: Docker's store is content-addressed. An image ID is the SHA-256 of its config's bytes
// and a layer's directory is found through its chainID, a hash over the diffIDs below it.
// Computing both ourselves (with Crypto++) is what lets ovlmount refuse a tampered store
// instead of mounting whatever the metadata points at.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ovlmount {

// Lowercase hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

// True when `text` is exactly 64 lowercase hex digits.
bool is_hex64(std::string_view text);

// True when `text` is exactly "sha256:" followed by 64 lowercase hex digits.
bool is_sha256_digest(std::string_view text);

// The chainIDs of a stack of layers given bottom first by their diffIDs ("sha256:<hex>"):
// chain[0] = diff[0]; chain[i] = "sha256:" + sha256(chain[i-1] + " " + diff[i]).
std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids);

}  // namespace ovlmount
