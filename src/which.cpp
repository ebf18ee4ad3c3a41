// Why: see which.hpp.
#include "ovlmount/which.hpp"

namespace ovlmount {

Result<WhichAnswer> which_layer(const RootDir&, const std::vector<std::string>&, std::string_view path) {
  return failure(std::string(path), "not implemented yet");
}

}  // namespace ovlmount
