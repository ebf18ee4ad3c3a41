// Why: the close() behind UniqueFd, kept out of the header so callers need no <unistd.h>.
#include "ovlmount/core/fd.hpp"

#include <unistd.h>

namespace ovlmount {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace ovlmount
