// Why: see run.hpp. What is written here rather than left to bubblewrap, and why:
//   - the overlay, mounted in ovlmount's own private mount namespace (bwrap binds trees, it
//     does not mount overlays of a store);
//   - the command, user, groups, environment and working dir from the image config and the
//     image's own /etc/passwd and /etc/group (bwrap knows nothing of images);
//   - the 127/126 answer for a command that is missing or not executable (bwrap says 1);
//   - switching to a non-root user (bwrap only does it in a user namespace, which would remap
//     every owner in the image): the static ovlmount-exec-as helper, bound into /dev.
// bwrap is run from a fixed system path with a fixed environment, never found through PATH.
#include "ovlmount/cli/run.hpp"

#include "ovlmount/core/json_output.hpp"
#include "ovlmount/core/paths.hpp"
#include "ovlmount/core/process_guard.hpp"
#include "ovlmount/mount/private_mount.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <cstdlib>
#include <map>
#include <sstream>

namespace ovlmount {
namespace {

constexpr const char* bwrap_paths[] = {"/usr/bin/bwrap", "/bin/bwrap"};
constexpr const char* default_path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr const char* exec_as_inside = "/dev/.ovlmount-exec-as";
constexpr size_t max_account_file = 4 << 20;

// A --bind SRC:DST[:ro], its source resolved on the host.
struct HostBind {
  std::string source;
  std::string destination;
  bool read_only = false;
};

// The user, groups and home a command runs with.
struct Identity {
  unsigned long uid = 0;
  unsigned long gid = 0;
  std::vector<unsigned long> groups;
  std::string home = "/root";
};

// One line of /etc/passwd or /etc/group, split at ':'.
std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ':')) fields.push_back(field);
  if (!line.empty() && line.back() == ':') fields.emplace_back();
  return fields;
}

std::optional<unsigned long> number(const std::string& text) {
  if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const unsigned long value = std::stoul(text);
  if (value >= UINT_MAX) return std::nullopt;
  return value;
}

// The image's /etc/passwd or /etc/group, as rows of fields ("" when the file is missing).
Result<std::vector<std::vector<std::string>>> account_file(const BeneathRoot& tree, const char* path) {
  auto text = tree.read_system_file(path, max_account_file);
  if (!text) return text.error();
  std::vector<std::vector<std::string>> rows;
  if (!*text) return rows;
  std::istringstream in(**text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line.front() != '#') rows.push_back(fields_of(line));
  return rows;
}

// Docker's user spec (user, uid, user:group, uid:gid, ...) resolved in the image's own
// account files, with the supplementary groups that list the user.
Result<Identity> identity_of(const BeneathRoot& tree, const std::string& spec) {
  Identity identity;
  const std::string user_part = spec.substr(0, spec.find(':'));
  const std::string group_part = spec.find(':') == std::string::npos ? "" : spec.substr(spec.find(':') + 1);
  auto passwd = account_file(tree, "etc/passwd");
  if (!passwd) return passwd.error();
  auto group = account_file(tree, "etc/group");
  if (!group) return group.error();
  std::string user_name;
  bool found_user = false;
  for (const auto& row : *passwd) {
    if (row.size() < 7) continue;
    const auto uid = number(row[2]);
    const auto gid = number(row[3]);
    if (!uid || !gid) continue;
    if ((user_part.empty() && *uid == 0) || row[0] == user_part || (number(user_part) && *number(user_part) == *uid)) {
      identity.uid = *uid;
      identity.gid = *gid;
      identity.home = row[5].empty() ? "/" : row[5];
      user_name = row[0];
      found_user = true;
      break;
    }
  }
  if (!found_user) {
    const auto uid = number(user_part);
    if (!user_part.empty() && !uid)
      return not_found("--user " + spec, "no user \"" + user_part + "\" in the image's /etc/passwd");
    identity.uid = uid.value_or(0);
    identity.gid = identity.uid;
    identity.home = "/";
  }
  if (!group_part.empty()) {
    bool found_group = false;
    for (const auto& row : *group) {
      if (row.size() < 3 || !number(row[2])) continue;
      if (row[0] == group_part || (number(group_part) && *number(group_part) == *number(row[2]))) {
        identity.gid = *number(row[2]);
        found_group = true;
        break;
      }
    }
    if (!found_group) {
      const auto gid = number(group_part);
      if (!gid) return not_found("--user " + spec, "no group \"" + group_part + "\" in the image's /etc/group");
      identity.gid = *gid;
    }
  }
  identity.groups.push_back(identity.gid);
  if (!user_name.empty() && group_part.empty()) {
    for (const auto& row : *group) {
      if (row.size() < 4 || !number(row[2])) continue;
      std::istringstream members(row[3]);
      std::string member;
      while (std::getline(members, member, ','))
        if (member == user_name && std::find(identity.groups.begin(), identity.groups.end(), *number(row[2])) ==
                                       identity.groups.end())
          identity.groups.push_back(*number(row[2]));
    }
  }
  return identity;
}

