// Why: the entry point only parses, dispatches and turns errors into the documented exit
// codes; everything else is in the core library the tests link too.
#include "ovlmount/cli.hpp"
#include "ovlmount/commands.hpp"
#include "ovlmount/config.hpp"

#include <unistd.h>

#include <iostream>

namespace {

using namespace ovlmount;

Result<void> require_root(const char* command) {
  if (::geteuid() == 0) return {};
  return failure(command, "must be run as root (it mounts filesystems)");
}

Result<BeneathRoot> open_data_root(const Invocation& invocation) {
  std::string path = invocation.data_root;
  if (path.empty()) {
    auto configured = default_data_root();
    if (!configured) return configured.error();
    path = *configured;
  }
  return BeneathRoot::open(path);
}

Result<void> dispatch(const Invocation& invocation) {
  const Registry registry(invocation.state_dir);
  const ProcMountTable table;
  LibmountMounter mounter;
  switch (invocation.command) {
    case Command::help:
      std::cout << help_text();
      return {};
    case Command::version:
      std::cout << "ovlmount " << OVLMOUNT_VERSION << "\n";
      return {};
    case Command::resolve: {
      auto root = open_data_root(invocation);
      if (!root) return root.error();
      return run_resolve(*root, invocation.image, invocation.json, std::cout);
    }
    case Command::mount: {
      if (!invocation.mount.dry_run)
        if (auto root_user = require_root("mount"); !root_user) return root_user.error();
      auto root = open_data_root(invocation);
      if (!root) return root.error();
      return run_mount(*root, invocation.mount, registry, mounter, table, std::cout);
    }
    case Command::list:
      return run_list(invocation.json, registry, table, std::cout, std::cerr);
    case Command::umount:
      if (auto root_user = require_root("umount"); !root_user) return root_user.error();
      return run_umount(invocation.umount, registry, mounter, table, std::cout, std::cerr);
    case Command::cleanup:
      if (auto root_user = require_root("cleanup"); !root_user) return root_user.error();
      return run_cleanup(registry, table, std::cout, std::cerr);
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    auto invocation = parse_command_line(argc, argv);
    if (!invocation) throw Fatal(invocation.error());
    dispatch(*invocation).value();
    return 0;
  } catch (const Fatal& fatal) {
    std::cout.flush();
    std::cerr << fatal.error().message() << "\n";
    return static_cast<int>(fatal.error().code);
  } catch (const std::exception& e) {
    std::cerr << "ovlmount: " << escape(e.what()) << "\n";
    return static_cast<int>(ExitCode::failure);
  }
}
