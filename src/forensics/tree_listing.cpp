// Why: see tree_listing.hpp. Bytewise order of whole paths is not a plain depth-first walk
// ("/a-b" sorts between "/a" and "/a/x"), so each directory sorts its children's rows under
// their names and their subtrees under name + "/", which puts every row where `sort` would.
// Every name is opened or stat'ed relative to its own directory's descriptor, so no path
// element but the last is ever resolved again and no symlink can be met on the way. Regular
// files go to a small window of slots that worker threads hash while the walk goes on; rows
// leave the window in the order they entered it, so the window bounds both memory and open
// descriptors. The layers are read through RootDir like every other read of the store.
#include "ovlmount/forensics/tree_listing.hpp"

#include "ovlmount/core/digest.hpp"
#include "ovlmount/core/fd.hpp"
#include "ovlmount/forensics/overlay_marks.hpp"

#include <cryptopp/sha.h>

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

namespace ovlmount {
namespace {

constexpr size_t read_chunk = 256 * 1024;
constexpr size_t window_slots = 64;

// The layers (indices into the layer dirs, top first) that show through one merged directory.
using LayerList = std::vector<std::uint32_t>;

std::string beneath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (name.empty()) return dir;
  return dir + "/" + name;
}

std::string child_path(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

// openat2 of `name` beneath `dir_fd`: no symlink, no magic link, no other mount; O_NOATIME is
// dropped where it is not permitted. Invalid with errno set on failure.
UniqueFd open_beneath(int dir_fd, const char* name, int flags) {
  open_how how{};
  how.flags = static_cast<__u64>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  long fd = ::syscall(SYS_openat2, dir_fd, name, &how, sizeof how);
  if (fd < 0 && errno == EPERM && (flags & O_NOATIME)) {
    how.flags &= ~static_cast<__u64>(O_NOATIME);
    fd = ::syscall(SYS_openat2, dir_fd, name, &how, sizeof how);
  }
  return UniqueFd(fd < 0 ? -1 : static_cast<int>(fd));
}

// `path` as "/a/b": repeated and trailing slashes dropped, "." and ".." refused.
Result<std::string> normalized(const std::string& path) {
  std::string out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string component = path.substr(start, end - start);
    if (component == "." || component == "..") return usage_error(path, "\".\" and \"..\" are not allowed in the path");
    if (!component.empty()) out += "/" + component;
    start = end + 1;
  }
  return out.empty() ? std::string("/") : out;
}

// Whether `path` is strictly below directory `dir` (both normalized).
bool is_below(const std::string& path, const std::string& dir) {
  if (path == dir) return false;
  return dir == "/" || (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

// not_found for a selected `path` that is not in the tree at `root_fd` without symlinks.
Result<void> check_exists(int root_fd, const std::string& path) {
  if (path == "/") return {};
  const UniqueFd fd = open_beneath(root_fd, path.c_str() + 1, O_PATH | O_NOFOLLOW);
  if (fd) return {};
  switch (errno) {
    case ENOENT: return not_found(path, "no such file or directory in the tree");
    case ELOOP: return not_found(path, "a directory above it is a symlink, which is never followed");
    case ENOTDIR: return not_found(path, "a path element above it is not a directory");
    default: return failure(path, errno_text(errno));
  }
}

// The paths to list, normalized and sorted, without those below another one; {"/"} for all.
// Each must exist in the tree at `root_fd`, nested ones too.
Result<std::vector<std::string>> selection(int root_fd, const std::vector<std::string>& paths) {
  std::set<std::string> unique;
  for (const std::string& path : paths) {
    auto clean = normalized(path);
    if (!clean) return clean.error();
    unique.insert(*clean);
  }
  for (const std::string& path : unique)
    if (auto exists = check_exists(root_fd, path); !exists) return exists.error();
  if (unique.empty()) return std::vector<std::string>{"/"};
  std::vector<std::string> selected;
  for (const std::string& path : unique)
    if (std::none_of(unique.begin(), unique.end(), [&](const std::string& other) { return is_below(path, other); }))
      selected.push_back(path);
  return selected;
}

// The names in the directory open at `dir_fd`, with their d_type.
Result<std::vector<std::pair<std::string, unsigned char>>> read_names(int dir_fd, const std::string& path) {
  const int copy = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return failure(path, "cannot list: " + errno_text(errno));
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(copy), ::closedir);
  if (!dir) {
    ::close(copy);
    return failure(path, "cannot list: " + errno_text(errno));
  }
  std::vector<std::pair<std::string, unsigned char>> names;
  errno = 0;
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name, entry->d_type);
  }
  if (errno != 0) return failure(path, "cannot list: " + errno_text(errno));
  return names;
}

