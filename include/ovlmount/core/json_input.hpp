// Why: every JSON document ovlmount reads from a store may come from a hostile host, and a cap
// on the file's size does not bound what parsing it costs: boost::json keeps one 16-byte value
// per element plus its own parse stack, so "[0,0,0,...]" takes about 25 bytes of memory per
// byte of text (a 16 MiB file: 400 MiB), and it nests as deep as the text does. Store
// documents are parsed here instead, with a depth limit and a memory budget that covers the
// values and the parser's stack; past either, the parse fails like malformed JSON.
#pragma once

#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <string_view>

namespace ovlmount {

// The deepest nesting of arrays and objects a store document may have.
inline constexpr std::size_t json_max_depth = 64;
// The memory a store document's values and its parse may take.
inline constexpr std::size_t json_max_memory = std::size_t{256} << 20;

// `text` as one JSON value; null with `ec` set when it is not valid JSON, nests deeper than
// json_max_depth, or needs more than `max_memory` bytes (ec.message() says which).
boost::json::value parse_untrusted_json(std::string_view text, boost::system::error_code& ec,
                                        std::size_t max_memory = json_max_memory);

// The base of a streaming (boost::json::basic_parser) handler over a store document: no limit
// per object, array, key or string (parse_options limits the depth), and the memory the
// document would take as parse_untrusted_json holds it counted against json_max_memory, so a
// reader that keeps little still refuses what the whole-document parse refuses.
class StreamingJsonHandler {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  // Whether the parse stopped because the document would take more than json_max_memory.
  bool over_budget() const { return over_budget_; }

 protected:
  // Counts `bytes` (by default one value as the document would hold it); past
  // json_max_memory, false with `ec` set, which stops the parse.
  bool charge(boost::system::error_code& ec, std::size_t bytes = sizeof(boost::json::value));

 private:
  std::size_t used_ = 0;
  bool over_budget_ = false;
};

}  // namespace ovlmount
