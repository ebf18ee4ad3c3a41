// Why: every file descriptor ovlmount opens is owned by exactly one UniqueFd, so no error
// path can leak one into a later mount or a child process.
#pragma once

#include <string>
#include <utility>

namespace ovlmount {

// Owns a file descriptor; closes it on destruction. -1 means "none".
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Opens the absolute `path` with `flags` (O_CLOEXEC added) without following a
// symlink in any component (openat2 RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS). On failure
// the descriptor is invalid and errno says why (ELOOP: a symlink is in the way).
UniqueFd open_without_symlinks(const std::string& path, int flags);

}  // namespace ovlmount
