// Why: see cli.hpp. All options are parsed together and then checked against the command,
// so `ovlmount --data-root D mount IMG T` and `ovlmount mount IMG T --data-root D` both work
// and an option that does not belong to the command is a usage error rather than ignored.
#include "ovlmount/cli/cli.hpp"

#include "ovlmount/core/paths.hpp"
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
    {"unmount", Command::umount},  {"cleanup", Command::cleanup},     {"run", Command::run},
    {"export", Command::export_tree}, {"files", Command::files},
};

// Which commands take each command-specific option.
const std::map<std::string, std::set<Command>> option_commands = {
    {"upper", {Command::mount, Command::container, Command::run}},
    {"work", {Command::mount, Command::container, Command::run}},
    {"writable", {Command::mount, Command::container}},
    {"dry-run", {Command::mount, Command::container}},
    {"volumes", {Command::container}},
    {"host-binds", {Command::container}},
    {"json",
     {Command::resolve, Command::images, Command::containers, Command::inspect, Command::verify, Command::diff,
      Command::which, Command::owner, Command::list, Command::files}},
    {"read-only", {Command::run}},
    {"keep", {Command::run}},
    {"bind", {Command::run}},
    {"env", {Command::run}},
    {"user", {Command::run}},
    {"workdir", {Command::run}},
    {"net", {Command::run}},
    {"dev", {Command::run}},
    {"output", {Command::export_tree}},
    {"format", {Command::export_tree}},
    {"reproducible", {Command::export_tree}},
    {"csv", {Command::files}},
    {"hash", {Command::files}},
    {"layer", {Command::files}},
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
      ("read-only", "")
      ("keep", "")
      ("bind", po::value<std::vector<std::string>>()->composing(), "")
      ("env", po::value<std::vector<std::string>>()->composing(), "")
      ("user", po::value<std::string>(), "")
      ("workdir", po::value<std::string>(), "")
      ("net", po::value<std::string>(), "")
      ("dev", "")
      ("output,o", po::value<std::string>(), "")
      ("format", po::value<std::string>(), "")
      ("reproducible", "")
      ("csv", "")
      ("hash", po::value<std::string>(), "")
      ("layer", "")
      ("args", po::value<std::vector<std::string>>()->composing(), "");
  return options;
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
      resolved_path(values.count("state-dir") ? values["state-dir"].as<std::string>() : default_state_dir);
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
    case Command::run: {
      RunArgs& run = invocation.run;
      if (args.empty()) return usage_error("run", "no IMAGE|CONTAINER given (see ovlmount --help)");
      run.reference = args[0];
      run.command.assign(args.begin() + 1, args.end());
      run.read_only = values.count("read-only") > 0;
      run.keep = values.count("keep") > 0;
      run.devices = values.count("dev") > 0;
      if (values.count("upper")) run.upper = values["upper"].as<std::string>();
      if (values.count("work")) run.work = values["work"].as<std::string>();
      if (values.count("bind")) run.binds = values["bind"].as<std::vector<std::string>>();
      if (values.count("env")) run.env = values["env"].as<std::vector<std::string>>();
      if (values.count("user")) run.user = values["user"].as<std::string>();
      if (values.count("workdir")) run.workdir = values["workdir"].as<std::string>();
      if (values.count("net")) run.net = values["net"].as<std::string>();
      if (run.upper.empty() != run.work.empty())
        return usage_error(run.upper.empty() ? "--work" : "--upper", "--upper and --work go together");
      if (run.read_only && (!run.upper.empty() || run.keep))
        return usage_error("--read-only", "has no upper dir: not with --upper/--work or --keep");
      if (!run.upper.empty() && run.keep) return usage_error("--keep", "keeps the scratch upper; --upper is yours anyway");
      if (run.net != "none" && run.net != "host") return usage_error("--net", "\"" + run.net + "\" is not none or host");
      for (const std::string& env : run.env)
        if (env.empty() || env.front() == '=' || env.find('=') == std::string::npos)
          return usage_error("--env", "\"" + env + "\" is not K=V");
      if (!run.workdir.empty() && run.workdir.front() != '/')
        return usage_error("--workdir", "\"" + run.workdir + "\" is not an absolute path");
      break;
    }
    case Command::export_tree: {
      ExportArgs& exported = invocation.export_tree;
      if (auto ok = expect_arguments(invocation.command, args, 1,
                                     "export [-o FILE|-] [--format tar|tar.gz|tar.zst] [--reproducible] IMAGE|CONTAINER");
          !ok)
        return ok.error();
      exported.reference = args[0];
      if (values.count("output")) exported.output = values["output"].as<std::string>();
      if (values.count("format")) exported.format = values["format"].as<std::string>();
      exported.reproducible = values.count("reproducible") > 0;
      if (exported.format != "tar" && exported.format != "tar.gz" && exported.format != "tar.zst")
        return usage_error("--format", "\"" + exported.format + "\" is not tar, tar.gz or tar.zst");
      break;
    }
    case Command::files: {
      FilesArgs& files = invocation.files;
      if (args.empty())
        return usage_error("files", "no IMAGE|CONTAINER given (files [--json|--csv] [--hash sha256|none] [--layer] "
                                    "IMAGE|CONTAINER [PATH...])");
      files.reference = args[0];
      files.paths.assign(args.begin() + 1, args.end());
      if (invocation.json && values.count("csv")) return usage_error("--csv", "not used with --json");
      files.format = invocation.json ? "json" : values.count("csv") ? "csv" : "text";
      if (values.count("hash")) files.hash = values["hash"].as<std::string>();
      if (files.hash != "sha256" && files.hash != "none")
        return usage_error("--hash", "\"" + files.hash + "\" is not sha256 or none");
      files.layer = values.count("layer") > 0;
      for (const std::string& path : files.paths)
        if (path.empty() || path.front() != '/') return usage_error(path, "not an absolute path inside the image");
      break;
    }
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
  ovlmount [OPTIONS] run [--read-only | --upper DIR --work DIR] [--keep] [--bind SRC:DST[:ro]]...
                         [--env K=V]... [--user UID[:GID]] [--workdir DIR] [--net none|host] [--dev]
                         IMAGE|CONTAINER [-- CMD [ARG...]]
  ovlmount [OPTIONS] export [-o FILE|-] [--format tar|tar.gz|tar.zst] [--reproducible] IMAGE|CONTAINER
  ovlmount [OPTIONS] files [--json|--csv] [--hash sha256|none] [--layer] IMAGE|CONTAINER [PATH...]
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
  cleanup     forget records whose mount is gone; remove scratch dirs no record or process owns
  run         run CMD (default: the image's Entrypoint + Cmd) inside the tree, with bubblewrap:
              a private mount namespace, a new PID namespace, /proc, /sys read-only, a small
              /dev, pivot_root; writable on a scratch upper removed at exit unless --keep.
              NOT a container runtime: no cgroups, seccomp, capability dropping or user
              namespaces (use podman or docker for isolation). Exit status: the command's;
              128+N for signal N; 126 not executable; 127 not found; 125 ovlmount's own error
  export      write the merged tree as a tar stream (as docker export), without a daemon
  files       one row per path of the merged tree: type, mode, owner, size, mtime, link, sha256

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
  --read-only      run: no upper dir at all (writes fail)
  --keep           run: keep the scratch upper after the command (its path is printed)
  --bind SRC:DST[:ro]  run: bind a host path into the tree (repeatable)
  --env K=V        run: set an environment variable over the image's Env (repeatable)
  --user U[:G]     run: user and group, numbers or names from the image's /etc/passwd, /etc/group
  --workdir DIR    run: the working directory (default: the image's WorkingDir, else /)
  --net none|host  run: none (default: a new network namespace with only lo) or the host's
                   network with its /etc/resolv.conf and /etc/hosts bound read-only
  --dev            run: allow device nodes in the tree (default nodev)
  -o, --output FILE  export: write to FILE (default - : stdout)
  --format F       export: tar (default), tar.gz or tar.zst
  --reproducible   export: every mtime set to 0
  --csv            files: CSV instead of text
  --hash H         files: sha256 (default) or none
  --layer          files: also the layer that provides each path
  -h, --help       print this help
  --version        print the version

Exit codes:
  0  success
  1  other failure (for example: mount, container, umount and cleanup need root)
  2  usage error
  3  not found (image, container, layer, tracked target, path, owner; also an ambiguous ID prefix)
  4  corrupt or untrusted store (digest mismatch, malformed JSON, invalid ID); verify found a difference
  5  mount or unmount failed
  run: the command's own status instead (see run above), 125 for any error of ovlmount's
)";
}

}  // namespace ovlmount
