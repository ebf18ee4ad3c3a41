// Why: every fuzz target needs the same few things: a way to stop loudly when an invariant
// breaks (libFuzzer then saves the input), the unit tests' in-memory RootDir for the parsers
// that are only reachable through one, and a descriptor over a byte string for the readers
// that take one (bbolt, tar-split).
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/fd.hpp"
#include "ovlmount/core/root_dir.hpp"
#include "fake_root_dir.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Aborts with `what` and the place when `condition` is false: a broken invariant is a finding.
#define FUZZ_CHECK(condition, what)                                                                  \
  do {                                                                                               \
    if (!(condition)) {                                                                              \
      std::fprintf(stderr, "%s:%d: invariant broken: %s: %s\n", __FILE__, __LINE__, #condition, what); \
      std::abort();                                                                                  \
    }                                                                                                \
  } while (false)

namespace ovlmount::fuzz {

// The fuzzer's input as a string view.
inline std::string_view input(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits `bytes` at NUL bytes (which no JSON or TOML text holds) into exactly `count` parts;
// the missing ones are empty, extra NULs stay in the last part.
inline std::vector<std::string> split_parts(std::string_view bytes, std::size_t count) {
  std::vector<std::string> parts;
  while (parts.size() + 1 < count) {
    const std::size_t nul = bytes.find('\0');
    if (nul == std::string_view::npos) break;
    parts.emplace_back(bytes.substr(0, nul));
    bytes.remove_prefix(nul + 1);
  }
  parts.emplace_back(bytes);
  parts.resize(count);
  return parts;
}

// A descriptor of an anonymous memory file holding `bytes`, read from its start.
inline UniqueFd memory_file(std::string_view bytes) {
  UniqueFd fd = test::memory_file(bytes);
  FUZZ_CHECK(fd, "making a memory file failed");
  return fd;
}

// The unit tests' in-memory RootDir (files open as memory files, directories do not open).
using MemoryRoot = test::FakeRootDir;

// An error must be one printable line naming what failed (docs/usage.md): check it.
inline void check_error(const Error& error) {
  const std::string message = error.message();
  FUZZ_CHECK(message.starts_with("ovlmount: "), "error text does not start with \"ovlmount: \"");
  FUZZ_CHECK(message.find('\n') == std::string::npos, "error text is not one line");
  FUZZ_CHECK(error.code != ExitCode::ok, "an error with exit code 0");
}

}  // namespace ovlmount::fuzz
