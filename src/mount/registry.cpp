// Why: see registry.hpp. Record files are named by a hash of the target so that any path,
// however long or odd, maps to one short file name.
#include "ovlmount/mount/registry.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/fault_point.hpp"
#include "ovlmount/core/json_input.hpp"
#include "ovlmount/core/json_output.hpp"

#include <boost/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>

namespace ovlmount {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr size_t max_record_size = 1 << 20;

// Docker and containers-storage container IDs are 64 hex; containerd's are names of
// [A-Za-z0-9_.-], as its stores accept them.
bool is_container_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 && std::isalnum(static_cast<unsigned char>(id.front())) &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
         });
}

std::string now_rfc3339() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

Result<void> make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return {};
  return failure(path, "cannot create directory: " + errno_text(errno));
}

Result<std::string> read_small_file(const std::string& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (errno == ENOENT) return not_found(path, "no such file");
    return failure(path, errno_text(errno));
  }
  std::string content;
  char buffer[8192];
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failure(path, errno_text(errno));
    if (n == 0) return content;
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > max_record_size) return corrupt(path, "record file is too large");
  }
}

Result<void> write_file_atomically(const std::string& path, const std::string& content) {
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    const UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return failure(path, "cannot write the mount record: " + errno_text(errno));
    size_t done = 0;
    while (done < content.size()) {
      const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int errnum = errno;
        ::unlink(temporary.c_str());
        return failure(path, "cannot write the mount record: " + errno_text(errnum));
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      const int errnum = errno;
      ::unlink(temporary.c_str());
      return failure(path, "cannot write the mount record: " + errno_text(errnum));
    }
  }
  fault_point("record.written");
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int errnum = errno;
    ::unlink(temporary.c_str());
    return failure(path, "cannot rename into place: " + errno_text(errnum));
  }
  return {};
}

// The string member `key` of `object`; "" for null when `nullable`.
Result<std::string> member_string(const json::object& object, std::string_view key, bool nullable,
                                  const std::string& where) {
  const json::value* value = object.if_contains(key);
  if (value && value->is_string()) return std::string(value->get_string());
  if (value && nullable && value->is_null()) return std::string();
  return corrupt(where, "record has no valid \"" + std::string(key) + "\"");
}

}  // namespace

MountRecord make_record(const MountPlan& plan, const std::string& scratch) {
  MountRecord record;
  record.target = plan.target;
  record.source = plan.kind;
  record.reference = plan.reference;
  record.image_id = plan.image_id;
  record.container_id = plan.container_id;
  record.store = plan.store.empty() ? "docker" : plan.store;
  record.data_root = plan.data_root;
  record.lowerdir = plan.lower_paths();
  record.upper = plan.upper;
  record.work = plan.work;
  record.scratch = scratch;
  for (const BindPlan& bind : plan.binds) record.submounts.push_back(bind.target);
  record.created = now_rfc3339();
  return record;
}

json::object record_to_json(const MountRecord& record) {
  json::array lowerdir;
  for (const auto& path : record.lowerdir) lowerdir.emplace_back(path);
  json::array submounts;
  for (const auto& path : record.submounts) submounts.emplace_back(path);
  return {{"target", record.target},
          {"source", record.source == SourceKind::container ? "container" : "image"},
          {"reference", record.reference},
          {"image_id", record.image_id},
          {"container_id", string_or_null(record.container_id)},
          {"store", record.store},
          {"data_root", record.data_root},
          {"lowerdir", std::move(lowerdir)},
          {"upper", string_or_null(record.upper)},
          {"work", string_or_null(record.work)},
          {"scratch", string_or_null(record.scratch)},
          {"writable", !record.upper.empty()},
          {"submounts", std::move(submounts)},
          {"mnt_id", record.mnt_id},
          {"created", record.created}};
}

