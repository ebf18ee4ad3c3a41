// Why: every fuzz target needs the same few things: a way to stop loudly when an invariant
// breaks (libFuzzer then saves the input), a read-only in-memory RootDir for the parsers that
// are only reachable through one (the unit tests' fake needs Boost.Test), and a descriptor
// over a byte string for the readers that take one (bbolt, tar-split).
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/core/fd.hpp"
#include "ovlmount/core/root_dir.hpp"

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
  UniqueFd fd(::memfd_create("ovlmount-fuzz", MFD_CLOEXEC));
  FUZZ_CHECK(fd, "memfd_create failed");
  for (std::size_t written = 0; written < bytes.size();) {
    const ssize_t n = ::write(fd.get(), bytes.data() + written, bytes.size() - written);
    FUZZ_CHECK(n > 0, "write to the memfd failed");
    written += static_cast<std::size_t>(n);
  }
  FUZZ_CHECK(::lseek(fd.get(), 0, SEEK_SET) == 0, "lseek on the memfd failed");
  return fd;
}

// A read-only in-memory root: files with content and the directories above them. Files open
// as memory files; directory descriptors and xattrs are not offered (no parser needs them).
class MemoryRoot final : public RootDir {
 public:
  explicit MemoryRoot(std::string path = "/fuzz/root") : path_(std::move(path)) {}

  // Adds the file `relative` with `content`, and its parent directories.
  void add_file(const std::string& relative, std::string content) {
    files_[relative] = std::move(content);
    add_parents(relative);
  }
  // Adds the directory `relative` and its parents.
  void add_dir(const std::string& relative) {
    dirs_.insert(relative);
    add_parents(relative);
  }

  const std::string& path() const override { return path_; }
  Result<std::string> read_file(std::string_view relative, size_t max_size) const override {
    const auto file = files_.find(std::string(relative));
    if (file == files_.end()) {
      if (dirs_.contains(std::string(relative))) return corrupt(absolute(relative), "not a regular file");
      return not_found(absolute(relative), "no such file or directory");
    }
    if (file->second.size() > max_size) return corrupt(absolute(relative), "too large");
    return file->second;
  }
  Result<std::vector<std::string>> list_dir(std::string_view relative) const override {
    const std::string prefix = std::string(relative) + "/";
    if (!dirs_.contains(std::string(relative))) return not_found(absolute(relative), "no such file or directory");
    std::set<std::string> names;
    const auto collect = [&](const std::string& path) {
      if (path.starts_with(prefix)) names.insert(path.substr(prefix.size(), path.find('/', prefix.size()) - prefix.size()));
    };
    for (const auto& [file, content] : files_) collect(file);
    for (const auto& dir : dirs_) collect(dir);
    return std::vector<std::string>(names.begin(), names.end());
  }
  Result<EntryKind> kind(std::string_view relative) const override {
    if (files_.contains(std::string(relative))) return EntryKind::regular;
    if (dirs_.contains(std::string(relative))) return EntryKind::directory;
    return EntryKind::missing;
  }
  Result<UniqueFd> open_dir(std::string_view relative) const override {
    return failure(absolute(relative), "the memory root opens no directories");
  }
  Result<std::optional<FileStat>> stat(std::string_view relative) const override {
    FileStat st;
    if (const auto file = files_.find(std::string(relative)); file != files_.end()) {
      st.mode = S_IFREG | 0644;
      st.size = file->second.size();
    } else if (dirs_.contains(std::string(relative))) {
      st.mode = S_IFDIR | 0755;
    } else {
      return std::optional<FileStat>();
    }
    return std::optional<FileStat>(st);
  }
  Result<UniqueFd> open_file(std::string_view relative) const override {
    const auto file = files_.find(std::string(relative));
    if (file == files_.end()) return not_found(absolute(relative), "no such file or directory");
    return memory_file(file->second);
  }
  Result<std::optional<std::string>> xattr(std::string_view, const std::string&) const override {
    return std::optional<std::string>();
  }

 private:
  void add_parents(const std::string& relative) {
    for (std::size_t slash = relative.find('/'); slash != std::string::npos; slash = relative.find('/', slash + 1))
      dirs_.insert(relative.substr(0, slash));
  }

  std::string path_;
  std::map<std::string, std::string> files_;
  std::set<std::string> dirs_;
};

// An error must be one printable line naming what failed (docs/usage.md): check it.
inline void check_error(const Error& error) {
  const std::string message = error.message();
  FUZZ_CHECK(message.starts_with("ovlmount: "), "error text does not start with \"ovlmount: \"");
  FUZZ_CHECK(message.find('\n') == std::string::npos, "error text is not one line");
  FUZZ_CHECK(error.code != ExitCode::ok, "an error with exit code 0");
}

}  // namespace ovlmount::fuzz
