// Why: every failure ovlmount reports must reach the user as one line,
// "ovlmount: <object>: <problem>", with an exit code a script can act on. Expected failures
// travel as values (Result<T>); the fatal ones are thrown as the one Fatal type and caught
// once in main. Object names come from untrusted places (a seized data root, a user's
// argument), so they are escaped before they are printed.
#pragma once

#include <boost/system/result.hpp>

#include <exception>
#include <string>
#include <string_view>

namespace ovlmount {

// The documented exit codes (README, --help).
enum class ExitCode : int {
  ok = 0,
  failure = 1,       // anything else, including "needs root"
  usage = 2,         // bad command line
  not_found = 3,     // image, layer or tracked target not found
  corrupt = 4,       // corrupt or untrusted store: digest mismatch, bad JSON, invalid ID
  mount_failed = 5,  // the kernel refused a mount or an unmount
};

// One failure: which object and what is wrong with it. Both are stored raw (they may quote
// untrusted text) and escaped when the message is formed.
struct Error {
  ExitCode code = ExitCode::failure;
  std::string object;
  std::string problem;

  // "ovlmount: <object>: <problem>", or "ovlmount: <problem>" without an object; both escaped.
  std::string message() const;
};

// Shorthands for building an Error.
Error failure(std::string object, std::string problem);
Error usage_error(std::string object, std::string problem);
Error not_found(std::string object, std::string problem);
Error corrupt(std::string object, std::string problem);
Error mount_error(std::string object, std::string problem);

// The one exception type: a fatal Error, caught in main.
class Fatal : public std::exception {
 public:
  explicit Fatal(Error error);
  const Error& error() const noexcept { return error_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  Error error_;
  std::string what_;
};

// An expected failure carried as a value.
template <class T>
using Result = boost::system::result<T, Error>;

// Called by Result<T>::value() on an error: throws Fatal.
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& where);

// Makes an untrusted string safe to print on one line: printable ASCII and valid UTF-8 pass,
// backslash, control bytes and invalid bytes become \\, \n, \xNN.
std::string escape(std::string_view untrusted);

// strerror(errnum) as a std::string.
std::string errno_text(int errnum);

}  // namespace ovlmount
