// Why: see stores.hpp. Config files and store roots are resolved inside the host root
// (RESOLVE_IN_ROOT), so a seized disk's absolute symlinks (/var/lib/docker -> /data/docker)
// lead where they led on that host, never onto the analyst's machine.
#include "ovlmount/store/stores.hpp"

#include "ovlmount/store/config.hpp"
#include "ovlmount/store/containerd_store.hpp"
#include "ovlmount/store/containers_storage.hpp"
#include "ovlmount/store/docker_containerd_store.hpp"
#include "ovlmount/store/docker_store.hpp"

#include <algorithm>
#include <functional>

namespace ovlmount {
namespace {

constexpr size_t max_config_size = 1 << 20;
constexpr size_t max_candidates_listed = 8;

bool is_absent(const Error& error) {
  return error.code == ExitCode::not_found && error.problem.starts_with("no such");
}

// Opens a store of the root it is given and adds it to `stores`; not_found when the root holds
// no store of its kind.
using Opener = std::function<Result<void>(Stores&, std::unique_ptr<BeneathRoot>)>;

// Opens the containerd root a Docker data root's images are in, when that is not below the
// data root; nullptr when none was given or configured.
using ContainerdRootOpener = std::function<Result<std::unique_ptr<BeneathRoot>>()>;

// A containerd namespace a Docker store already reads, not to be listed again on its own.
struct ClaimedNamespace {
  std::string root;  // the containerd root's canonical path
  std::string ns;
};

// How Docker's data root is to be read (from daemon.json when found through the host root).
struct DockerPlacement {
  DockerConfig config;
  ContainerdRootOpener system_containerd_root;
  Platform platform;
  std::vector<ClaimedNamespace>* claimed = nullptr;
};

// Adds Docker's store of `data_root`: overlay2, or the containerd image store (images in
// dockerd's own containerd below the data root, else in the system's), whose namespace is
// then claimed.
Result<void> add_docker(Stores& stores, std::unique_ptr<BeneathRoot> data_root, const DockerPlacement& placement) {
  auto containerd_mode = DockerContainerdStore::is_used(*data_root, placement.config.containerd_snapshotter);
  if (!containerd_mode) return containerd_mode.error();
  if (!*containerd_mode) {
    auto store = DockerStore::open(*data_root);
    if (!store) return store.error();
    const RootDir& root = *data_root;
    stores.add("docker", root, std::make_unique<DockerStore>(std::move(*store)), std::move(data_root));
    return {};
  }
  std::unique_ptr<BeneathRoot> containerd_root;
  if (placement.config.containerd.empty()) {
    auto own = DockerContainerdStore::own_containerd_root(*data_root);
    if (!own) return own.error();
    if (*own) {
      auto root = data_root->open_subdir(**own);
      if (!root) return root.error();
      containerd_root = std::make_unique<BeneathRoot>(std::move(*root));
    }
  }
  if (!containerd_root) {
    auto system = placement.system_containerd_root();
    if (!system) return system.error();
    if (!*system)
      return not_found(data_root->path(), "uses Docker's containerd image store, and no containerd root holds its "
                                          "images (give --containerd-root)");
    containerd_root = std::move(*system);
  }
  const std::string containerd_path = containerd_root->path();
  auto store = DockerContainerdStore::open(std::move(data_root), std::move(containerd_root),
                                           placement.config.containerd_namespace, placement.platform);
  if (!store) return store.error();
  placement.claimed->push_back({containerd_path, placement.config.containerd_namespace});
  const RootDir& root = store->root();
  stores.add("docker", root, std::make_unique<DockerContainerdStore>(std::move(*store)));
  return {};
}

Result<void> add_containers_storage(Stores& stores, std::unique_ptr<BeneathRoot> root) {
  auto store = ContainersStorage::open(*root);
  if (!store) return store.error();
  const RootDir& root_ref = *root;
  stores.add("containers-storage", root_ref, std::make_unique<ContainersStorage>(std::move(*store)), std::move(root));
  return {};
}

Result<void> add_explicit(Stores& stores, const std::string& path, const Opener& open) {
  auto root = BeneathRoot::open(path);
  if (!root) return root.error();
  return open(stores, std::make_unique<BeneathRoot>(std::move(*root)));
}

// Adds the store at `path` of the host when it is there; a store that is there but broken
// is an error, one that is absent is skipped (and why goes to `skipped`).
Result<void> add_found(Stores& stores, const BeneathRoot& host, const std::string& path, const Opener& open,
                       std::vector<Error>& skipped) {
  auto root = host.open_system_dir(path.substr(std::min(path.find_first_not_of('/'), path.size())));
  if (!root) {
    if (root.error().code != ExitCode::not_found) return root.error();
    skipped.push_back(root.error());
    return {};
  }
  auto added = open(stores, std::make_unique<BeneathRoot>(std::move(*root)));
  if (!added) {
    if (added.error().code != ExitCode::not_found) return added.error();
    skipped.push_back(added.error());
  }
  return {};
}

// Adds one store per containerd namespace of `root` (only options.containerd_namespace when
// set) that no Docker store reads already; a root without containerd metadata adds nothing and says why in
// `skipped`.
Result<void> add_containerd(Stores& stores, std::unique_ptr<BeneathRoot> root, const StoreOptions& options,
                            const std::vector<ClaimedNamespace>& claimed, std::vector<Error>& skipped) {
  auto namespaces = ContainerdStore::namespaces(*root);
  if (!namespaces) {
    if (namespaces.error().code != ExitCode::not_found) return namespaces.error();
    skipped.push_back(namespaces.error());
    return {};
  }
  const RootDir* shared_root = root.get();
  bool root_given_away = false;
  for (const std::string& ns : *namespaces) {
    if (!options.containerd_namespace.empty() && ns != options.containerd_namespace) continue;
    if (std::any_of(claimed.begin(), claimed.end(),
                    [&](const ClaimedNamespace& c) { return c.root == shared_root->path() && c.ns == ns; }))
      continue;
    auto store = ContainerdStore::open(*shared_root, ns, {options.platform, ImageIdentity::config});
    if (!store) return store.error();
    stores.add("containerd/" + ns, *shared_root, std::make_unique<ContainerdStore>(std::move(*store)),
               root_given_away ? nullptr : std::move(root));
    root_given_away = true;
  }
  return {};
}

Result<std::string> configured_containerd_root(const BeneathRoot& host) {
  auto text = host.read_system_file(containerd_config_path, max_config_size);
  if (!text) return text.error();
  if (!*text) return std::string(default_containerd_root);
  return parse_containerd_config(**text, host.absolute(containerd_config_path));
}

Result<DockerConfig> configured_docker(const BeneathRoot& host) {
  auto text = host.read_system_file(daemon_json_path, max_config_size);
  if (!text) return text.error();
  if (!*text) return DockerConfig();
  return parse_daemon_json(**text, host.absolute(daemon_json_path));
}

Result<std::string> configured_storage_root(const BeneathRoot& host) {
  for (const char* path : {storage_conf_path, storage_conf_default_path}) {
    auto text = host.read_system_file(path, max_config_size);
    if (!text) return text.error();
    if (*text) return parse_storage_conf(**text, host.absolute(path));
  }
  return std::string(default_storage_root);
}

}  // namespace

void Stores::add(std::string label, const RootDir& root, std::unique_ptr<ImageStore> store,
                 std::unique_ptr<RootDir> owned_root) {
  entries_.push_back({std::move(label), &root, std::move(store), std::move(owned_root)});
}

Result<Resolved> Stores::resolve(std::string_view reference, Lookup lookup) const {
  std::vector<Resolved> found;
  std::optional<Error> first_error;
  for (const StoreEntry& entry : entries_) {
    Result<Stack> stack = lookup == Lookup::image       ? resolve_image(*entry.store, reference)
                          : lookup == Lookup::container ? resolve_container(*entry.store, reference)
                                                        : resolve_any(*entry.store, reference);
    if (stack) {
      found.push_back({&entry, std::move(*stack)});
    } else if (entries_.size() == 1 || !is_absent(stack.error())) {
      if (!first_error) first_error = stack.error();
    }
  }
  if (found.size() == 1) return std::move(found.front());
  if (found.empty()) {
    if (first_error) return *first_error;
    return not_found(std::string(reference), lookup == Lookup::container ? "no such container" : "no such image");
  }
  std::string list;
  for (size_t i = 0; i < found.size() && i < max_candidates_listed; ++i) {
    const Stack& stack = found[i].stack;
    list += (i ? "; " : "") + found[i].store->label + ": " + std::string(reference) + " -> " +
            (stack.container ? stack.container->id.substr(0, 12) : stack.image_id.substr(7, 12));
  }
  return not_found(std::string(reference), "ambiguous, found in " + std::to_string(found.size()) +
                                               " stores (name the store with --store): " + list);
}

Result<Stores> find_stores(const StoreOptions& options) {
  Stores stores;
  const bool explicit_roots =
      !options.data_root.empty() || !options.storage_root.empty() || !options.containerd_root.empty();
  const bool want_docker = options.only.empty() || options.only == "docker";
  const bool want_storage = options.only.empty() || options.only == "containers-storage";
  const bool want_containerd = options.only.empty() || options.only == "containerd";
  std::vector<Error> skipped;
  std::vector<ClaimedNamespace> claimed;
  DockerPlacement docker{{}, {}, options.platform, &claimed};
  if (explicit_roots) {
    docker.system_containerd_root = [&]() -> Result<std::unique_ptr<BeneathRoot>> {
      if (options.containerd_root.empty()) return std::unique_ptr<BeneathRoot>();
      auto root = BeneathRoot::open(options.containerd_root);
      if (!root) return root.error();
      return std::make_unique<BeneathRoot>(std::move(*root));
    };
    const auto open_docker = [&](Stores& s, std::unique_ptr<BeneathRoot> root) { return add_docker(s, std::move(root), docker); };
    if (!options.data_root.empty() && want_docker)
      if (auto added = add_explicit(stores, options.data_root, open_docker); !added) return added.error();
    if (!options.storage_root.empty() && want_storage)
      if (auto added = add_explicit(stores, options.storage_root, add_containers_storage); !added) return added.error();
    if (!options.containerd_root.empty() && want_containerd) {
      auto root = BeneathRoot::open(options.containerd_root);
      if (!root) return root.error();
      if (auto added = add_containerd(stores, std::make_unique<BeneathRoot>(std::move(*root)), options, claimed, skipped);
          !added)
        return added.error();
      if (stores.entries().empty() && !skipped.empty()) return skipped.front();
    }
  } else {
    auto host = BeneathRoot::open(options.host_root);
    if (!host) return host.error();
    const auto open_containerd_root = [&]() -> Result<std::unique_ptr<BeneathRoot>> {
      auto path = configured_containerd_root(*host);
      if (!path) return path.error();
      auto root = host->open_system_dir(path->substr(std::min(path->find_first_not_of('/'), path->size())));
      if (!root) {
        if (root.error().code == ExitCode::not_found) return std::unique_ptr<BeneathRoot>();
        return root.error();
      }
      return std::make_unique<BeneathRoot>(std::move(*root));
    };
    if (want_docker) {
      auto config = configured_docker(*host);
      if (!config) return config.error();
      docker.config = std::move(*config);
      docker.system_containerd_root = open_containerd_root;
      const auto open_docker = [&](Stores& s, std::unique_ptr<BeneathRoot> root) { return add_docker(s, std::move(root), docker); };
      if (auto added = add_found(stores, *host, docker.config.data_root, open_docker, skipped); !added) return added.error();
    }
    if (want_storage) {
      auto path = configured_storage_root(*host);
      if (!path) return path.error();
      if (auto added = add_found(stores, *host, *path, add_containers_storage, skipped); !added) return added.error();
    }
    if (want_containerd) {
      auto root = open_containerd_root();
      if (!root) return root.error();
      if (*root)
        if (auto added = add_containerd(stores, std::move(*root), options, claimed, skipped); !added) return added.error();
    }
    if (stores.entries().empty()) {
      const auto explained = std::find_if(skipped.begin(), skipped.end(),
                                          [](const Error& error) { return error.problem.find("containerd image store") != std::string::npos; });
      if (explained != skipped.end()) return *explained;
    }
  }
  if (stores.entries().empty())
    return not_found(explicit_roots ? std::string("--store ") + options.only : options.host_root,
                     explicit_roots ? "the given roots hold no store of that kind"
                                    : "no image store found (looked for Docker's data root and containers-storage's "
                                      "graph root as the host's config files name them)");
  return stores;
}

}  // namespace ovlmount
