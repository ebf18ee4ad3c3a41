// Why: every JSON output of ovlmount spells "no value" the same way: null, never "".
#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace ovlmount {

// `text` as a JSON string, or null when it is empty.
inline boost::json::value string_or_null(const std::string& text) {
  return text.empty() ? boost::json::value(nullptr) : boost::json::value(text);
}

}  // namespace ovlmount
