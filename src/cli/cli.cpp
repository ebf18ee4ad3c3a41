// Why: see cli.hpp. All options are parsed together and then checked against the command,
// so `ovlmount --data-root D mount IMG T` and `ovlmount mount IMG T --data-root D` both work
// and an option that does not belong to the command is a usage error rather than ignored.
#include "ovlmount/cli/cli.hpp"

#include "ovlmount/store/config.hpp"

#include <boost/program_options.hpp>

#include <filesystem>
#include <map>
#include <set>

namespace ovlmount {
namespace {

namespace po = boost::program_options;

const std::map<std::string, Command> command_words = {
    {"mount", Command::mount},     {"container", Command::container}, {"resolve", Command::resolve},
    {"images", Command::images},   {"containers", Command::containers}, {"inspect", Command::inspect},
    {"verify", Command::verify},   {"diff", Command::diff},           {"which", Command::which},
    {"owner", Command::owner},     {"list", Command::list},           {"umount", Command::umount},
    {"unmount", Command::umount},  {"cleanup", Command::cleanup},
};

// Which commands take each command-specific option.
const std::map<std::string, std::set<Command>> option_commands = {
    {"upper", {Command::mount, Command::container}},
    {"work", {Command::mount, Command::container}},
    {"writable", {Command::mount, Command::container}},
    {"dry-run", {Command::mount, Command::container}},
    {"volumes", {Command::container}},
    {"host-binds", {Command::container}},
    {"json",
     {Command::resolve, Command::images, Command::containers, Command::inspect, Command::verify, Command::diff,
      Command::which, Command::owner, Command::list}},
    {"quick", {Command::verify}},
    {"bodyfile", {Command::diff}},
    {"all", {Command::umount, Command::container}},
    {"force", {Command::umount}},
    {"lazy", {Command::umount}},
};

po::options_description all_options() {
  po::options_description options;
  options.add_options()
      ("data-root", po::value<std::string>()->value_name("DIR"), "")
      ("storage-root", po::value<std::string>()->value_name("DIR"), "")
      ("containerd-root", po::value<std::string>()->value_name("DIR"), "")
      ("namespace", po::value<std::string>()->value_name("NS"), "")
      ("platform", po::value<std::string>()->value_name("OS/ARCH"), "")
      ("host-root", po::value<std::string>()->value_name("DIR"), "")
      ("store", po::value<std::string>()->value_name("KIND"), "")
      ("state-dir", po::value<std::string>()->value_name("DIR"), "")
      ("help,h", "")
      ("version", "")
      ("upper", po::value<std::string>(), "")
      ("work", po::value<std::string>(), "")
      ("writable", "")
      ("dry-run", "")
      ("volumes", "")
      ("host-binds", "")
      ("quick", "")
      ("bodyfile", "")
      ("json", "")
      ("all", "")
      ("force", "")
      ("lazy", "")
      ("args", po::value<std::vector<std::string>>()->composing(), "");
  return options;
}

std::string absolute_state_dir(const std::string& dir) {
  std::string path = std::filesystem::absolute(dir).lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string command_name(Command command) {
  for (const auto& [word, value] : command_words)
    if (value == command) return word;
  return "ovlmount";
}

Result<void> expect_arguments(Command command, const std::vector<std::string>& args, size_t count,
                              const char* synopsis) {
  if (args.size() == count) return {};
  return usage_error(command_name(command), std::string(args.size() < count ? "missing" : "too many") +
                                                " arguments; usage: ovlmount " + synopsis);
}

}  // namespace

Result<Invocation> parse_command_line(int argc, const char* const argv[]) {
  po::variables_map values;
  try {
    po::positional_options_description positional;
    positional.add("args", -1);
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(argc, argv).options(all_options()).positional(positional).style(style).run(),
              values);
  } catch (const po::error& e) {
    return usage_error("usage", std::string(e.what()) + " (see ovlmount --help)");
  }