// Which layers of a merged directory hold each name in it.
struct DirLayers {
  std::string dir;                                      // relative: "" for the root, "etc/ssl"
  std::unordered_map<std::string, LayerList> holders;  // name -> the layers that have it, top first
};

Result<DirLayers> read_dir_layers(const RootDir& root, const std::vector<std::string>& layer_dirs,
                                  const std::string& dir, const LayerList& live) {
  DirLayers layers{dir, {}};
  for (const std::uint32_t layer : live) {
    auto names = root.list_dir(beneath(layer_dirs[layer], dir));
    if (!names) return names.error();
    for (std::string& name : *names) layers.holders[std::move(name)].push_back(layer);
  }
  return layers;
}

// The layers that show through child directory `name` of `parent`, as overlayfs merges them:
// its holders from the top down, up to an opaque one, until a whiteout or a non-directory.
Result<LayerList> child_layers(const RootDir& root, const std::vector<std::string>& layer_dirs,
                               const DirLayers& parent, const std::string& name) {
  LayerList live;
  const auto holders = parent.holders.find(name);
  if (holders == parent.holders.end()) return live;
  const std::string relative = beneath(parent.dir, name);
  for (const std::uint32_t layer : holders->second) {
    const std::string at = beneath(layer_dirs[layer], relative);
    auto st = root.stat(at);
    if (!st) return st.error();
    if (!*st) continue;
    if (!S_ISDIR((*st)->mode)) break;
    live.push_back(layer);
    auto opaque = is_opaque_dir(root, at);
    if (!opaque) return opaque.error();
    if (*opaque) break;
  }
  return live;
}

// Reads the regular file open at `fd` to its end into `entry.sha256`, or says why not.
void hash_file(int fd, TreeEntry& entry) {
  thread_local std::vector<CryptoPP::byte> buffer(read_chunk);
  CryptoPP::SHA256 hash;
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      entry.problem = "cannot read: " + errno_text(errno);
      return;
    }
    if (n == 0) break;
    hash.Update(buffer.data(), static_cast<size_t>(n));
  }
  CryptoPP::byte digest[CryptoPP::SHA256::DIGESTSIZE];
  hash.Final(digest);
  entry.sha256 = hex_of(digest, sizeof digest);
}

// Gives entries to a TreeRow in the order they are added, hashing the open files that come
// with them on worker threads meanwhile; at most `window_slots` entries wait at a time.
class OrderedRows {
 public:
  OrderedRows(const TreeRow& row, unsigned threads) : row_(row) {
    for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }

  OrderedRows(const OrderedRows&) = delete;
  OrderedRows& operator=(const OrderedRows&) = delete;

  ~OrderedRows() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
      todo_.clear();
    }
    work_ready_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

  // Queues `entry`, to be hashed from `file` first when that is open; false once the row
  // function has asked to stop.
  bool add(TreeEntry entry, UniqueFd file) {
    if (workers_.empty()) {
      if (file) hash_file(file.get(), entry);
      return row_(entry);
    }
    {
      const std::lock_guard lock(mutex_);
      window_.push_back(Slot{std::move(entry), std::move(file), false});
      Slot& slot = window_.back();
      if (slot.file) {
        todo_.push_back(&slot);
        work_ready_.notify_one();
      } else {
        slot.done = true;
      }
    }
    return deliver(window_slots - 1);
  }

  // Gives every queued entry to the row function; false if it asked to stop.
  bool finish() { return deliver(0); }

 private:
  struct Slot {
    TreeEntry entry;
    UniqueFd file;
    bool done = false;
  };

  // Gives the finished entries at the front away, waiting for the front one while more than
  // `keep` entries wait.
  bool deliver(size_t keep) {
    std::unique_lock lock(mutex_);
    while (!window_.empty()) {
      if (!window_.front().done) {
        if (window_.size() <= keep) return true;
        slot_done_.wait(lock, [this] { return window_.front().done; });
      }
      const TreeEntry entry = std::move(window_.front().entry);
      window_.pop_front();
      lock.unlock();
      if (!row_(entry)) return false;
      lock.lock();
    }
    return true;
  }

  void work() {
    std::unique_lock lock(mutex_);
    while (true) {
      work_ready_.wait(lock, [this] { return stopping_ || !todo_.empty(); });
      if (stopping_) return;
      Slot* slot = todo_.front();
      todo_.pop_front();
      lock.unlock();
      hash_file(slot->file.get(), slot->entry);
      slot->file = UniqueFd();
      lock.lock();
      slot->done = true;
      slot_done_.notify_one();
    }
  }

  const TreeRow& row_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable slot_done_;
  std::deque<Slot> window_;  // a deque keeps the slots in place as it grows and shrinks
  std::deque<Slot*> todo_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// One listing: the walk over the merged tree and, when asked, over its layers.
