// Why: see json_catalogue.hpp. A catalogue is read in chunks through a SAX parser
// (boost::json::basic_parser) that keeps only the members its reader names, so memory follows
// what is kept, not the file's size or the shape of what a hostile host put around it; depth is
// limited as for every store document (json_input.hpp).
#include "ovlmount/store/json_catalogue.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/json_input.hpp"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace ovlmount {
namespace {

namespace json = boost::json;

// A catalogue is streamed, so its size only bounds the time a pass takes (images.json is about
// 1.1 KiB an image: 110 MB at 100,000 images); what is kept of it is bounded by json_max_memory.
constexpr size_t max_catalogue_size = size_t{512} << 20;
constexpr size_t max_kept_key_size = 64;  // longer keys are none that is asked for
constexpr size_t read_chunk_size = 256 << 10;

// The value of each lowercase hex digit; 0xff for every other byte.
constexpr std::array<std::uint8_t, 256> hex_values = [] {
  std::array<std::uint8_t, 256> values{};
  values.fill(0xff);
  for (int c = '0'; c <= '9'; ++c) values[static_cast<size_t>(c)] = static_cast<std::uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) values[static_cast<size_t>(c)] = static_cast<std::uint8_t>(c - 'a' + 10);
  return values;
}();

// The events of basic_parser over a catalogue: a JSON array of objects. Depth 1 is the array,
// depth 2 an entry, depth 3 the inside of an entry's member.
class CatalogueHandler : public StreamingJsonHandler {
 public:
  CatalogueHandler(const std::string& file, std::span<const std::string_view> keys, const EntrySink& sink)
      : file_(file), keys_(keys), sink_(sink), members_(keys.size()) {}

  bool is_array() const { return is_array_; }
  const std::optional<Error>& entry_error() const { return entry_error_; }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_array_begin(boost::system::error_code& ec) {
    if (!charge(ec)) return false;
    if (depth_ == 0) is_array_ = true;
    else if (depth_ == 1) non_object_entry();
    else if (depth_ == 2) begin_member(Member::Type::array);
    else if (depth_ == 3 && current_) current_->only_strings = false;
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    --depth_;
    return true;
  }
  bool on_object_begin(boost::system::error_code& ec) {
    if (!charge(ec)) return false;
    if (depth_ == 1) begin_entry();
    else if (depth_ == 2) begin_member(Member::Type::other);
    else if (depth_ == 3 && current_) current_->only_strings = false;
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    --depth_;
    if (depth_ == 1 && is_array_) end_entry();
    return true;
  }
  bool on_string_part(json::string_view part, std::size_t, boost::system::error_code& ec) {
    return !wants_string() || keep(part, ec);
  }
  bool on_string(json::string_view part, std::size_t, boost::system::error_code& ec) {
    if (!charge(ec)) return false;
    if (!wants_string()) {
      scalar();
      return true;
    }
    if (!keep(part, ec)) return false;
    if (depth_ == 2) {
      current_->type = Member::Type::string;
      current_->text.assign(string_);
      current_ = nullptr;
    } else {
      current_->items.push_back(string_);
    }
    string_.clear();
    return true;
  }
  bool on_key_part(json::string_view part, std::size_t, boost::system::error_code&) {
    if (depth_ == 2 && key_.size() <= max_kept_key_size)
      key_.append(part.data(), std::min(part.size(), max_kept_key_size + 1));
    return true;
  }
  bool on_key(json::string_view part, std::size_t, boost::system::error_code&) {
    if (depth_ != 2) return true;
    if (key_.size() <= max_kept_key_size) key_.append(part.data(), std::min(part.size(), max_kept_key_size + 1));
    current_ = nullptr;
    if (entry_open_)
      for (size_t i = 0; i < keys_.size(); ++i)
        if (keys_[i] == key_) {
          current_ = &members_[i];
          current_->clear();
        }
    key_.clear();
    return true;
  }
  bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t value, json::string_view, boost::system::error_code& ec) {
    if (!charge(ec)) return false;
    if (depth_ == 2 && current_ && value >= 0) return count(value);
    scalar();
    return true;
  }
  bool on_uint64(std::uint64_t value, json::string_view, boost::system::error_code& ec) {
    if (!charge(ec)) return false;
    if (depth_ == 2 && current_ && value <= INT64_MAX) return count(static_cast<std::int64_t>(value));
    scalar();
    return true;
  }
  bool on_double(double, json::string_view, boost::system::error_code& ec) {
    if (!charge(ec)) return false;
    scalar();
    return true;
  }
  bool on_bool(bool, boost::system::error_code& ec) {
    if (!charge(ec)) return false;
    scalar();
    return true;
  }
  bool on_null(boost::system::error_code& ec) {
    if (!charge(ec)) return false;
    if (depth_ == 2 && current_) {
      current_->type = Member::Type::null;
      current_ = nullptr;
      return true;
    }
    scalar();
    return true;
  }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }

 private:
  bool wants_string() const { return current_ && (depth_ == 2 || depth_ == 3); }
  // Appends `part` to the string being kept, within the document's budget.
  bool keep(json::string_view part, boost::system::error_code& ec) {
    if (!charge(ec, part.size())) return false;
    string_.append(part.data(), part.size());
    return true;
  }
  bool count(std::int64_t value) {
    current_->type = Member::Type::count;
    current_->count = value;
    current_ = nullptr;
    return true;
  }
  // A number, boolean, null or unwanted string at the current depth.
  void scalar() {
    if (depth_ == 1) non_object_entry();
    else if (depth_ == 2 && current_) begin_member(Member::Type::other);
    else if (depth_ == 3 && current_) current_->only_strings = false;
  }
  void begin_member(Member::Type type) {
    if (!current_) return;
    current_->type = type;
    if (type != Member::Type::array) current_ = nullptr;
  }
  void begin_entry() {
    entry_open_ = is_array_ && !entry_error_;
    if (entry_open_)
      for (Member& member : members_) member.clear();
  }
  void end_entry() {
    current_ = nullptr;
    if (entry_open_) {
      EntryContext context(file_, index_);
      entry_error_ = sink_(context, members_);
    }
    entry_open_ = false;
    ++index_;
  }
  void non_object_entry() {
    if (!is_array_) return;
    if (!entry_error_) entry_error_ = EntryContext(file_, index_).corrupt_entry("not a JSON object");
    ++index_;
  }

  const std::string& file_;
  std::span<const std::string_view> keys_;
  const EntrySink& sink_;
  Members members_;
  Member* current_ = nullptr;  // the member whose value (depth 2) or items (depth 3) come next
  std::string key_;
  std::string string_;
  size_t depth_ = 0;
  size_t index_ = 0;
  bool is_array_ = false;
  bool entry_open_ = false;
  std::optional<Error> entry_error_;
};

}  // namespace

