// Why: see docker_container.hpp. Paths used here (relative to the data root):
//   containers/<container>/config.v2.json     name, image, state, driver, mount points
//   volumes/<name>/_data                      a local named volume
#include "ovlmount/store/docker_container.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/json_input.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

namespace ovlmount {
namespace {

namespace json = boost::json;

constexpr std::string_view containers_dir = "containers";
constexpr size_t max_config_size = 64 << 20;

// The string member `key` of `object`, or "" when it is absent or not a string.
std::string member_string(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value && value->is_string() ? std::string(value->get_string()) : std::string();
}

bool member_true(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value && value->is_bool() && value->get_bool();
}

// Docker's names for containers and volumes: [a-zA-Z0-9][a-zA-Z0-9_.-]+.
bool is_docker_name(std::string_view name) {
  if (name.size() < 2 || name.size() > 255 || !std::isalnum(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// Docker's State.StateString().
std::string state_string(const json::object& state) {
  if (member_true(state, "Running")) {
    if (member_true(state, "Paused")) return "paused";
    if (member_true(state, "Restarting")) return "restarting";
    return "running";
  }
  if (member_true(state, "RemovalInProgress")) return "removing";
  if (member_true(state, "Dead")) return "dead";
  const std::string started = member_string(state, "StartedAt");
  if (started.empty() || started.starts_with("0001-01-01T00:00:00")) return "created";
  return "exited";
}

Result<VolumeMount> volume_mount(const json::object& point, std::string destination, const std::string& object) {
  VolumeMount mount;
  mount.destination = std::move(destination);
  if (mount.destination.empty() || mount.destination.front() != '/')
    return corrupt(object, "mount point \"" + mount.destination + "\" is not an absolute path");
  mount.type = member_string(point, "Type");
  mount.name = member_string(point, "Name");
  mount.read_write = member_true(point, "RW");
  const std::string driver = member_string(point, "Driver");
  if (mount.type == "volume" && (driver.empty() || driver == "local")) {
    if (!is_docker_name(mount.name) && !is_hex64(mount.name))
      return corrupt(object, "volume name \"" + mount.name + "\" is not a valid name");
    mount.source = "volumes/" + mount.name + "/_data";
    mount.in_store = true;
  } else {
    mount.source = member_string(point, "Source");
  }
  return mount;
}

}  // namespace

Result<std::vector<std::string>> hex_id_names(const RootDir& root, std::string_view dir) {
  auto names = root.list_dir(dir);
  if (!names) {
    if (names.error().code == ExitCode::not_found) return std::vector<std::string>();
    return names.error();
  }
  std::vector<std::string> ids;
  for (auto& name : *names)
    if (is_hex64(name)) ids.push_back(std::move(name));
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<std::vector<std::string>> docker_container_ids(const RootDir& root) { return hex_id_names(root, containers_dir); }

Result<Container> read_docker_container(const RootDir& root, const std::string& id, std::string_view driver) {
  const std::string object = "container " + id;
  if (!is_hex64(id)) return corrupt(object, "invalid container ID");
  const std::string path = std::string(containers_dir) + "/" + id + "/config.v2.json";
  const std::string file = root.absolute(path);
  auto text = root.read_file(path, max_config_size);
  if (!text) return text.error();
  boost::system::error_code ec;
  const json::value document = parse_untrusted_json(*text, ec);
  if (ec) return corrupt(file, "malformed JSON: " + ec.message());
  const json::object* top = document.if_object();
  if (!top) return corrupt(file, "not a JSON object");

  Container container;
  container.id = id;
  if (member_string(*top, "ID") != id) return corrupt(file, "\"ID\" is not " + id);
  const std::string name = member_string(*top, "Name");
  container.name = name.starts_with('/') ? name.substr(1) : name;
  if (!is_docker_name(container.name)) return corrupt(file, "\"Name\" \"" + name + "\" is not a valid container name");
  container.image_id = member_string(*top, "Image");
  if (!is_sha256_digest(container.image_id)) return corrupt(file, "\"Image\" is not sha256:<64 hex>");
  if (const json::value* config = top->if_contains("Config"); config && config->is_object())
    container.image_name = member_string(config->get_object(), "Image");
  container.created = member_string(*top, "Created");
  const json::value* state = top->if_contains("State");
  if (!state || !state->is_object()) return corrupt(file, "no \"State\" object");
  container.state = state_string(state->get_object());
  if (const std::string used = member_string(*top, "Driver"); used != driver)
    return corrupt(object, "uses storage driver \"" + used + "\", not " + std::string(driver));

  if (const json::value* points = top->if_contains("MountPoints"); points && !points->is_null()) {
    if (!points->is_object()) return corrupt(file, "\"MountPoints\" is not an object");
    for (const auto& [destination, point] : points->get_object()) {
      if (!point.is_object()) return corrupt(file, "a mount point is not an object");
      auto mount = volume_mount(point.get_object(), std::string(destination), file);
      if (!mount) return mount.error();
      container.mounts.push_back(std::move(*mount));
    }
    std::sort(container.mounts.begin(), container.mounts.end(),
              [](const VolumeMount& a, const VolumeMount& b) { return a.destination < b.destination; });
  }
  return container;
}

}  // namespace ovlmount
