// Why: `run --user` needs what a container runtime does before exec: setgroups, setgid,
// setuid. bubblewrap switches users only inside a user namespace, which would remap every
// file owner of the image, so ovlmount binds this small static program into the sandbox and
// runs the command through it. It links nothing but libc, so it runs in any image.
//
//   ovlmount-exec-as UID GID GROUPS CMD [ARG...]    GROUPS: "-" or a comma-separated gid list
#include <grp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

bool parse_id(const char* text, unsigned long& id) {
  char* end = nullptr;
  errno = 0;
  id = std::strtoul(text, &end, 10);
  return errno == 0 && end != text && *end == '\0' && id < 0xFFFFFFFFul;
}

int fail(const char* what, const char* detail) {
  std::fprintf(stderr, "ovlmount-exec-as: %s: %s\n", what, detail);
  return 125;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return fail("usage", "ovlmount-exec-as UID GID GROUPS CMD [ARG...]");
  unsigned long uid = 0, gid = 0;
  if (!parse_id(argv[1], uid) || !parse_id(argv[2], gid)) return fail(argv[1], "not a numeric uid and gid");
  std::vector<gid_t> groups;
  if (std::strcmp(argv[3], "-") != 0) {
    std::vector<char> list(argv[3], argv[3] + std::strlen(argv[3]) + 1);
    for (char* item = std::strtok(list.data(), ","); item; item = std::strtok(nullptr, ",")) {
      unsigned long group = 0;
      if (!parse_id(item, group)) return fail(argv[3], "not a list of numeric gids");
      groups.push_back(static_cast<gid_t>(group));
    }
  }
  if (::setgroups(groups.size(), groups.data()) != 0) return fail("setgroups", std::strerror(errno));
  if (::setgid(static_cast<gid_t>(gid)) != 0) return fail("setgid", std::strerror(errno));
  if (::setuid(static_cast<uid_t>(uid)) != 0) return fail("setuid", std::strerror(errno));
  ::execvp(argv[4], argv + 4);
  const int errnum = errno;
  std::fprintf(stderr, "ovlmount-exec-as: %s: %s\n", argv[4], std::strerror(errnum));
  return errnum == ENOENT ? 127 : 126;
}
