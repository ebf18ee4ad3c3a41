// Why: see queries.hpp.
#include "ovlmount/cli/queries.hpp"

#include "ovlmount/core/json_output.hpp"
#include "ovlmount/forensics/changes.hpp"
#include "ovlmount/forensics/which.hpp"
#include "ovlmount/store/stores.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <ostream>

namespace ovlmount {
namespace {

namespace json = boost::json;

// The layer dirs of `stack`, top first.
std::vector<std::string> top_first_dirs(const Stack& stack) {
  std::vector<std::string> dirs;
  for (auto layer = stack.layers.rbegin(); layer != stack.layers.rend(); ++layer) dirs.push_back(layer->dir);
  return dirs;
}

}  // namespace

Result<void> run_diff(const Stores& stores, const std::string& container, bool json, bool bodyfile,
                      std::ostream& out) {
  auto found = stores.resolve(container, Lookup::container);
  if (!found) return found.error();
  const RootDir& data_root = *found->store->root;
  const Stack* stack = &found->stack;
  std::vector<std::string> dirs = top_first_dirs(*stack);
  const std::string writable = dirs.front();
  dirs.erase(dirs.begin());
  auto changes = found->store->store->diff_method() == DiffMethod::writable_layer
                     ? writable_layer_changes(data_root, writable, dirs)
                     : container_changes(data_root, writable, dirs);
  if (!changes) return changes.error();
  std::sort(changes->begin(), changes->end(), [](const Change& a, const Change& b) { return a.path < b.path; });

  if (json) {
    json::array rows;
    for (const Change& change : *changes)
      rows.push_back(json::object{{"kind", std::string(1, change_letter(change.kind))}, {"path", change.path}});
    out << json::serialize(rows) << "\n";
    return {};
  }
  for (const Change& change : *changes) {
    if (!bodyfile) {
      out << change_letter(change.kind) << " " << escape(change.path) << "\n";
      continue;
    }
    auto line = bodyfile_line(data_root, writable, change);
    if (!line) return line.error();
    out << *line << "\n";
  }
  return {};
}

Result<void> run_which(const Stores& stores, const std::string& reference, const std::string& path, bool json,
                       std::ostream& out) {
  auto found = stores.resolve(reference, Lookup::any);
  if (!found) return found.error();
  const RootDir& data_root = *found->store->root;
  const Stack* stack = &found->stack;
  auto answer = which_layer(data_root, top_first_dirs(*stack), path);
  if (!answer) return answer.error();
  const char* status = answer->presence == Presence::provided ? "provided"
                       : answer->presence == Presence::hidden ? "hidden"
                                                              : "absent";
  const size_t index = stack->layers.size() - answer->layer;
  const Layer* layer = answer->presence == Presence::absent ? nullptr : &stack->layers[index - 1];
  if (json) {
    json::value layer_json = nullptr;
    if (layer)
      layer_json = json::object{{"index", index},
                                {"role", role_name(layer->role)},
                                {"diff_id", string_or_null(layer->diff_id)},
                                {"chain_id", string_or_null(layer->chain_id)},
                                {"cache_id", layer->cache_id},
                                {"path", data_root.absolute(layer->dir)}};
    out << json::serialize(json::object{{"path", path},
                                        {"status", status},
                                        {"layer", std::move(layer_json)},
                                        {"detail", string_or_null(answer->detail)}})
        << "\n";
  } else if (layer) {
    out << status << " " << escape(path) << " layer " << index << " " << role_name(layer->role) << " "
        << layer->cache_id;
    if (!layer->diff_id.empty()) out << " " << layer->diff_id;
    if (!answer->detail.empty()) out << " (" << escape(answer->detail) << ")";
    out << "\n";
  }
  if (!layer) return not_found(path, "no layer of " + stack->reference + " has this path");
  return {};
}

}  // namespace ovlmount
