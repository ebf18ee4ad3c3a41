// Why: every store keeps image configs in the same OCI/Docker format; what ovlmount takes from
// one (rootfs.diff_ids, created) is read and checked in one place, the same way for all.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/store/image_store.hpp"

#include <boost/json/value.hpp>

#include <string>

namespace ovlmount {

// The ImageConfig of the parsed config `document` of `object` ("image sha256:..."): corrupt
// when it has no rootfs object of type "layers" or a diff_id that is not sha256:<64 hex>.
Result<ImageConfig> parse_image_config(const boost::json::value& document, const std::string& object);

}  // namespace ovlmount
