// Why: unit tests drive the store, resolver and commands without a real data root or
// kernel: an in-memory RootDir, a Mounter that records calls, and a settable mount table.
#pragma once

#include "ovlmount/digest.hpp"
#include "ovlmount/mount_table.hpp"
#include "ovlmount/mounter.hpp"
#include "ovlmount/root_dir.hpp"

#include <sys/stat.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace ovlmount::test {

// An in-memory data root: files with content, and the directories above them.
class FakeRootDir final : public RootDir {
 public:
  explicit FakeRootDir(std::string path = "/fake/root") : path_(std::move(path)) {}

  void add_file(const std::string& relative, std::string content) {
    files_[relative] = std::move(content);
    add_parents(relative);
  }
  void add_dir(const std::string& relative) {
    dirs_.insert(relative);
    add_parents(relative);
  }
  void remove(const std::string& relative) {
    files_.erase(relative);
    dirs_.erase(relative);
  }

  const std::string& path() const override { return path_; }
  Result<std::string> read_file(std::string_view relative, size_t max_size) const override {
    const auto file = files_.find(std::string(relative));
    if (file == files_.end()) {
      if (dirs_.contains(std::string(relative))) return corrupt(absolute(relative), "not a regular file");
      return not_found(absolute(relative), "no such file or directory");
    }
    if (file->second.size() > max_size) return corrupt(absolute(relative), "too large");
    return file->second;
  }
  Result<std::vector<std::string>> list_dir(std::string_view relative) const override {
    const std::string dir(relative);
    if (!dirs_.contains(dir)) return not_found(absolute(relative), "no such file or directory");
    std::set<std::string> names;
    const auto collect = [&](const std::string& path) {
      if (path.size() > dir.size() && path.starts_with(dir + "/")) {
        const std::string rest = path.substr(dir.size() + 1);
        names.insert(rest.substr(0, rest.find('/')));
      }
    };
    for (const auto& [file, content] : files_) collect(file);
    for (const auto& sub : dirs_) collect(sub);
    return std::vector<std::string>(names.begin(), names.end());
  }
  Result<EntryKind> kind(std::string_view relative) const override {
    if (files_.contains(std::string(relative))) return EntryKind::regular;
    if (dirs_.contains(std::string(relative))) return EntryKind::directory;
    return EntryKind::missing;
  }
  Result<UniqueFd> open_dir(std::string_view relative) const override {
    return failure(absolute(relative), "the fake root cannot open directories");
  }
  Result<std::optional<FileStat>> stat(std::string_view relative) const override {
    const std::string path(relative);
    FileStat st;
    if (const auto file = files_.find(path); file != files_.end()) {
      st.mode = S_IFREG | 0644;
      st.size = file->second.size();
    } else if (dirs_.contains(path)) {
      st.mode = S_IFDIR | 0755;
    } else {
      return std::optional<FileStat>();
    }
    return std::optional<FileStat>(st);
  }
  Result<UniqueFd> open_file(std::string_view relative) const override {
    return failure(absolute(relative), "the fake root cannot open files");
  }
  Result<std::optional<std::string>> xattr(std::string_view, const std::string&) const override {
    return std::optional<std::string>();
  }

 private:
  void add_parents(const std::string& relative) {
    for (size_t slash = relative.find('/'); slash != std::string::npos; slash = relative.find('/', slash + 1))
      dirs_.insert(relative.substr(0, slash));
  }

  std::string path_;
  std::map<std::string, std::string> files_;
  std::set<std::string> dirs_;
};

// Builds a Docker overlay2 store in a FakeRootDir, the way dockerd lays it out.
class FakeDockerStore {
 public:
  FakeRootDir root;

  FakeDockerStore() { root.add_dir("image/overlay2/imagedb/content/sha256"); }