  Invocation invocation;
  if (values.count("help")) return invocation;
  if (values.count("version")) {
    invocation.command = Command::version;
    return invocation;
  }
  std::vector<std::string> args;
  if (values.count("args")) args = values["args"].as<std::vector<std::string>>();
  if (args.empty()) return usage_error("usage", "no command given (see ovlmount --help)");

  if (const auto word = command_words.find(args.front()); word != command_words.end()) {
    invocation.command = word->second;
    args.erase(args.begin());
  } else if (args.size() == 2) {
    invocation.command = Command::mount;
  } else {
    return usage_error(args.front(), "unknown command (see ovlmount --help)");
  }

  for (const auto& [option, commands] : option_commands)
    if (values.count(option) && !commands.contains(invocation.command))
      return usage_error("--" + option, "not an option of " + command_name(invocation.command));

  if (values.count("data-root")) invocation.stores.data_root = values["data-root"].as<std::string>();
  if (values.count("storage-root")) invocation.stores.storage_root = values["storage-root"].as<std::string>();
  if (values.count("host-root")) invocation.stores.host_root = values["host-root"].as<std::string>();
  if (values.count("containerd-root"))
    invocation.stores.containerd_root = values["containerd-root"].as<std::string>();
  if (values.count("namespace")) invocation.stores.containerd_namespace = values["namespace"].as<std::string>();
  if (values.count("platform")) {
    auto platform = parse_platform(values["platform"].as<std::string>());
    if (!platform) return platform.error();
    invocation.stores.platform = std::move(*platform);
  }
  if (values.count("store")) {
    invocation.stores.only = values["store"].as<std::string>();
    if (invocation.stores.only != "docker" && invocation.stores.only != "containers-storage" &&
        invocation.stores.only != "containerd")
      return usage_error("--store",
                         "\"" + invocation.stores.only + "\" is not a store kind (docker, containers-storage, containerd)");
  }
  if ((!invocation.stores.data_root.empty() || !invocation.stores.storage_root.empty() ||
       !invocation.stores.containerd_root.empty()) &&
      values.count("host-root"))
    return usage_error("--host-root",
                       "not used with --data-root, --storage-root or --containerd-root (which name the stores themselves)");
  invocation.state_dir =
      absolute_state_dir(values.count("state-dir") ? values["state-dir"].as<std::string>() : default_state_dir);
  invocation.json = values.count("json") > 0;

  invocation.quick = values.count("quick") > 0;
  invocation.bodyfile = values.count("bodyfile") > 0;

