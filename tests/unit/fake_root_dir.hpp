// Why: the unit tests and the fuzz targets drive the stores without a real data root: this
// in-memory RootDir is shared by both, so it needs nothing but the core library (no Boost.Test).
#pragma once

#include "ovlmount/core/fd.hpp"
#include "ovlmount/core/root_dir.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ovlmount::test {

// A descriptor of an anonymous memory file holding `bytes`, read from its start; invalid when
// the kernel refuses one.
inline UniqueFd memory_file(std::string_view bytes) {
  UniqueFd fd(::memfd_create("ovlmount-test", MFD_CLOEXEC));
  for (size_t written = 0; fd && written < bytes.size();) {
    const ssize_t n = ::write(fd.get(), bytes.data() + written, bytes.size() - written);
    if (n <= 0) return UniqueFd();
    written += static_cast<size_t>(n);
  }
  if (fd && ::lseek(fd.get(), 0, SEEK_SET) != 0) return UniqueFd();
  return fd;
}

// An in-memory data root: files with content (opened as memory files), and the directories
// above them; directories cannot be opened.
class FakeRootDir final : public RootDir {
 public:
  explicit FakeRootDir(std::string path = "/fake/root") : path_(std::move(path)) {}

  void add_file(const std::string& relative, std::string content) {
    files_[relative] = std::move(content);
    add_parents(relative);
  }
  void add_dir(const std::string& relative) {
    dirs_.insert(relative);
    add_parents(relative);
  }
  // Removes `relative` and, as rm -r would, everything below it.
  void remove(const std::string& relative) {
    const auto below = [&](const std::string& path) { return path == relative || path.starts_with(relative + "/"); };
    std::erase_if(files_, [&](const auto& file) { return below(file.first); });
    std::erase_if(dirs_, below);
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
    const std::string dir(relative);
    if (!dirs_.contains(dir)) return not_found(absolute(relative), "no such file or directory");
    std::set<std::string> names;
    const auto collect = [&](const std::string& path) {
      if (path.size() > dir.size() && path.starts_with(dir + "/")) {
        const std::string rest = path.substr(dir.size() + 1);
        names.insert(rest.substr(0, rest.find('/')));
      }
    };
    for (const auto& [file, content] : files_) collect(file);
    for (const auto& sub : dirs_) collect(sub);
    return std::vector<std::string>(names.begin(), names.end());
  }
  Result<EntryKind> kind(std::string_view relative) const override {
    if (files_.contains(std::string(relative))) return EntryKind::regular;
    if (dirs_.contains(std::string(relative))) return EntryKind::directory;
    return EntryKind::missing;
  }
  Result<UniqueFd> open_dir(std::string_view relative) const override {
    return failure(absolute(relative), "the fake root cannot open directories");
  }
  Result<std::optional<FileStat>> stat(std::string_view relative) const override {
    const std::string path(relative);
    FileStat st;
    if (const auto file = files_.find(path); file != files_.end()) {
      st.mode = S_IFREG | 0644;
      st.size = file->second.size();
    } else if (dirs_.contains(path)) {
      st.mode = S_IFDIR | 0755;
    } else {
      return std::optional<FileStat>();
    }
    return std::optional<FileStat>(st);
  }
  Result<UniqueFd> open_file(std::string_view relative) const override {
    const auto file = files_.find(std::string(relative));
    if (file == files_.end()) return not_found(absolute(relative), "no such file or directory");
    UniqueFd fd = memory_file(file->second);
    if (!fd) return failure(absolute(relative), "cannot make a memory file");
    return fd;
  }
  Result<std::optional<std::string>> xattr(std::string_view, const std::string&) const override {
    return std::optional<std::string>();
  }

 private:
  void add_parents(const std::string& relative) {
    for (size_t slash = relative.find('/'); slash != std::string::npos; slash = relative.find('/', slash + 1))
      dirs_.insert(relative.substr(0, slash));
  }

  std::string path_;
  std::map<std::string, std::string> files_;
  std::set<std::string> dirs_;
};

}  // namespace ovlmount::test
