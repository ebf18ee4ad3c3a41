// Why: see libpod_state.hpp. The one container's records are read in one consistent() walk
// (the file may be committed to while we read) and parsed inside it, so what comes back is
// one transaction's view.
#include "ovlmount/store/libpod_state.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/json_input.hpp"
#include "ovlmount/store/bolt.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

namespace ovlmount {
namespace {

namespace json = boost::json;

// One record of the database, for messages: "<db>: <key>: <problem>".
class DbRecord {
 public:
  DbRecord(const std::string& db, const std::string& key) : db_(db), key_(key) {}
  Error corrupt(const std::string& problem) const { return ovlmount::corrupt(db_, key_ + ": " + problem); }

 private:
  const std::string& db_;
  const std::string& key_;
};

// `text` as a JSON object.
Result<json::object> parse_object(std::string_view text, const DbRecord& record) {
  boost::system::error_code ec;
  json::value document = parse_untrusted_json(text, ec);
  if (ec) return record.corrupt("malformed JSON: " + ec.message());
  if (!document.is_object()) return record.corrupt("not a JSON object");
  return std::move(document.get_object());
}

// Member `key` of `object` as a string: "" when absent or null.
Result<std::string> string_member(const json::object& object, std::string_view key, const DbRecord& record) {
  const json::value* value = object.if_contains(key);
  if (!value || value->is_null()) return std::string();
  if (!value->is_string()) return record.corrupt("\"" + std::string(key) + "\" is not a string");
  return std::string(value->get_string());
}

// Member `key` of `object` as an array: nullptr when absent or null.
Result<const json::array*> array_member(const json::object& object, std::string_view key, const DbRecord& record) {
  const json::value* value = object.if_contains(key);
  if (!value || value->is_null()) return static_cast<const json::array*>(nullptr);
  if (!value->is_array()) return record.corrupt("\"" + std::string(key) + "\" is not an array");
  return &value->get_array();
}

// Whether mount options `key` of `object` (an array of strings) leave the mount writable.
Result<bool> writable_by_options(const json::object& object, std::string_view key, const DbRecord& record) {
  auto options = array_member(object, key, record);
  if (!options) return options.error();
  if (!*options) return true;
  bool writable = true;
  for (const json::value& option : **options) {
    if (!option.is_string()) return record.corrupt("\"" + std::string(key) + "\" holds a non-string");
    if (option.get_string() == "ro") writable = false;
  }
  return writable;
}

// Member `key` of `object` as a mount destination: an absolute path.
Result<std::string> destination_member(const json::object& object, std::string_view key, const DbRecord& record) {
  auto destination = string_member(object, key, record);
  if (!destination) return destination.error();
  if (!destination->starts_with('/'))
    return record.corrupt("mount destination \"" + *destination + "\" is not an absolute path");
  return destination;
}

// The config's "namedVolumes", each name checked; source and in_store still unset.
Result<std::vector<VolumeMount>> named_volumes(const json::object& config, const DbRecord& record) {
  std::vector<VolumeMount> volumes;
  auto entries = array_member(config, "namedVolumes", record);
  if (!entries) return entries.error();
  if (!*entries) return volumes;
  for (const json::value& entry : **entries) {
    const json::object* object = entry.if_object();
    if (!object) return record.corrupt("\"namedVolumes\" holds a non-object");
    VolumeMount volume;
    volume.type = "volume";
    auto name = string_member(*object, "volumeName", record);
    if (!name) return name.error();
    if (!is_podman_name(*name)) return record.corrupt("volume name \"" + *name + "\" is not a valid name");
    volume.name = std::move(*name);
    auto destination = destination_member(*object, "dest", record);
    if (!destination) return destination.error();
    volume.destination = std::move(*destination);
    auto writable = writable_by_options(*object, "options", record);
    if (!writable) return writable.error();
    volume.read_write = *writable;
    volumes.push_back(std::move(volume));
  }
  return volumes;
}

// The config's OCI spec mounts of type "bind" (the user's binds; podman adds its own at start).
Result<std::vector<VolumeMount>> spec_binds(const json::object& config, const DbRecord& record) {
  std::vector<VolumeMount> binds;
  const json::value* spec = config.if_contains("spec");
  if (!spec || spec->is_null()) return binds;
  if (!spec->is_object()) return record.corrupt("\"spec\" is not an object");
  auto mounts = array_member(spec->get_object(), "mounts", record);
  if (!mounts) return mounts.error();
  if (!*mounts) return binds;
  for (const json::value& entry : **mounts) {
    const json::object* object = entry.if_object();
    if (!object) return record.corrupt("\"spec\" \"mounts\" holds a non-object");
    auto type = string_member(*object, "type", record);
    if (!type) return type.error();
    if (*type != "bind") continue;
    VolumeMount bind;
    bind.type = "bind";
    auto destination = destination_member(*object, "destination", record);
    if (!destination) return destination.error();
    bind.destination = std::move(*destination);
    auto source = string_member(*object, "source", record);
    if (!source) return source.error();
    bind.source = std::move(*source);
    auto writable = writable_by_options(*object, "options", record);
    if (!writable) return writable.error();
    bind.read_write = *writable;
    binds.push_back(std::move(bind));
  }
  return binds;
}

// The string value of `key` in `bucket`; corrupt when missing.
Result<std::string> required_value(const BoltFile& file, const BoltBucket& bucket, std::string_view key,
                                   const std::string& where) {
  auto value = file.get(bucket, key);
  if (!value) return value.error();
  if (!*value) return corrupt(file.display_name(), where + " is missing");
  return std::move(**value);
}

// Container `id` in one transaction of `file`; nullopt when ctr/<id> is not there. Volumes
// are placed against runtime-config/graph-root, else `fallback_graph_root`.
Result<std::optional<LibpodContainer>> walk_container(const BoltFile& file, const std::string& id,
                                                      std::string_view fallback_graph_root) {
  const std::string& db = file.display_name();
  auto container = file.bucket({"ctr", id});
  if (!container) return container.error();
  if (!*container) return std::optional<LibpodContainer>();

  const std::string config_key = "ctr/" + id + "/config";
  auto config_text = required_value(file, **container, "config", config_key);
  if (!config_text) return config_text.error();
  auto config = parse_libpod_config(*config_text, id, db, config_key);
  if (!config) return config.error();
  const std::string state_key = "ctr/" + id + "/state";
  auto state_text = required_value(file, **container, "state", state_key);
  if (!state_text) return state_text.error();
  auto state = parse_libpod_state(*state_text, db, state_key);
  if (!state) return state.error();

  std::string graph_root(fallback_graph_root);
  auto runtime_config = file.bucket({"runtime-config"});
  if (!runtime_config) return runtime_config.error();
  if (*runtime_config) {
    auto recorded = file.get(**runtime_config, "graph-root");
    if (!recorded) return recorded.error();
    if (*recorded) graph_root = std::move(**recorded);
  }

  LibpodContainer result;
  result.state = std::move(*state);
  for (VolumeMount& volume : config->volumes) {
    const std::string volume_key = "vol/" + volume.name + "/config";
    auto record = file.bucket({"vol", volume.name});
    if (!record) return record.error();
    if (!*record) return corrupt(db, "vol/" + volume.name + " is missing (" + config_key + " names it)");
    auto text = required_value(file, **record, "config", volume_key);
    if (!text) return text.error();
    if (auto located = locate_libpod_volume(volume, *text, graph_root, db, volume_key); !located)
      return located.error();
    result.mounts.push_back(std::move(volume));
  }
  for (VolumeMount& bind : config->binds) result.mounts.push_back(std::move(bind));
  std::stable_sort(result.mounts.begin(), result.mounts.end(),
                   [](const VolumeMount& a, const VolumeMount& b) { return a.destination < b.destination; });
  return std::optional<LibpodContainer>(std::move(result));
}

}  // namespace

bool is_podman_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || !std::isalnum(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

std::optional<std::string> libpod_state_name(std::int64_t status) {
  switch (status) {
    case 0: return "unknown";
    case 1:
    case 2: return "created";
    case 3:
    case 8: return "running";
    case 4:
    case 6: return "exited";
    case 5: return "paused";
    case 7: return "removing";
    default: return std::nullopt;
  }
}

Result<std::string> parse_libpod_state(std::string_view text, const std::string& db, const std::string& key) {
  const DbRecord record(db, key);
  auto state = parse_object(text, record);
  if (!state) return state.error();
  const json::value* status = state->if_contains("state");
  if (!status) return record.corrupt("no \"state\"");
  const auto* number = status->if_int64();
  const std::optional<std::string> name = number ? libpod_state_name(*number) : std::nullopt;
  if (!name) return record.corrupt("\"state\" " + json::serialize(*status) + " is not a libpod container state");
  return std::move(*name);
}

Result<LibpodConfig> parse_libpod_config(std::string_view text, const std::string& id, const std::string& db,
                                         const std::string& key) {
  const DbRecord record(db, key);
  auto config = parse_object(text, record);
  if (!config) return config.error();
  auto recorded_id = string_member(*config, "id", record);
  if (!recorded_id) return recorded_id.error();
  if (*recorded_id != id) return record.corrupt("\"id\" \"" + *recorded_id + "\" is not " + id);
  LibpodConfig result;
  auto volumes = named_volumes(*config, record);
  if (!volumes) return volumes.error();
  result.volumes = std::move(*volumes);
  auto binds = spec_binds(*config, record);
  if (!binds) return binds.error();
  result.binds = std::move(*binds);
  return result;
}

Result<void> locate_libpod_volume(VolumeMount& volume, std::string_view text, std::string_view graph_root,
                                  const std::string& db, const std::string& key) {
  const DbRecord record(db, key);
  auto config = parse_object(text, record);
  if (!config) return config.error();
  auto name = string_member(*config, "name", record);
  if (!name) return name.error();
  if (*name != volume.name) return record.corrupt("\"name\" \"" + *name + "\" is not " + volume.name);
  auto driver = string_member(*config, "volumeDriver", record);
  if (!driver) return driver.error();
  auto mount_point = string_member(*config, "mountPoint", record);
  if (!mount_point) return mount_point.error();
  const std::string in_store = "volumes/" + volume.name + "/_data";
  if ((driver->empty() || *driver == "local") && *mount_point == std::string(graph_root) + "/" + in_store) {
    volume.source = in_store;
    volume.in_store = true;
  } else {
    volume.source = std::move(*mount_point);
    volume.in_store = false;
  }
  return {};
}

Result<std::optional<LibpodContainer>> read_libpod_container(const RootDir& graphroot, const std::string& id) {
  if (!is_hex64(id)) return corrupt("container " + id, "invalid container ID");
  auto kind = graphroot.kind(libpod_db_path);
  if (!kind) return kind.error();
  if (*kind == EntryKind::missing) return std::optional<LibpodContainer>();
  auto fd = graphroot.open_file(libpod_db_path);
  if (!fd) return fd.error();
  auto file = BoltFile::open(std::move(*fd), graphroot.absolute(libpod_db_path));
  if (!file) return file.error();
  return file->consistent([&](const BoltFile& f) -> Result<std::optional<LibpodContainer>> {
    return walk_container(f, id, graphroot.path());
  });
}

}  // namespace ovlmount
