// Why: the entry point only parses, dispatches and turns errors into the documented exit
// codes; everything else is in the core library the tests link too.
#include "ovlmount/cli/catalog.hpp"
#include "ovlmount/cli/cli.hpp"
#include "ovlmount/cli/commands.hpp"
#include "ovlmount/cli/inspect.hpp"
#include "ovlmount/cli/mount_helper.hpp"
#include "ovlmount/cli/queries.hpp"
#include "ovlmount/cli/run.hpp"
#include "ovlmount/cli/verify.hpp"
#include "ovlmount/core/process_guard.hpp"
#include "ovlmount/mount/private_mount.hpp"

#include <unistd.h>

#include <iostream>

namespace {

using namespace ovlmount;

Result<int> status(Result<void> done) {
  if (!done) return done.error();
  return 0;
}

Result<void> require_root(const char* command) {
  if (::geteuid() == 0) return {};
  return failure(command, "must be run as root (it mounts filesystems)");
}

// The commands that only read the stores.
Result<void> dispatch_query(const Invocation& invocation, const Stores& root) {
  const bool json = invocation.json;
  switch (invocation.command) {
    case Command::resolve: return run_resolve(root, invocation.image, json, std::cout);
    case Command::images: return run_images(root, json, std::cout);
    case Command::containers: return run_containers(root, json, std::cout);
    case Command::inspect: return run_inspect(root, invocation.image, json, std::cout);
    case Command::verify: return run_verify(root, invocation.image, json, invocation.quick, std::cout, std::cerr);
    case Command::diff: return run_diff(root, invocation.image, json, invocation.bodyfile, std::cout);
    case Command::which: return run_which(root, invocation.image, invocation.path, json, std::cout);
    case Command::owner: return run_owner(root, invocation.image, json, std::cout);
    default: return failure("ovlmount", "not a query command");
  }
}

// Runs the command; its exit status (0 but for `run`).
Result<int> dispatch(const Invocation& invocation) {
  const Registry registry(invocation.state_dir);
  const ProcMountTable table;
  KernelMounter mounter;
  switch (invocation.command) {
    case Command::help:
      std::cout << help_text();
      return 0;
    case Command::version:
      std::cout << "ovlmount " << OVLMOUNT_VERSION << "\n";
      return 0;
    case Command::mount:
    case Command::container: {
      if (!invocation.mount.dry_run)
        if (auto root_user = require_root(invocation.command == Command::mount ? "mount" : "container"); !root_user)
          return root_user.error();
      auto stores = find_stores(invocation.stores);
      if (!stores) return stores.error();
      return status(run_mount(*stores, invocation.mount, registry, mounter, table, std::cout, std::cerr));
    }
    case Command::run:
    case Command::export_tree:
    case Command::files: {
      const char* name = invocation.command == Command::run ? "run" : invocation.command == Command::files ? "files" : "export";
      if (auto root_user = require_root(name); !root_user) return root_user.error();
      if (auto entered = enter_private_namespace(); !entered) return entered.error();
      auto stores = find_stores(invocation.stores);
      if (!stores) return stores.error();
      if (invocation.command == Command::run) return run_run(*stores, invocation.run, registry, mounter, std::cerr);
      if (invocation.command == Command::files)
        return status(run_files(*stores, invocation.files, registry, mounter, std::cout, std::cerr));
      return status(run_export(*stores, invocation.export_tree, registry, mounter, std::cerr));
    }
    case Command::resolve:
    case Command::images:
    case Command::containers:
    case Command::inspect:
    case Command::verify:
    case Command::diff:
    case Command::which:
    case Command::owner: {
      auto stores = find_stores(invocation.stores);
      if (!stores) return stores.error();
      return status(dispatch_query(invocation, *stores));
    }
    case Command::list:
      return status(run_list(invocation.json, registry, table, std::cout, std::cerr));
    case Command::umount:
      if (auto root_user = require_root("umount"); !root_user) return root_user.error();
      return status(run_umount(invocation.umount, registry, mounter, table, std::cout, std::cerr));
    case Command::cleanup:
      if (auto root_user = require_root("cleanup"); !root_user) return root_user.error();
      return status(run_cleanup(registry, table, std::cout, std::cerr));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (auto guarded = guard_process_start("ovlmount"); !guarded) {
    std::cerr << guarded.error().message() << "\n";
    return static_cast<int>(guarded.error().code);
  }
  if (argc > 0 && is_mount_helper(argv[0])) return run_mount_helper(argc, argv);
  bool running_run = false;
  try {
    auto invocation = parse_command_line(argc, argv);
    if (!invocation) throw Fatal(invocation.error());
    running_run = invocation->command == Command::run;
    return dispatch(*invocation).value();
  } catch (const Fatal& fatal) {
    std::cout.flush();
    std::cerr << fatal.error().message() << "\n";
    return running_run ? run_failure_status : static_cast<int>(fatal.error().code);
  } catch (const std::exception& e) {
    std::cerr << "ovlmount: " << escape(e.what()) << "\n";
    return running_run ? run_failure_status : static_cast<int>(ExitCode::failure);
  }
}