class Walker {
 public:
  Walker(const ListingOptions& options, std::vector<std::string> selected, OrderedRows& rows)
      : options_(options), selected_(std::move(selected)), rows_(rows) {}

  // Gives the entry of `name` in the directory open at `dir_fd` ("" for that directory
  // itself), at `path`; false once the row function asked to stop.
  bool give(int dir_fd, const std::string& name, const std::string& path, std::optional<size_t> layer) {
    TreeEntry entry;
    entry.path = path;
    entry.layer = layer;
    struct statx st {};
    const int flags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | (name.empty() ? AT_EMPTY_PATH : 0);
    if (::statx(dir_fd, name.c_str(), flags, STATX_BASIC_STATS, &st) != 0) {
      entry.problem = "cannot stat: " + errno_text(errno);
      return rows_.add(std::move(entry), UniqueFd());
    }
    entry.mode = st.stx_mode;
    entry.uid = st.stx_uid;
    entry.gid = st.stx_gid;
    entry.size = st.stx_size;
    entry.mtime = timespec{st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec};
    UniqueFd file;
    if (S_ISLNK(entry.mode)) {
      entry.link.resize(static_cast<size_t>(st.stx_size) + 1);
      ssize_t n = 0;
      while ((n = ::readlinkat(dir_fd, name.c_str(), entry.link.data(), entry.link.size())) >= 0 &&
             static_cast<size_t>(n) == entry.link.size())
        entry.link.resize(entry.link.size() * 2);
      if (n < 0) entry.problem = "cannot read the link: " + errno_text(errno);
      entry.link.resize(n < 0 ? 0 : static_cast<size_t>(n));
    } else if (S_ISREG(entry.mode) && options_.hash) {
      file = open_beneath(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NOATIME | O_NONBLOCK);
      if (!file) entry.problem = "cannot open: " + errno_text(errno);
    }
    return rows_.add(std::move(entry), std::move(file));
  }

