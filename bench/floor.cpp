// Why: the benchmark's floor. This is the least any tool must do to put a stack of layer
// directories on a path and take it down again: open each layer, one overlay mount, one
// umount. It does no lookup, no check, no tracking, so ovlmount's mount + umount is measured
// against it. It makes the mount the two ways ovlmount can: one mount(2) whose lowerdir
// names each layer as /proc/self/fd/N (so deep stacks fit until one page is full), and the
// new mount API (fsopen, one fsconfig "lowerdir+" per layer, by descriptor where the kernel
// takes one, fsmount, move_mount), which Linux 6.8 and later accept up to 500 layers.
//
//   ovlmount-floor legacy|new TARGET LAYER...    (LAYER topmost first, as in lowerdir=)
//
// One layer is a read-only bind mount, as overlayfs needs two lowers for a read-only mount.
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

int fail(const char* what) {
  std::fprintf(stderr, "ovlmount-floor: %s: %s\n", what, std::strerror(errno));
  return 1;
}

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

int mount_legacy(const char* target, const std::vector<int>& layers) {
  std::string data = "lowerdir=";
  for (size_t i = 0; i < layers.size(); ++i) data += (i ? ":" : "") + fd_path(layers[i]);
  if (::mount("overlay", target, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, data.c_str()) != 0) return fail("mount");
  return 0;
}

int set_layer(int fs, int layer) {
  if (::syscall(SYS_fsconfig, fs, FSCONFIG_SET_FD, "lowerdir+", nullptr, layer) == 0) return 0;
  return static_cast<int>(::syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", fd_path(layer).c_str(), 0));
}

int mount_new(const char* target, const std::vector<int>& layers) {
  const int fs = static_cast<int>(::syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC));
  if (fs < 0) return fail("fsopen");
  for (auto layer = layers.rbegin(); layer != layers.rend(); ++layer)
    if (set_layer(fs, *layer) != 0) return fail("fsconfig lowerdir+");
  if (::syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) return fail("fsconfig create");
  const int mnt = static_cast<int>(
      ::syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  if (mnt < 0) return fail("fsmount");
  if (::syscall(SYS_move_mount, mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) != 0) return fail("move_mount");
  ::close(mnt);
  ::close(fs);
  return 0;
}

int bind_read_only(const char* target, int layer) {
  if (::mount(fd_path(layer).c_str(), target, nullptr, MS_BIND, nullptr) != 0) return fail("bind mount");
  if (::mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0)
    return fail("remount read-only");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || (std::strcmp(argv[1], "legacy") != 0 && std::strcmp(argv[1], "new") != 0)) {
    std::fprintf(stderr, "usage: ovlmount-floor legacy|new TARGET LAYER...\n");
    return 2;
  }
  const char* target = argv[2];
  std::vector<int> layers;
  for (int i = 3; i < argc; ++i) {
    const int fd = ::open(argv[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail(argv[i]);
    layers.push_back(fd);
  }
  int status = 0;
  if (layers.size() == 1) status = bind_read_only(target, layers[0]);
  else if (std::strcmp(argv[1], "legacy") == 0) status = mount_legacy(target, layers);
  else status = mount_new(target, layers);
  if (status != 0) return status;
  if (::umount2(target, 0) != 0) return fail("umount");
  return 0;
}
