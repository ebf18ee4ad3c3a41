// Why: see files.hpp. The three formats are for three readers. Text is for people and line
// tools: one line per path whatever the names hold (fields escaped, tab-separated, "-" for
// none). CSV is for spreadsheets and case-management tools: the exact bytes of every name,
// quoted as RFC 4180 says. JSON is one object per line (JSON Lines), not one array: a listing
// of millions of files streams out in constant memory, a reader can take it row by row, and an
// interrupted listing is still valid up to its last line. JSON strings must be UTF-8, so a name
// that is not keeps its exact bytes in hex beside its escaped form.
// A listing stopped early (Ctrl-C, SIGTERM, SIGHUP, a reader that went away as in
// `files ... | head`) still takes its mount and scratch dir away: those signals only stop the
// walk, and once everything is cleaned up the process ends by the same signal, as find would.
#include "ovlmount/cli/files.hpp"

#include "ovlmount/core/stop_signals.hpp"

#include "ovlmount/core/json_output.hpp"
#include "ovlmount/forensics/tree_listing.hpp"
#include "ovlmount/mount/private_mount.hpp"

#include <boost/json.hpp>

#include <signal.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <ostream>

namespace ovlmount {
namespace {

namespace json = boost::json;

// Whether `text` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool is_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 1;
    unsigned char low = 0x80, high = 0xBF;
    if (lead < 0x80) {
      ++i;
      continue;
    }
    if (lead >= 0xC2 && lead <= 0xDF) length = 2;
    else if (lead >= 0xE0 && lead <= 0xEF) length = 3;
    else if (lead >= 0xF0 && lead <= 0xF4) length = 4;
    else return false;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xBF)) return false;
    }
    i += length;
  }
  return true;
}

std::string hex_bytes(std::string_view bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += hex[b >> 4];
    out += hex[b & 0xF];
  }
  return out;
}

