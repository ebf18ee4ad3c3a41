// Why: one place forms every user-visible error line, so the format and the escaping of
// untrusted names cannot drift between commands.
#include "ovlmount/core/error.hpp"

#include <cstring>
#include <utility>

namespace ovlmount {

std::string Error::message() const {
  if (object.empty()) return "ovlmount: " + escape(problem);
  return "ovlmount: " + escape(object) + ": " + escape(problem);
}

Error failure(std::string object, std::string problem) {
  return {ExitCode::failure, std::move(object), std::move(problem)};
}
Error usage_error(std::string object, std::string problem) {
  return {ExitCode::usage, std::move(object), std::move(problem)};
}
Error not_found(std::string object, std::string problem) {
  return {ExitCode::not_found, std::move(object), std::move(problem)};
}
Error corrupt(std::string object, std::string problem) {
  return {ExitCode::corrupt, std::move(object), std::move(problem)};
}
Error mount_error(std::string object, std::string problem) {
  return {ExitCode::mount_failed, std::move(object), std::move(problem)};
}

Fatal::Fatal(Error error) : error_(std::move(error)), what_(error_.message()) {}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw Fatal(error);
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  if (lead >= 0xC2 && lead <= 0xDF) length = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) length = 3;
  else if (lead >= 0xF0 && lead <= 0xF4) length = 4;
  else return 0;
  if (i + length > s.size()) return 0;
  for (size_t k = 1; k < length; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  if (lead == 0xE0 && byte(i + 1) < 0xA0) return 0;
  if (lead == 0xED && byte(i + 1) >= 0xA0) return 0;
  if (lead == 0xF0 && byte(i + 1) < 0x90) return 0;
  if (lead == 0xF4 && byte(i + 1) >= 0x90) return 0;
  return length;
}

}  // namespace

std::string escape(std::string_view untrusted) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(untrusted.size());
  for (size_t i = 0; i < untrusted.size();) {
    const auto c = static_cast<unsigned char>(untrusted[i]);
    if (c == '\\') {
      out += "\\\\";
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++i;
    } else if (const size_t length = c >= 0x80 ? utf8_sequence_length(untrusted, i) : 0) {
      out.append(untrusted.substr(i, length));
      i += length;
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
      ++i;
    }
  }
  return out;
}

std::string errno_text(int errnum) {
  char buffer[256];
  return strerror_r(errnum, buffer, sizeof buffer);
}

}  // namespace ovlmount
