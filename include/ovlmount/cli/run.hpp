// Why: people mount images to use them: chroot in to look around or repair, run a tool from
// the image in a test VM. `run` does the page of manual steps in one command that leaves
// nothing behind: the source is mounted in a mount namespace of its own (writable on a
// scratch upper unless --read-only), and bubblewrap, the sandbox Flatpak relies on, sets up
// /proc, /dev, /sys, the binds and pivot_root and runs the command. It is not a container
// runtime: no cgroups, seccomp, capability dropping or user namespaces.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/mount/mounter.hpp"
#include "ovlmount/mount/registry.hpp"
#include "ovlmount/store/stores.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace ovlmount {

// The exit status of `run` when ovlmount itself fails (docker run's).
inline constexpr int run_failure_status = 125;

// What `run` was asked for.
struct RunArgs {
  std::string reference;               // IMAGE|CONTAINER
  bool read_only = false;              // no upper at all
  std::string upper, work;             // the caller's upper/work (else a scratch upper)
  bool keep = false;                   // keep the scratch upper after the command ends
  std::vector<std::string> binds;      // SRC:DST[:ro]
  std::vector<std::string> env;        // K=V, over the image's Env
  std::string user;                    // UID[:GID] or names from the image's passwd/group
  std::string workdir;                 // over the image's WorkingDir
  std::string net = "none";            // none (only lo) or host
  bool devices = false;                // --dev: device nodes in the rootfs work
  std::vector<std::string> command;    // CMD [ARG...]; empty: the image's Entrypoint + Cmd
};

// Runs `args.command` in the source's tree and returns its exit status as `docker run`
// reports it: the command's, 128+N for signal N, 126 not executable, 127 not found; errors
// of ovlmount itself are returned as errors (main maps them to 125).
Result<int> run_run(const Stores& stores, const RunArgs& args, const Registry& registry, Mounter& mounter,
                    std::ostream& err);

}  // namespace ovlmount