Result<MountRecord> record_from_json(const std::string& text, const std::string& object) {
  boost::system::error_code ec;
  const json::value document = parse_untrusted_json(text, ec);
  if (ec) return corrupt(object, "malformed record: " + ec.message());
  const json::object* top = document.if_object();
  if (!top) return corrupt(object, "record is not a JSON object");
  MountRecord record;
  const std::pair<std::string_view, std::string*> strings[] = {
      {"target", &record.target},       {"reference", &record.reference}, {"image_id", &record.image_id},
      {"data_root", &record.data_root}, {"created", &record.created}};
  for (const auto& [key, field] : strings) {
    auto value = member_string(*top, key, false, object);
    if (!value) return value.error();
    *field = std::move(*value);
  }
  const std::pair<std::string_view, std::string*> optional_strings[] = {
      {"upper", &record.upper}, {"work", &record.work}, {"scratch", &record.scratch},
      {"container_id", &record.container_id}, {"store", &record.store}};
  for (const auto& [key, field] : optional_strings) {
    auto value = member_string(*top, key, true, object);
    if (!value) return value.error();
    *field = std::move(*value);
  }
  const json::value* lowerdir = top->if_contains("lowerdir");
  if (!lowerdir || !lowerdir->is_array()) return corrupt(object, "record has no valid \"lowerdir\"");
  for (const json::value& path : lowerdir->get_array()) {
    if (!path.is_string()) return corrupt(object, "record has no valid \"lowerdir\"");
    record.lowerdir.emplace_back(path.get_string());
  }
  if (const json::value* submounts = top->if_contains("submounts")) {
    if (!submounts->is_array()) return corrupt(object, "record has no valid \"submounts\"");
    for (const json::value& path : submounts->get_array()) {
      if (!path.is_string() || !path.get_string().starts_with(record.target + "/"))
        return corrupt(object, "record has a submount outside its target");
      record.submounts.emplace_back(path.get_string());
    }
  }
  if (const json::value* mnt_id = top->if_contains("mnt_id")) {
    if (!mnt_id->is_number()) return corrupt(object, "record mnt_id is not a number");
    boost::system::error_code number_error;
    record.mnt_id = mnt_id->to_number<std::uint64_t>(number_error);
    if (number_error) return corrupt(object, "record mnt_id is not a mount ID");
  }
  if (const json::value* source = top->if_contains("source")) {
    if (source->is_string() && source->get_string() == "container") record.source = SourceKind::container;
    else if (!source->is_string() || source->get_string() != "image")
      return corrupt(object, "record source is not \"image\" or \"container\"");
  }
  if (record.source == SourceKind::container && !is_container_id(record.container_id))
    return corrupt(object, "record container_id is not a container ID");
  if (record.store.empty()) record.store = "docker";
  if (record.target.empty() || record.target.front() != '/')
    return corrupt(object, "record target is not an absolute path");
  if (!is_sha256_digest(record.image_id)) return corrupt(object, "record image_id is not sha256:<64 hex>");
  return record;
}

std::string Registry::record_path(const std::string& target) const {
  return dir_ + "/mounts/" + sha256_hex(target).substr(0, 32) + ".json";
}

Result<UniqueFd> Registry::lock(bool exclusive) const {
  if (exclusive) {
    if (auto made = make_dir(dir_, 0700); !made) return made.error();
    for (const char* sub : {"/mounts", "/scratch"})
      if (auto made = make_dir(dir_ + sub, 0700); !made) return made.error();
  }
  const std::string path = dir_ + "/lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd && !exclusive && errno == EROFS) fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (!exclusive && errno == ENOENT) return UniqueFd();
    return failure(path, "cannot open the registry lock: " + errno_text(errno));
  }
  while (::flock(fd.get(), exclusive ? LOCK_EX : LOCK_SH) != 0)
    if (errno != EINTR) return failure(path, "cannot lock the registry: " + errno_text(errno));
  return fd;
}

Result<RegistryListing> Registry::load() const {
  RegistryListing listing;
  std::error_code ec;
  fs::directory_iterator entries(dir_ + "/mounts", ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return listing;
    return failure(dir_ + "/mounts", "cannot list records: " + ec.message());
  }
  for (const auto& entry : entries) {
    const std::string path = entry.path().string();
    if (entry.path().extension() != ".json") continue;
    auto text = read_small_file(path);
    if (!text) {
      listing.problems.push_back(text.error());
      continue;
    }
    auto record = record_from_json(*text, path);
    if (!record) listing.problems.push_back(record.error());
    else if (record_path(record->target) != path)
      listing.problems.push_back(corrupt(path, "record file name does not match its target"));
    else listing.records.push_back(std::move(*record));
  }
  std::sort(listing.records.begin(), listing.records.end(),
            [](const MountRecord& a, const MountRecord& b) { return a.target < b.target; });
  return listing;
}