  // Lists below the directory open at `dir_fd`, at `path` (`depth` levels below the root),
  // through which layers `live` show: everything when `full`, else only the selected paths
  // below it. False once stopped.
  Result<bool> walk(int dir_fd, const std::string& path, const LayerList& live, bool full, size_t depth = 0) {
    if (depth >= max_tree_depth)
      return corrupt(path.substr(0, path.find('/', 1)) + "/...",
                     "directories nested deeper than " + std::to_string(max_tree_depth) + " levels");
    std::vector<std::pair<std::string, unsigned char>> names;
    if (full) {
      auto read = read_names(dir_fd, path);
      if (!read) return read.error();
      names = std::move(*read);
    } else {
      for (const std::string& name : next_names(path)) names.emplace_back(name, DT_UNKNOWN);
    }
    DirLayers layers;
    if (options_.layer_root) {
      auto read = read_dir_layers(*options_.layer_root, options_.layer_dirs, path.substr(1), live);
      if (!read) return read.error();
      layers = std::move(*read);
    }

    struct Item {
      std::string key;  // the name for its row, the name + "/" for what is below it
      size_t child;
      bool below;
    };
    std::vector<Item> items;
    for (size_t i = 0; i < names.size(); ++i) {
      const auto& [name, type] = names[i];
      const bool selected = full || is_selected(child_path(path, name));
      if (selected) items.push_back({name, i, false});
      if (is_dir(dir_fd, name, type)) items.push_back({name + "/", i, true});
    }
    std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.key < b.key; });

    for (const Item& item : items) {
      const std::string& name = names[item.child].first;
      const std::string child = child_path(path, name);
      if (!item.below) {
        std::optional<size_t> layer;
        if (const auto holders = layers.holders.find(name); holders != layers.holders.end())
          layer = holders->second.front();
        if (!give(dir_fd, name, child, layer)) return false;
        continue;
      }
      const UniqueFd sub = open_beneath(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOATIME);
      if (!sub) return failure(child, "cannot open the directory: " + errno_text(errno));
      LayerList sub_live;
      if (options_.layer_root) {
        auto found = child_layers(*options_.layer_root, options_.layer_dirs, layers, name);
        if (!found) return found.error();
        sub_live = std::move(*found);
      }
      auto went_on = walk(sub.get(), child, sub_live, full || is_selected(child), depth + 1);
      if (!went_on || !*went_on) return went_on;
    }
    return true;
  }

 private:
  bool is_selected(const std::string& path) const {
    return std::binary_search(selected_.begin(), selected_.end(), path);
  }

  // The names in directory `path` on the way to a selected path.
  std::vector<std::string> next_names(const std::string& path) const {
    std::set<std::string> names;
    for (const std::string& selected : selected_) {
      if (!is_below(selected, path)) continue;
      const std::string rest = selected.substr(path == "/" ? 1 : path.size() + 1);
      names.insert(rest.substr(0, rest.find('/')));
    }
    return {names.begin(), names.end()};
  }

  static bool is_dir(int dir_fd, const std::string& name, unsigned char type) {
    if (type != DT_UNKNOWN) return type == DT_DIR;
    struct statx st {};
    return ::statx(dir_fd, name.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE, &st) == 0 &&
           S_ISDIR(st.stx_mode);
  }

  const ListingOptions& options_;
  const std::vector<std::string> selected_;
  OrderedRows& rows_;
};

unsigned hashing_threads(const ListingOptions& options) {
  if (!options.hash) return 0;
  if (options.threads) return options.threads;
  return std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
}

}  // namespace

Result<void> list_tree(const std::string& root, const ListingOptions& options, const TreeRow& row) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOATIME | O_CLOEXEC);
  if (fd < 0 && errno == EPERM) fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return failure(root, "cannot open: " + errno_text(errno));
  const UniqueFd root_fd(fd);
  auto selected = selection(root_fd.get(), options.paths);
  if (!selected) return selected.error();

  LayerList live;
  if (options.layer_root)
    for (std::uint32_t layer = 0; layer < options.layer_dirs.size(); ++layer) live.push_back(layer);
  const bool everything = selected->front() == "/";
  OrderedRows rows(row, hashing_threads(options));
  Walker walker(options, std::move(*selected), rows);
  std::optional<size_t> top;
  if (!live.empty()) top = 0;
  if (everything && !walker.give(root_fd.get(), "", "/", top)) return {};
  auto walked = walker.walk(root_fd.get(), "/", live, everything);
  if (!walked) return walked.error();
  if (*walked) rows.finish();
  return {};
}

const char* tree_type_name(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "symlink";
    case S_IFCHR: return "char";
    case S_IFBLK: return "block";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    default: return "unknown";
  }
}

std::string octal_mode(mode_t mode) {
  std::string digits(4, '0');
  for (size_t i = 4; i-- > 0; mode >>= 3) digits[i] = static_cast<char>('0' + (mode & 7));
  return digits;
}

std::string epoch_ns(const timespec& time) {
  const std::int64_t seconds = time.tv_sec;
  long nanoseconds = time.tv_nsec;
  std::uint64_t magnitude = static_cast<std::uint64_t>(seconds);
  if (seconds < 0) {
    magnitude = 0 - magnitude;
    if (nanoseconds > 0) {
      magnitude -= 1;
      nanoseconds = 1000000000L - nanoseconds;
    }
  }
  std::string fraction = std::to_string(nanoseconds);
  fraction.insert(0, 9 - std::min<size_t>(9, fraction.size()), '0');
  return (seconds < 0 ? "-" : "") + std::to_string(magnitude) + "." + fraction;
}

}  // namespace ovlmount