  // Adds an image whose layers have the given diff IDs (bottom first) and returns its ID
  // (64 hex). Layer directories and layerdb entries are created for each layer.
  std::string add_image(const std::vector<std::string>& diff_ids, const std::string& extra = "") {
    std::string config = R"({"architecture":"amd64",)" + extra + R"("rootfs":{"type":"layers","diff_ids":[)";
    for (size_t i = 0; i < diff_ids.size(); ++i) config += (i ? ",\"" : "\"") + diff_ids[i] + "\"";
    config += "]}}";
    const std::string id = sha256_hex(config);
    root.add_file("image/overlay2/imagedb/content/sha256/" + id, config);
    const auto chain = chain_ids(diff_ids);
    for (size_t i = 0; i < chain.size(); ++i) {
      const std::string layer = "image/overlay2/layerdb/sha256/" + chain[i].substr(7);
      const std::string cache_id = sha256_hex("cache" + chain[i]);
      root.add_file(layer + "/diff", diff_ids[i]);
      root.add_file(layer + "/cache-id", cache_id);
      root.add_file(layer + "/size", "0");
      if (i) root.add_file(layer + "/parent", chain[i - 1]);
      root.add_dir("overlay2/" + cache_id + "/diff");
    }
    if (!chain.empty()) top_chains_[id] = chain.back();
    return id;
  }

  // Adds a stopped container of image `image_id` (64 hex) named `name` with its own layers
  // and the given MountPoints JSON; returns its ID (64 hex).
  std::string add_container(const std::string& name, const std::string& image_id,
                            const std::string& mount_points = "{}") {
    const std::string id = sha256_hex("container " + name);
    const std::string mount_id = sha256_hex("mount " + name);
    root.add_file("containers/" + id + "/config.v2.json",
                  R"({"ID":")" + id + R"(","Name":"/)" + name + R"(","Image":"sha256:)" + image_id +
                      R"(","Created":"2026-01-02T03:04:05Z","Driver":"overlay2","Config":{"Image":"app"},)"
                      R"("State":{"Running":false,"StartedAt":"2026-01-02T03:04:06Z"},"MountPoints":)" +
                      mount_points + "}");
    const std::string layers = "image/overlay2/layerdb/mounts/" + id;
    root.add_file(layers + "/mount-id", mount_id);
    root.add_file(layers + "/init-id", mount_id + "-init");
    root.add_file(layers + "/parent", top_chain_id(image_id));
    root.add_dir("overlay2/" + mount_id + "/diff");
    root.add_dir("overlay2/" + mount_id + "-init/diff");
    return id;
  }

  // The top chainID of image `image_id` as add_image made it.
  std::string top_chain_id(const std::string& image_id) const { return top_chains_.at(image_id); }

  // Writes repositories.json with `entries` as {familiar name: {key: "sha256:<id>"}}.
  void set_repositories(const std::map<std::string, std::map<std::string, std::string>>& entries) {
    std::string json = R"({"Repositories":{)";
    bool first_name = true;
    for (const auto& [name, refs] : entries) {
      json += (first_name ? "\"" : ",\"") + name + "\":{";
      first_name = false;
      bool first_ref = true;
      for (const auto& [key, id] : refs) {
        json += (first_ref ? "\"" : ",\"") + key + "\":\"sha256:" + id + "\"";
        first_ref = false;
      }
      json += "}";
    }
    root.add_file("image/overlay2/repositories.json", json + "}}");
  }

 private:
  std::map<std::string, std::string> top_chains_;
};

// The layer diff ID "sha256:" + sha256(`seed`).
inline std::string diff_id(const std::string& seed) { return "sha256:" + sha256_hex(seed); }

// A Mounter that records what it was asked and answers as told.
class FakeMounter final : public Mounter {
 public:
  std::vector<MountPlan> mounted;
  std::vector<std::string> unmounted;
  std::optional<Error> fail_with;

  Result<void> mount(const MountPlan& plan, const RootDir&) override {
    if (fail_with) return *fail_with;
    mounted.push_back(plan);
    return {};
  }
  Result<void> unmount(const std::string& target, bool) override {
    if (fail_with) return *fail_with;
    unmounted.push_back(target);
    return {};
  }
  std::vector<std::string> bound;
  Result<void> bind(const MountPlan&, const BindPlan& bind, const RootDir&) override {
    if (fail_with) return *fail_with;
    bound.push_back(bind.target);
    return {};
  }
};

// A mount table whose entries the test sets.
class FakeMountTable final : public MountTable {
 public:
  std::vector<MountEntry> entries;
  Result<std::vector<MountEntry>> read() const override { return entries; }
  void add_ovlmount(const std::string& target) { entries.push_back({target, "overlay", "ovlmount", "ro"}); }
};

}  // namespace ovlmount::test
