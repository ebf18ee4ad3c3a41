// Why: see config.hpp.
#include "ovlmount/config.hpp"

#include <boost/json.hpp>

#include <fstream>
#include <sstream>

namespace ovlmount {

Result<std::string> default_data_root(const std::string& daemon_json) {
  std::ifstream file(daemon_json);
  if (!file) return std::string(default_docker_root);
  std::ostringstream text;
  text << file.rdbuf();
  boost::system::error_code ec;
  const boost::json::value document = boost::json::parse(text.str(), ec);
  if (ec || !document.is_object())
    return corrupt(daemon_json, "not a valid JSON object (give --data-root to bypass it)");
  const boost::json::value* root = document.get_object().if_contains("data-root");
  if (!root) return std::string(default_docker_root);
  if (!root->is_string() || root->get_string().empty())
    return corrupt(daemon_json, "\"data-root\" is not a non-empty string");
  return std::string(root->get_string());
}

}  // namespace ovlmount