std::optional<Hash> hash_of(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Hash hash{};
  std::uint8_t invalid = 0;
  for (size_t i = 0; i < hash.size(); ++i) {
    const std::uint8_t high = hex_values[static_cast<unsigned char>(hex[2 * i])];
    const std::uint8_t low = hex_values[static_cast<unsigned char>(hex[2 * i + 1])];
    invalid |= static_cast<std::uint8_t>((high | low) & 0xf0);
    hash[i] = static_cast<std::uint8_t>(high << 4 | (low & 0x0f));
  }
  if (invalid) return std::nullopt;
  return hash;
}

std::string hex_of(const Hash& hash) { return hex_of(hash.data(), hash.size()); }

std::string hex_of(const std::optional<Hash>& hash) { return hash ? hex_of(*hash) : std::string(); }

Result<EntryErrors> read_catalogue(const RootDir& root, std::string_view relative, std::span<const std::string_view> keys,
                                   const EntrySink& sink) {
  const std::string file = root.absolute(relative);
  auto kind = root.kind(relative);
  if (!kind) return kind.error();
  if (*kind == EntryKind::missing) return EntryErrors();
  auto fd = root.open_file(relative);
  if (!fd) return fd.error();
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return failure(file, errno_text(errno));
  if (st.st_nlink > 1) return corrupt(file, "metadata file has " + std::to_string(st.st_nlink) + " hard links");
  if (static_cast<size_t>(st.st_size) > max_catalogue_size)
    return corrupt(file, "file is larger than " + std::to_string(max_catalogue_size) + " bytes");

  json::parse_options options;
  options.max_depth = json_max_depth;
  json::basic_parser<CatalogueHandler> parser(options, file, keys, sink);
  const auto malformed = [&](const boost::system::error_code& ec) {
    return corrupt(file, "malformed JSON: " + ec.message());
  };
  std::string chunk(read_chunk_size, '\0');
  size_t total = 0;
  bool blank = true;
  boost::system::error_code ec;
  while (true) {
    const ssize_t n = ::read(fd->get(), chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failure(file, errno_text(errno));
    if (n == 0) break;
    total += static_cast<size_t>(n);
    if (total > max_catalogue_size)
      return corrupt(file, "file is larger than " + std::to_string(max_catalogue_size) + " bytes");
    const std::string_view data(chunk.data(), static_cast<size_t>(n));
    if (blank && data.find_first_not_of(" \t\r\n") == std::string_view::npos) continue;
    blank = false;
    size_t used = parser.done() ? 0 : parser.write_some(true, data.data(), data.size(), ec);
    if (parser.handler().over_budget())
      return corrupt(file, "malformed JSON: needs more memory to parse than one store document may take");
    if (ec) return malformed(ec);
    if (used < data.size() && data.substr(used).find_first_not_of(" \t\r\n") != std::string_view::npos)
      return malformed(json::error::extra_data);
  }
  if (blank) return EntryErrors();
  if (!parser.done()) {
    parser.write_some(false, nullptr, 0, ec);
    if (parser.handler().over_budget())
      return corrupt(file, "malformed JSON: needs more memory to parse than one store document may take");
    if (ec) return malformed(ec);
  }
  if (!parser.handler().is_array()) return corrupt(file, "not a JSON array");
  EntryErrors errors;
  errors.first = parser.handler().entry_error();
  return errors;
}

Result<std::string_view> optional_string(const Members& members, size_t position, std::string_view key,
                                         const EntryContext& context) {
  const Member& member = members[position];
  if (member.type == Member::Type::absent || member.type == Member::Type::null) return std::string_view();
  if (member.type != Member::Type::string) return context.corrupt_entry("\"" + std::string(key) + "\" is not a string");
  return std::string_view(member.text);
}

Result<std::vector<std::string>> optional_strings(const Members& members, size_t position, std::string_view key,
                                                  const EntryContext& context) {
  const Member& member = members[position];
  if (member.type == Member::Type::absent || member.type == Member::Type::null) return std::vector<std::string>();
  if (member.type != Member::Type::array) return context.corrupt_entry("\"" + std::string(key) + "\" is not an array");
  if (!member.only_strings) return context.corrupt_entry("\"" + std::string(key) + "\" holds a non-string");
  return member.items;
}

Result<std::string_view> id_member(const Members& members, size_t position, std::string_view key, bool required,
                                   const EntryContext& context) {
  auto text = optional_string(members, position, key, context);
  if (!text) return text.error();
  if (text->empty() && !required) return text;
  if (!hash_of(*text))
    return context.corrupt_entry("\"" + std::string(key) + "\" \"" + std::string(*text) + "\" is not 64 lowercase hex");
  return text;
}

}  // namespace ovlmount
