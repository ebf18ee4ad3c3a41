// Why: see image_config.hpp.
#include "ovlmount/store/image_config.hpp"

#include "ovlmount/core/digest.hpp"

#include <boost/json.hpp>

namespace ovlmount {

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