// `field` as RFC 4180 writes it: quoted (quotes doubled) when it holds a comma, quote, CR or LF.
std::string csv_field(std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(field);
  std::string out = "\"";
  for (const char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Prints the rows of one listing in the format `args` asks for.
class RowPrinter {
 public:
  RowPrinter(const FilesArgs& args, const Stack& stack, std::ostream& out, std::ostream& err)
      : args_(args), stack_(stack), out_(out), err_(err) {}

  // Prints `entry` (the CSV header first); false when the listing should stop.
  bool print(const TreeEntry& entry) {
    if (!entry.problem.empty()) {
      err_ << failure(entry.path, entry.problem).message() << "\n";
      ++problems_;
    }
    header();
    const std::string line = args_.format == "json"  ? json_row(entry)
                             : args_.format == "csv" ? csv_row(entry)
                                                     : text_row(entry);
    out_.write(line.data(), static_cast<std::streamsize>(line.size()));
    return written() && !StopSignals::caught();
  }

  // Flushes the listing (a CSV header even without rows); fails when it could not be written.
  Result<void> finish() {
    header();
    out_.flush();
    if (!written()) return failure("standard output", "cannot write the listing: " + errno_text(write_errno_));
    return {};
  }

  size_t problems() const { return problems_; }

 private:
  // The layer providing `entry` and its index (1 = bottom), if known.
  std::pair<const Layer*, size_t> layer_of(const TreeEntry& entry) const {
    if (!entry.layer || *entry.layer >= stack_.layers.size()) return {nullptr, 0};
    const size_t index = stack_.layers.size() - *entry.layer;
    return {&stack_.layers[index - 1], index};
  }

  std::vector<std::string> fields(const TreeEntry& entry) const {
    std::vector<std::string> out{entry.path,
                                 tree_type_name(entry.mode),
                                 octal_mode(entry.mode),
                                 std::to_string(entry.uid),
                                 std::to_string(entry.gid),
                                 std::to_string(entry.size),
                                 epoch_ns(entry.mtime),
                                 entry.link,
                                 entry.sha256};
    if (args_.layer) {
      const auto [layer, index] = layer_of(entry);
      out.push_back(layer ? std::to_string(index) : "");
      out.push_back(layer ? role_name(layer->role) : "");
      out.push_back(layer ? layer->diff_id : "");
      out.push_back(layer ? layer->cache_id : "");
    }
    return out;
  }

  std::string text_row(const TreeEntry& entry) const {
    std::string line;
    for (const std::string& field : fields(entry)) {
      if (!line.empty()) line += '\t';
      line += field.empty() ? "-" : escape(field);
    }
    return line + "\n";
  }

  std::string csv_row(const TreeEntry& entry) const {
    std::string line;
    bool first = true;
    for (const std::string& field : fields(entry)) {
      if (!first) line += ',';
      first = false;
      line += csv_field(field);
    }
    return line + "\r\n";
  }

  std::string json_row(const TreeEntry& entry) const {
    json::object row;
    const auto add_name = [&](const char* key, const std::string& name) {
      if (is_utf8(name)) {
        row[key] = string_or_null(name);
        return;
      }
      row[key] = escape(name);
      row[std::string(key) + "_hex"] = hex_bytes(name);
    };
    add_name("path", entry.path);
    row["type"] = tree_type_name(entry.mode);
    row["mode"] = octal_mode(entry.mode);
    row["uid"] = entry.uid;
    row["gid"] = entry.gid;
    row["size"] = entry.size;
    row["mtime"] = epoch_ns(entry.mtime);
    add_name("link", entry.link);
    row["sha256"] = string_or_null(entry.sha256);
    if (args_.layer) {
      const auto [layer, index] = layer_of(entry);
      row["layer"] = layer ? json::value(json::object{{"index", index},
                                                      {"role", role_name(layer->role)},
                                                      {"diff_id", string_or_null(layer->diff_id)},
                                                      {"cache_id", layer->cache_id}})
                           : json::value(nullptr);
    }
    if (!entry.problem.empty()) row["problem"] = entry.problem;
    return json::serialize(row) + "\n";
  }

  void header() {
    if (header_done_ || args_.format != "csv") return;
    header_done_ = true;
    out_ << "path,type,mode,uid,gid,size,mtime,link,sha256" << (args_.layer ? ",layer,role,diff_id,cache_id" : "")
         << "\r\n";
  }

  // Whether everything so far was written; a reader gone away is noted as SIGPIPE.
  bool written() {
    if (out_) return true;
    if (!write_errno_) write_errno_ = errno;
    if (write_errno_ == EPIPE) StopSignals::note(SIGPIPE);
    return false;
  }

  const FilesArgs& args_;
  const Stack& stack_;
  std::ostream& out_;
  std::ostream& err_;
  size_t problems_ = 0;
  bool header_done_ = false;
  int write_errno_ = 0;
};

// The layer dirs of `stack`, top first.
std::vector<std::string> top_first_dirs(const Stack& stack) {
  std::vector<std::string> dirs;
  for (auto layer = stack.layers.rbegin(); layer != stack.layers.rend(); ++layer) dirs.push_back(layer->dir);
  return dirs;
}

// The listing of `found` as `args` asks, from a private mount that is gone when this returns.
Result<void> list_files(const Resolved& found, const FilesArgs& args, const Registry& registry, Mounter& mounter,
                        std::ostream& out, std::ostream& err) {
  const RootDir& data_root = *found.store->root;
  auto mount = PrivateMount::create(found.stack, data_root, registry, mounter, PrivateMountRequest{});
  if (!mount) return mount.error();
  ListingOptions options;
  options.paths = args.paths;
  options.hash = args.hash == "sha256";
  if (args.layer) {
    options.layer_root = &data_root;
    options.layer_dirs = top_first_dirs(found.stack);
  }
  RowPrinter printer(args, found.stack, out, err);
  auto listed = list_tree(mount->root(), options, [&](const TreeEntry& entry) { return printer.print(entry); });
  if (!listed) return listed.error();
  if (auto finished = printer.finish(); !finished) return finished.error();
  if (printer.problems())
    return failure(args.reference, std::to_string(printer.problems()) +
                                       (printer.problems() == 1 ? " path" : " paths") + " could not be read fully");
  return {};
}

}  // namespace

Result<void> run_files(const Stores& stores, const FilesArgs& args, const Registry& registry, Mounter& mounter,
                       std::ostream& out, std::ostream& err) {
  auto found = stores.resolve(args.reference, Lookup::any);
  if (!found) return found.error();
  Result<void> listed;
  {
    const StopSignals signals;
    listed = list_files(*found, args, registry, mounter, out, err);
  }
  if (const int stop_signal = StopSignals::caught()) {
    ::raise(stop_signal);
    return failure("files", stop_signal == SIGPIPE ? "the reader of the listing went away" : "interrupted");
  }
  return listed;
}

}  // namespace ovlmount
