// Why: the command line is parsed in one place (Boost.Program_options) into plain data, so
// main only dispatches and every usage mistake gets the same one-line error and exit code 2.
#pragma once

#include "ovlmount/cli/commands.hpp"
#include "ovlmount/cli/export.hpp"
#include "ovlmount/cli/files.hpp"
#include "ovlmount/cli/run.hpp"
#include "ovlmount/core/error.hpp"
#include "ovlmount/store/stores.hpp"

#include <string>

namespace ovlmount {

enum class Command {
  help, version, mount, container, resolve, images, containers, inspect, verify, diff, which, owner,
  list, umount, cleanup, run, export_tree, files
};

// A parsed command line.
struct Invocation {
  Command command = Command::help;
  StoreOptions stores;    // where images and containers are looked for
  std::string state_dir;  // absolute
  bool json = false;      // resolve, images, containers, inspect, verify, diff, which, owner, list
  std::string image;      // resolve, inspect, verify, diff, which: the reference; owner: the layer dir
  std::string path;       // which: the path looked up
  bool quick = false;     // verify: metadata only
  bool bodyfile = false;  // diff: Sleuthkit body file
  MountArgs mount;        // mount, container
  UmountArgs umount;
  RunArgs run;
  ExportArgs export_tree;
  FilesArgs files;
};

// Parses argv. `ovlmount IMAGE TARGET` means `mount`; global options may stand anywhere.
// Usage errors name the offending word.
Result<Invocation> parse_command_line(int argc, const char* const argv[]);

// The --help text: commands, options, exit codes.
std::string help_text();

}  // namespace ovlmount
