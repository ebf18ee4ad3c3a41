// Why: see image_config.hpp.
#include "ovlmount/store/image_config.hpp"

#include "ovlmount/core/digest.hpp"

#include <boost/json.hpp>

namespace ovlmount {
namespace {

// The strings of `key` in `object`: absent or null is none; anything but an array of strings
// is corrupt.
Result<std::vector<std::string>> string_list(const boost::json::object& object, std::string_view key,
                                             const std::string& where) {
  std::vector<std::string> items;
  const boost::json::value* list = object.if_contains(key);
  if (!list || list->is_null()) return items;
  if (!list->is_array()) return corrupt(where, "config." + std::string(key) + " is not an array of strings");
  for (const boost::json::value& item : list->get_array()) {
    if (!item.is_string()) return corrupt(where, "config." + std::string(key) + " is not an array of strings");
    items.emplace_back(item.get_string());
  }
  return items;
}

// The string `key` of `object`; "" when absent or null, corrupt when not a string.
Result<std::string> string_value(const boost::json::object& object, std::string_view key, const std::string& where) {
  const boost::json::value* value = object.if_contains(key);
  if (!value || value->is_null()) return std::string();
  if (!value->is_string()) return corrupt(where, "config." + std::string(key) + " is not a string");
  return std::string(value->get_string());
}

}  // namespace

Result<ImageConfig> parse_image_config(const boost::json::value& document, const std::string& object) {
  namespace json = boost::json;
  const json::object* top = document.if_object();
  const json::value* rootfs = top ? top->if_contains("rootfs") : nullptr;
  const json::object* rootfs_object = rootfs ? rootfs->if_object() : nullptr;
  if (!rootfs_object) return corrupt(object, "config has no rootfs object");
  const json::value* type = rootfs_object->if_contains("type");
  if (!type || !type->is_string() || type->get_string() != "layers")
    return corrupt(object, "config rootfs.type is not \"layers\"");
  ImageConfig result;
  if (const json::value* created = top->if_contains("created"); created && created->is_string())
    result.created = created->get_string();
  if (const json::value* config = top->if_contains("config"); config && config->is_object()) {
    const json::object& run = config->get_object();
    for (auto [key, out] : {std::pair<std::string_view, std::vector<std::string>*>{"Entrypoint", &result.entrypoint},
                            {"Cmd", &result.cmd},
                            {"Env", &result.env}}) {
      auto items = string_list(run, key, object);
      if (!items) return items.error();
      *out = std::move(*items);
    }
    for (auto [key, out] : {std::pair<std::string_view, std::string*>{"WorkingDir", &result.working_dir},
                            {"User", &result.user}}) {
      auto value = string_value(run, key, object);
      if (!value) return value.error();
      *out = std::move(*value);
    }
  }
  const json::value* list = rootfs_object->if_contains("diff_ids");
  if (list && list->is_null()) return result;
  if (!list || !list->is_array()) return corrupt(object, "config has no rootfs.diff_ids array");
  for (const json::value& item : list->get_array()) {
    const json::string* diff_id = item.if_string();
    if (!diff_id || !is_sha256_digest(*diff_id))
      return corrupt(object, "config rootfs.diff_ids holds an entry that is not sha256:<64 hex>");
    result.diff_ids.emplace_back(*diff_id);
  }
  return result;
}

}  // namespace ovlmount