  switch (invocation.command) {
    case Command::mount:
    case Command::container: {
      const bool container = invocation.command == Command::container;
      invocation.mount.kind = container ? SourceKind::container : SourceKind::image;
      invocation.mount.all = values.count("all") > 0;
      invocation.mount.volumes = values.count("volumes") > 0;
      invocation.mount.host_binds = values.count("host-binds") > 0;
      if (invocation.mount.all) {
        if (auto ok = expect_arguments(invocation.command, args, 1, "container --all [--volumes] DIR"); !ok)
          return ok.error();
        invocation.mount.target = args[0];
      } else {
        if (auto ok = expect_arguments(invocation.command, args, 2,
                                       container ? "container [--volumes [--host-binds]] [--upper DIR --work DIR | "
                                                   "--writable] CONTAINER TARGET"
                                                 : "mount [--upper DIR --work DIR | --writable] IMAGE TARGET");
            !ok)
          return ok.error();
        invocation.mount.image = args[0];
        invocation.mount.target = args[1];
      }
      if (invocation.mount.host_binds && !invocation.mount.volumes)
        return usage_error("--host-binds", "goes with --volumes");
      if (values.count("upper")) invocation.mount.upper = values["upper"].as<std::string>();
      if (values.count("work")) invocation.mount.work = values["work"].as<std::string>();
      invocation.mount.writable = values.count("writable") > 0;
      invocation.mount.dry_run = values.count("dry-run") > 0;
      if (invocation.mount.upper.empty() != invocation.mount.work.empty())
        return usage_error(invocation.mount.upper.empty() ? "--work" : "--upper", "--upper and --work go together");
      if (invocation.mount.writable && !invocation.mount.upper.empty())
        return usage_error("--writable", "makes its own upper/work dirs; do not combine it with --upper/--work");
      break;
    }
    case Command::resolve:
      if (auto ok = expect_arguments(invocation.command, args, 1, "resolve [--json] IMAGE"); !ok) return ok.error();
      invocation.image = args[0];
      break;
    case Command::images:
    case Command::containers:
      if (auto ok = expect_arguments(invocation.command, args, 0,
                                     invocation.command == Command::images ? "images [--json]" : "containers [--json]");
          !ok)
        return ok.error();
      break;
    case Command::inspect:
    case Command::verify:
    case Command::diff:
    case Command::owner: {
      const char* synopsis = invocation.command == Command::inspect  ? "inspect [--json] IMAGE|CONTAINER"
                             : invocation.command == Command::verify ? "verify [--json] [--quick] IMAGE|CONTAINER"
                             : invocation.command == Command::diff   ? "diff [--json | --bodyfile] CONTAINER"
                                                                     : "owner [--json] LAYER-DIR";
      if (auto ok = expect_arguments(invocation.command, args, 1, synopsis); !ok) return ok.error();
      invocation.image = args[0];
      if (invocation.json && invocation.bodyfile) return usage_error("--bodyfile", "not used with --json");
      break;
    }
    case Command::which:
      if (auto ok = expect_arguments(invocation.command, args, 2, "which [--json] IMAGE|CONTAINER PATH"); !ok)
        return ok.error();
      invocation.image = args[0];
      invocation.path = args[1];
      break;
    case Command::umount:
      invocation.umount.all = values.count("all") > 0;
      invocation.umount.force = values.count("force") > 0;
      invocation.umount.lazy = values.count("lazy") > 0;
      if (auto ok = expect_arguments(invocation.command, args, invocation.umount.all ? 0 : 1,
                                     "umount [--force] [--lazy] TARGET | umount --all");
          !ok)
        return ok.error();
      if (!invocation.umount.all) invocation.umount.target = args[0];
      if (invocation.umount.all && invocation.umount.force)
        return usage_error("--force", "not used with --all (which unmounts only recorded targets)");
      break;
    case Command::list:
      if (auto ok = expect_arguments(invocation.command, args, 0, "list [--json]"); !ok) return ok.error();
      break;
    case Command::cleanup:
      if (auto ok = expect_arguments(invocation.command, args, 0, "cleanup"); !ok) return ok.error();
      break;
    case Command::help:
    case Command::version: break;
  }
  return invocation;
}

std::string help_text() {
  return R"(Usage:
  ovlmount [OPTIONS] IMAGE TARGET          mount IMAGE read-only at TARGET (same as mount)
  ovlmount [OPTIONS] mount [--upper DIR --work DIR | --writable] [--dry-run] IMAGE TARGET
  ovlmount [OPTIONS] container [--volumes [--host-binds]] [--upper DIR --work DIR | --writable]
                               [--dry-run] CONTAINER TARGET
  ovlmount [OPTIONS] container --all [--volumes [--host-binds]] DIR
  ovlmount [OPTIONS] resolve [--json] IMAGE
  ovlmount [OPTIONS] images [--json]
  ovlmount [OPTIONS] containers [--json]
  ovlmount [OPTIONS] inspect [--json] IMAGE|CONTAINER
  ovlmount [OPTIONS] verify [--json] [--quick] IMAGE|CONTAINER
  ovlmount [OPTIONS] diff [--json | --bodyfile] CONTAINER
  ovlmount [OPTIONS] which [--json] IMAGE|CONTAINER PATH
  ovlmount [OPTIONS] owner [--json] LAYER-DIR
  ovlmount [OPTIONS] list [--json]
  ovlmount [OPTIONS] umount [--force] [--lazy] TARGET
  ovlmount [OPTIONS] umount --all [--lazy]
  ovlmount [OPTIONS] cleanup

Mounts a Docker image or container from Docker's overlay2 store as an overlayfs, read-only by
default, and answers forensic questions about it, without a daemon and without touching the
store (no write, no lock, no timestamp change). IMAGE is a reference (nginx, nginx:1.25,
docker.io/library/nginx:latest, registry.local:5000/team/app:v1, name@sha256:<digest>), a full
image ID (with or without sha256:) or a unique ID prefix. CONTAINER is a full ID, a name (with
or without the leading /) or a unique ID prefix. IMAGE|CONTAINER: a container first, then an
image. LAYER-DIR: a directory name under <data-root>/overlay2 (cache-id, mount-id,
<mount-id>-init) or an overlay2/l/ link name.

Commands:
  mount       resolve IMAGE, record the mount under the state dir, mount it at TARGET
  container   the same for a container: its writable and init layers on its image's layers
  resolve     print the verified layer stack of IMAGE and the mount options; mount nothing
  images      every image: ID, references, layers, size, created
  containers  every container: ID, name, image, state, created
  inspect     the whole resolution walk, layer by layer
  verify      check metadata digests and rebuild each layer's tar stream against its diff_id;
              name every file that differs
  diff        what a container changed (as docker diff), or a Sleuthkit body file
  which       the layer that provides PATH, or hides it
  owner       the images and containers that use a layer dir: overlay2/LAYER-DIR, a
              containers-storage layer ID or a containerd snapshot number
  list        show recorded mounts, each "mounted" or "gone" according to the kernel
  umount      unmount a recorded TARGET (and its volume binds), forget it, remove scratch dirs
  cleanup     forget records whose mount is gone; remove scratch dirs no record owns

Options:
  --host-root DIR  the root of the system whose stores are read (default /; a seized disk
                   mounted somewhere): its etc/docker/daemon.json (data-root, default
                   /var/lib/docker), etc/containers/storage.conf (graphroot, default
                   /var/lib/containers/storage) and etc/containerd/config.toml (root, default
                   /var/lib/containerd) name the stores; every store found there is searched
  --data-root DIR  a Docker data root (overlay2 or containerd image store): search only the
                   stores given with --data-root, --storage-root and --containerd-root
  --storage-root DIR  a containers-storage graph root (podman, CRI-O, buildah)
  --containerd-root DIR  a containerd root (every namespace of it, or --namespace); also where
                   a --data-root using the containerd image store has its images, when they are
                   not below it (DIR/containerd/daemon)
  --namespace NS   search only containerd namespace NS (k8s.io, moby, default, ...)
  --platform OS/ARCH[/VARIANT]  the manifest of a multi-platform image to use in containerd
                   stores (default: the running kernel's, such as linux/amd64)
  --store KIND     search only stores of KIND: docker, containers-storage or containerd
  --state-dir DIR  where mount records and scratch dirs are kept (default /run/ovlmount)
  --upper DIR      mount, container: writable, changes go to DIR (created if missing; with --work)
  --work DIR       mount, container: overlay work dir, empty, on the same filesystem as --upper
  --writable       mount, container: writable, on scratch dirs under the state dir removed at umount
  --dry-run        mount, container: print the plan, change nothing
  --volumes        container: also bind its named volumes read-only at their mount points
  --host-binds     container --volumes: also bind sources outside the data root (live hosts only:
                   on a copy they name paths of the analyst's machine)
  --all            container: every container at DIR/<name>; umount: every recorded mount
  --quick          verify: metadata only, no content
  --bodyfile       diff: print a Sleuthkit body file (MD5|name|inode|mode|UID|GID|size|atime|...)
  --json           resolve, images, containers, inspect, verify, diff, which, owner, list: JSON
  --force          umount: also a target ovlmount did not mount
  --lazy           umount: detach now, finish when no longer busy
  -h, --help       print this help
  --version        print the version

Exit codes:
  0  success
  1  other failure (for example: mount, container, umount and cleanup need root)
  2  usage error
  3  not found (image, container, layer, tracked target, path, owner; also an ambiguous ID prefix)
  4  corrupt or untrusted store (digest mismatch, malformed JSON, invalid ID); verify found a difference
  5  mount or unmount failed
)";
}

}  // namespace ovlmount