Result<std::optional<MountRecord>> Registry::find(const std::string& target) const {
  const std::string path = record_path(target);
  auto text = read_small_file(path);
  if (!text) {
    if (text.error().code == ExitCode::not_found) return std::optional<MountRecord>();
    return text.error();
  }
  auto record = record_from_json(*text, path);
  if (!record) return record.error();
  return std::optional<MountRecord>(std::move(*record));
}

Result<void> Registry::save(const MountRecord& record) const {
  return write_file_atomically(record_path(record.target), json::serialize(record_to_json(record)) + "\n");
}

Result<void> Registry::remove(const std::string& target) const {
  const std::string path = record_path(target);
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return {};
  return failure(path, "cannot remove record: " + errno_text(errno));
}

Result<size_t> Registry::remove_temporaries() const {
  size_t removed = 0;
  std::error_code ec;
  fs::directory_iterator entries(dir_ + "/mounts", ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return removed;
    return failure(dir_ + "/mounts", "cannot list records: " + ec.message());
  }
  for (const auto& entry : entries) {
    if (entry.path().filename().string().find(".json.tmp.") == std::string::npos) continue;
    if (::unlink(entry.path().c_str()) != 0 && errno != ENOENT)
      return failure(entry.path().string(), "cannot remove unfinished record: " + errno_text(errno));
    ++removed;
  }
  return removed;
}

Result<std::string> Registry::create_scratch() const {
  std::string pattern = dir_ + "/scratch/XXXXXX";
  if (!::mkdtemp(pattern.data())) return failure(dir_ + "/scratch", "cannot create scratch dir: " + errno_text(errno));
  fault_point("scratch.created");
  for (const char* sub : {"/upper", "/work"}) {
    if (::mkdir((pattern + sub).c_str(), 0755) != 0) {
      const int errnum = errno;
      std::error_code ignored;
      fs::remove_all(pattern, ignored);
      return failure(pattern + sub, "cannot create: " + errno_text(errnum));
    }
  }
  fault_point("scratch.ready");
  return pattern;
}

Result<UniqueFd> Registry::hold_scratch(const std::string& scratch) const {
  const std::string path = scratch + "/in-use";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return failure(path, "cannot create: " + errno_text(errno));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return failure(path, "held by another process");
  return fd;
}

Result<bool> Registry::scratch_in_use(const std::string& scratch) const {
  if (::access((scratch + "/kept").c_str(), F_OK) == 0) return true;
  const std::string path = scratch + "/in-use";
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return false;
    return failure(path, errno_text(errno));
  }
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return false;
  if (errno == EWOULDBLOCK) return true;
  return failure(path, errno_text(errno));
}

Result<void> Registry::remove_scratch(const std::string& scratch) const {
  const fs::path path(scratch);
  if (path.parent_path() != fs::path(dir_ + "/scratch") || path.filename().empty() ||
      path.filename() == "." || path.filename() == "..")
    return failure(scratch, "refusing to remove: not a scratch dir of " + dir_);
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return failure(scratch, "cannot remove scratch dir: " + ec.message());
  return {};
}

Result<std::vector<std::string>> Registry::scratch_dirs() const {
  std::vector<std::string> dirs;
  std::error_code ec;
  fs::directory_iterator entries(dir_ + "/scratch", ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return dirs;
    return failure(dir_ + "/scratch", "cannot list scratch dirs: " + ec.message());
  }
  for (const auto& entry : entries) dirs.push_back(entry.path().string());
  return dirs;
}

Result<std::string> Registry::empty_dir() const {
  const std::string path = dir_ + "/empty";
  if (::mkdir(path.c_str(), 0555) != 0 && errno != EEXIST)
    return failure(path, "cannot create: " + errno_text(errno));
  return path;
}

}  // namespace ovlmount
