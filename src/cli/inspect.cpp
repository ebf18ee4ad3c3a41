// Why: see inspect.hpp. The JSON extends resolve's, so a script written for `resolve --json`
// reads `inspect --json` too.
#include "ovlmount/cli/inspect.hpp"

#include "ovlmount/cli/commands.hpp"
#include "ovlmount/core/json_output.hpp"
#include "ovlmount/forensics/layer_verify.hpp"

#include <boost/json.hpp>

#include <ostream>

namespace ovlmount {

namespace json = boost::json;

namespace {

// The directory name of `stack`'s init layer, or null when it has none.
json::value init_id(const Stack& stack) {
  for (const Layer& layer : stack.layers)
    if (layer.role == LayerRole::init) return json::value(layer.cache_id);
  return nullptr;
}

}  // namespace

Result<void> run_inspect(const Stores& stores, const std::string& reference, bool json, std::ostream& out) {
  auto found = stores.resolve(reference, Lookup::any);
  if (!found) return found.error();
  const RootDir& data_root = *found->store->root;
  const ImageStore* store = found->store->store.get();
  const RootDir& volume_root = store->volume_root();
  const Stack* stack = &found->stack;
  auto all_references = store->references();
  if (!all_references) return all_references.error();
  std::vector<std::string> names;
  if (const auto refs = all_references->find(stack->image_id.substr(7)); refs != all_references->end())
    names = refs->second;

  std::vector<std::string> links;
  for (const Layer& layer : stack->layers) links.push_back(store->link_name(layer.cache_id));
  std::optional<TreeSize> writable_size;
  if (stack->container) {
    auto size = tree_size(data_root, stack->layers.back().dir);
    if (!size) return size.error();
    writable_size = *size;
  }

  if (json) {
    json::object document = resolve_json(*stack, data_root.path());
    document["kind"] = stack->is_container() ? "container" : "image";
    document["store"] = found->store->label;
    json::array refs;
    for (const auto& name : names) refs.emplace_back(name);
    document["references"] = std::move(refs);
    document["created"] = string_or_null(stack->created);
    document["config_digest"] = "ok";
    json::array& layers = document["layers"].as_array();
    for (size_t i = 0; i < stack->layers.size(); ++i) {
      const Layer& layer = stack->layers[i];
      json::object& entry = layers[i].as_object();
      entry["index"] = i + 1;
      entry["role"] = role_name(layer.role);
      entry["diff_id"] = string_or_null(layer.diff_id);
      entry["chain_id"] = string_or_null(layer.chain_id);
      entry["link"] = string_or_null(links[i]);
      entry["size"] = layer.size >= 0 ? json::value(layer.size) : json::value(nullptr);
      entry["exists"] = true;
    }
    if (const auto& container = stack->container) {
      json::array volumes;
      for (const VolumeMount& volume : container->mounts)
        volumes.push_back(json::object{{"destination", volume.destination},
                                       {"type", volume.type},
                                       {"name", string_or_null(volume.name)},
                                       {"source", volume.in_store ? volume_root.absolute(volume.source) : volume.source},
                                       {"in_store", volume.in_store},
                                       {"rw", volume.read_write}});
      const Layer& writable = stack->layers.back();
      document["container"] = json::object{{"id", container->id},
                                           {"name", container->name},
                                           {"state", container->state},
                                           {"created", container->created},
                                           {"mount_id", writable.cache_id},
                                           {"init_id", init_id(*stack)},
                                           {"writable_files", writable_size->files},
                                           {"writable_bytes", writable_size->bytes},
                                           {"volumes", std::move(volumes)}};
    }
    out << json::serialize(document) << "\n";
    return {};
  }

  if (const auto& container = stack->container)
    out << "container:  " << container->id << "\n"
        << "name:       " << escape(container->name) << "\n"
        << "state:      " << container->state << "\n"
        << "created:    " << escape(container->created) << "\n";
  out << "store:      " << found->store->label << "\n"
      << "image:      " << stack->image_id << "\n";
  std::string refs;
  for (const auto& name : names) refs.append(refs.empty() ? "" : ", ").append(escape(name));
  out << "references: " << (refs.empty() ? "<none>" : refs) << "\n"
      << "created:    " << (stack->created.empty() ? "-" : escape(stack->created)) << "\n"
      << "config:     verified (its sha256 is the digest that names it)\n"
      << "data root:  " << escape(data_root.path()) << "\n"
      << "layers:     " << stack->layers.size() << " (bottom first)\n";
  for (size_t i = 0; i < stack->layers.size(); ++i) {
    const Layer& layer = stack->layers[i];
    out << "  " << i + 1 << "  " << role_name(layer.role) << "\n";
    if (layer.role == LayerRole::image && layer.diff_id.empty())
      out << "     diff_id:  - (a snapshot the image's diff_ids do not name, left by Docker's classic builder;\n"
          << "               mounted because containerd mounts it)\n";
    else if (layer.role == LayerRole::image)
      out << "     diff_id:  " << layer.diff_id << "\n"
          << "     chain_id: " << layer.chain_id << "\n";
    out << "     cache_id: " << layer.cache_id << "\n"
        << "     path:     " << escape(data_root.absolute(layer.dir)) << " (exists)\n"
        << "     link:     " << (links[i].empty() ? "-" : "l/" + escape(links[i])) << "\n";
    if (layer.size >= 0) out << "     size:     " << layer.size << " bytes\n";
  }
  if (const auto& container = stack->container) {
    out << "writable:   " << writable_size->files << " files, " << writable_size->bytes << " bytes\n";
    for (const VolumeMount& volume : container->mounts)
      out << "volume:     " << escape(volume.destination) << "  " << escape(volume.type) << "  "
          << (volume.name.empty() ? "-" : escape(volume.name)) << "  "
          << escape(volume.in_store ? volume_root.absolute(volume.source) : volume.source)
          << (volume.read_write ? "  rw" : "  ro") << "\n";
  }
  return {};
}

}  // namespace ovlmount