// The environment: the image's Env, PATH and HOME when it has none, then --env.
std::vector<std::string> environment_of(const ImageConfig& config, const RunArgs& args, const Identity& identity) {
  std::map<std::string, std::string> values;
  std::vector<std::string> order;
  const auto set = [&](const std::string& entry) {
    const std::string key = entry.substr(0, entry.find('='));
    if (!values.contains(key)) order.push_back(key);
    values[key] = entry.find('=') == std::string::npos ? "" : entry.substr(entry.find('=') + 1);
  };
  for (const std::string& entry : config.env) set(entry);
  if (!values.contains("PATH")) set(default_path);
  if (!values.contains("HOME")) set("HOME=" + identity.home);
  for (const std::string& entry : args.env) set(entry);
  std::vector<std::string> environment;
  for (const std::string& key : order) environment.push_back(key + "=" + values[key]);
  return environment;
}

// Checks that argv[0] names an executable file of the tree, as execvp would find it with
// `path` (PATH's value); the exit status docker run gives otherwise (127, 126).
Result<std::optional<int>> missing_command(const BeneathRoot& tree, const std::string& command, const std::string& path) {
  std::vector<std::string> candidates;
  if (command.find('/') != std::string::npos) {
    candidates.push_back(command);
  } else {
    std::istringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) candidates.push_back((dir.empty() ? "." : dir) + "/" + command);
  }
  bool found = false;
  for (const std::string& candidate : candidates) {
    const std::string inside = candidate.front() == '/' ? candidate.substr(1) : candidate;
    auto mode = tree.system_mode(inside);
    if (!mode) continue;
    if (!*mode) continue;
    found = true;
    if (S_ISREG(**mode) && (**mode & 0111)) return std::optional<int>();
  }
  return std::optional<int>(found ? 126 : 127);
}

std::string exec_as_helper() {
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  std::vector<std::string> candidates;
  if (n > 0) {
    const std::string exe(self, static_cast<size_t>(n));
    candidates.push_back(exe.substr(0, exe.rfind('/')) + "/ovlmount-exec-as");
  }
  candidates.push_back(std::string(OVLMOUNT_LIBEXECDIR) + "/ovlmount-exec-as");
  for (const std::string& candidate : candidates) {
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 && !(st.st_mode & 022) &&
        (st.st_mode & 0100))
      return candidate;
  }
  return {};
}

std::string bwrap_binary() {
  for (const char* path : bwrap_paths)
    if (::access(path, X_OK) == 0) return path;
  return {};
}

// Makes `path` (absolute, inside the tree) exist as an empty file or dir when the tree is
// writable and it does not, so bwrap has a mount point.
Result<void> ensure_mount_point(const PrivateMount& mount, const BeneathRoot& tree, const std::string& path, bool dir) {
  auto mode = tree.system_mode(path.substr(1));
  if (!mode) return mode.error();
  if (*mode) return {};
  if (mount.plan().read_only())
    return not_found(path, "is not in the read-only tree, so nothing can be bound there");
  const std::string host = mount.root() + path;
  std::error_code ec;
  if (dir) {
    std::filesystem::create_directories(host, ec);
  } else {
    std::filesystem::create_directories(std::filesystem::path(host).parent_path(), ec);
    const int fd = ::open(host.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) ::close(fd);
  }
  auto made = tree.system_mode(path.substr(1));
  if (!made || !*made) return failure(path, "cannot create it as a mount point inside the tree");
  return {};
}

volatile sig_atomic_t command_pid = 0;

// Passes SIGTERM, SIGHUP and SIGQUIT sent to ovlmount (not by the terminal, which signals the
// whole foreground group itself) on to the command, as `docker stop` or `docker kill` would.
void forward_signal(int signal_number, siginfo_t* info, void*) {
  if (command_pid > 0 && info && info->si_code <= 0) ::kill(command_pid, signal_number);
}

// The "child-pid" bwrap reports on its info fd (the command, PID 1 of its namespace); 0 when
// bwrap ended before reporting it.
pid_t read_child_pid(int fd) {
  std::string info;
  char buffer[512];
  while (info.size() < 65536) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    info.append(buffer, static_cast<size_t>(n));
  }
  const size_t key = info.find("\"child-pid\"");
  if (key == std::string::npos) return 0;
  const size_t digits = info.find_first_of("0123456789", key);
  if (digits == std::string::npos) return 0;
  return static_cast<pid_t>(std::strtol(info.c_str() + digits, nullptr, 10));
}

// Runs bwrap with `argv` (after argv[0]: "--info-fd N" is added) and supplementary groups
// `groups`, and waits; the status as a shell reports it.
Result<int> run_and_wait(std::vector<std::string> argv, const std::vector<gid_t>& groups) {
  int info[2];
  if (::pipe2(info, O_CLOEXEC) != 0) return failure("run", "cannot make a pipe: " + errno_text(errno));
  const UniqueFd info_read(info[0]);
  UniqueFd info_write(info[1]);
  argv.insert(argv.begin() + 1, {"--info-fd", std::to_string(info[1])});
  std::vector<char*> raw;
  for (const std::string& arg : argv) raw.push_back(const_cast<char*>(arg.c_str()));
  raw.push_back(nullptr);
  char* const clean_environment[] = {const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nullptr};
  const pid_t pid = ::fork();
  if (pid < 0) return failure("run", "cannot fork: " + errno_text(errno));
  if (pid == 0) {
    if (::setgroups(groups.size(), groups.data()) != 0) ::_exit(run_failure_status);
    ::fcntl(info[1], F_SETFD, 0);
    restore_inherited_limits();
    ::execve(raw[0], raw.data(), clean_environment);
    ::_exit(run_failure_status);
  }
  info_write = UniqueFd();
  struct sigaction forward {};
  forward.sa_sigaction = forward_signal;
  forward.sa_flags = SA_SIGINFO | SA_RESTART;
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  for (const int signal_number : {SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(signal_number, &forward, nullptr);
  ::sigaction(SIGINT, &ignore, nullptr);
  command_pid = read_child_pid(info_read.get());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return failure("run", "cannot wait for bwrap: " + errno_text(errno));
  command_pid = 0;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return run_failure_status;
}

}  // namespace

Result<int> run_run(const Stores& stores, const RunArgs& args, const Registry& registry, Mounter& mounter,
                    std::ostream& err) {
  const std::string bwrap = bwrap_binary();
  if (bwrap.empty()) return not_found("bwrap", "bubblewrap is not installed (apt-get install bubblewrap)");
  auto found = stores.resolve(args.reference, Lookup::any);
  if (!found) return found.error();
  const ImageStore& store = *found->store->store;
  const RootDir& data_root = *found->store->root;
  auto config = store.image_config(found->stack.image_id.substr(7));
  if (!config) return config.error();

  PrivateMountRequest request;
  request.writable = !args.read_only;
  request.devices = args.devices;
  const auto own_dir = [&](const std::string& given, const char* name) -> Result<std::string> {
    char resolved[PATH_MAX];
    if (!::realpath(given.c_str(), resolved)) return not_found(given, std::string(name) + " dir does not exist");
    for (const std::string& root : {data_root.path(), store.volume_root().path()})
      if (paths_overlap(resolved, root)) return usage_error(given, std::string(name) + " overlaps the data root " + root);
    return std::string(resolved);
  };
  if (!args.upper.empty()) {
    auto upper = own_dir(args.upper, "--upper");
    if (!upper) return upper.error();
    auto work = own_dir(args.work, "--work");
    if (!work) return work.error();
    request.upper = *upper;
    request.work = *work;
  }
  std::vector<HostBind> binds;
  for (const std::string& bind : args.binds) {
    const size_t colon = bind.find(':');
    if (colon == std::string::npos || colon == 0) return usage_error("--bind " + bind, "not SRC:DST[:ro]");
    std::string destination = bind.substr(colon + 1);
    bool read_only = false;
    if (destination.ends_with(":ro")) {
      read_only = true;
      destination.resize(destination.size() - 3);
    }
    if (destination.empty() || destination.front() != '/' || destination.find(':') != std::string::npos)
      return usage_error("--bind " + bind, "DST is not an absolute path");
    char source[PATH_MAX];
    if (!::realpath(bind.substr(0, colon).c_str(), source)) return not_found(bind.substr(0, colon), "bind source does not exist");
    for (const std::string& root : {data_root.path(), store.volume_root().path(), registry.dir()})
      if (paths_overlap(source, root))
        return usage_error("--bind " + bind, "overlaps " + root + ", which is never reachable from inside");
    binds.push_back({source, destination, read_only});
  }

  auto mount = PrivateMount::create(found->stack, data_root, registry, mounter, request);
  if (!mount) return mount.error();
  auto tree = BeneathRoot::open(mount->root());
  if (!tree) return tree.error();
  auto identity = identity_of(*tree, args.user.empty() ? config->user : args.user);
  if (!identity) return identity.error();
  const std::vector<std::string> environment = environment_of(*config, args, *identity);
  std::vector<std::string> command = config->entrypoint;
  const std::vector<std::string>& tail = args.command.empty() ? config->cmd : args.command;
  command.insert(command.end(), tail.begin(), tail.end());
  if (command.empty()) return usage_error(args.reference, "no command given and the image has no Entrypoint or Cmd");
  std::string path_value;
  for (const std::string& entry : environment)
    if (entry.starts_with("PATH=")) path_value = entry.substr(5);
  auto missing = missing_command(*tree, command.front(), path_value);
  if (!missing) return missing.error();
  if (*missing) {
    err << failure(command.front(), **missing == 127 ? "executable file not found in the image (or its $PATH)"
                                                     : "not executable")
               .message()
        << "\n";
    return **missing;
  }
  const std::string workdir = !args.workdir.empty() ? args.workdir : !config->working_dir.empty() ? config->working_dir : "/";
  if (auto made = ensure_mount_point(*mount, *tree, workdir, true); !made) return made.error();

  std::vector<std::string> argv{bwrap, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                                "--as-pid-1", "--bind", mount->root(), "/", "--proc", "/proc", "--dev", "/dev",
                                "--tmpfs", "/dev/shm", "--ro-bind", "/sys", "/sys"};
  if (args.net == "none") {
    argv.push_back("--unshare-net");
  } else {
    for (const char* file : {"/etc/resolv.conf", "/etc/hosts"}) {
      if (::access(file, R_OK) != 0) continue;
      if (auto made = ensure_mount_point(*mount, *tree, file, false); !made) {
        err << made.error().message() << " (not bound)\n";
        continue;
      }
      argv.insert(argv.end(), {"--ro-bind", file, file});
    }
  }
  for (const HostBind& bind : binds) {
    struct stat st {};
    const bool is_dir = ::stat(bind.source.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    if (auto made = ensure_mount_point(*mount, *tree, bind.destination, is_dir); !made) return made.error();
    argv.insert(argv.end(), {bind.read_only ? "--ro-bind" : "--bind", bind.source, bind.destination});
  }
  argv.push_back("--clearenv");
  for (const std::string& entry : environment) {
    const size_t equals = entry.find('=');
    argv.insert(argv.end(), {"--setenv", entry.substr(0, equals), entry.substr(equals + 1)});
  }
  argv.insert(argv.end(), {"--chdir", workdir});
  if (identity->uid != 0 || identity->gid != 0) {
    const std::string helper = exec_as_helper();
    if (helper.empty()) return not_found("ovlmount-exec-as", "the helper that switches users is not installed");
    std::string groups;
    for (const unsigned long gid : identity->groups) groups += (groups.empty() ? "" : ",") + std::to_string(gid);
    argv.insert(argv.end(), {"--ro-bind", helper, exec_as_inside, "--", exec_as_inside, std::to_string(identity->uid),
                             std::to_string(identity->gid), groups.empty() ? "-" : groups});
  } else {
    argv.push_back("--");
  }
  argv.insert(argv.end(), command.begin(), command.end());

  auto status = run_and_wait(argv, std::vector<gid_t>(identity->groups.begin(), identity->groups.end()));
  if (!status) return status.error();
  if (args.keep) {
    if (auto kept = mount->keep(); !kept) return kept.error();
    err << "ovlmount: kept the writable layer of this run at " << escape(mount->scratch() + "/upper")
        << " (ovlmount cleanup leaves it; rm -rf " << escape(mount->scratch()) << " when done)\n";
  }
  return *status;
}

}  // namespace ovlmount
