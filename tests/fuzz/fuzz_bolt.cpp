// Why: containerd's meta.db and metadata.db and libpod's bolt_state.db are bbolt files from the
// seized store, read by our own reader; every page, element and tree may be hostile. The input
// is the whole file, given to BoltFile through a memory file. Checks: a walk of every bucket
// (bounded depth and count) sees keys in strictly increasing order, get() returns each plain
// value as for_each() saw it and bucket() each sub-bucket (or fails on damage the walk then
// meets too), and the Go decoders accept only what their contracts say.
#include "fuzz_support.hpp"

#include "ovlmount/store/bolt.hpp"

using namespace ovlmount;

namespace {

constexpr int max_depth = 8;
constexpr int max_items = 20000;

struct Walk {
  const BoltFile& file;
  int items = 0;
  bool lookup_failed = false;  // get() or bucket() met damage the walk had not reached yet

  Result<void> bucket(const BoltBucket& bucket, int depth) {
    if (depth > max_depth) return {};
    std::optional<std::string> previous;
    std::vector<std::pair<std::string, std::optional<BoltBucket>>> seen;
    auto walked = file.for_each(bucket, [&](const BoltItem& item) -> Result<void> {
      FUZZ_CHECK(!previous || *previous < item.key, "keys not in increasing order");
      previous = std::string(item.key);
      if (++items > max_items) return failure("fuzz", "enough items");
      if (!item.bucket) {
        auto value = file.get(bucket, item.key);
        if (!value) {
          fuzz::check_error(value.error());
          lookup_failed = true;
        } else {
          FUZZ_CHECK(*value && **value == item.value, "get() returns another value than for_each()");
        }
      }
      seen.emplace_back(std::string(item.key), item.bucket);
      return {};
    });
    if (!walked) return walked;
    for (const auto& [key, sub] : seen) {
      if (!sub) continue;
      auto found = file.bucket(bucket, key);
      if (!found) {
        fuzz::check_error(found.error());
        lookup_failed = true;
        continue;
      }
      FUZZ_CHECK(*found && (*found)->root_page == sub->root_page, "bucket() returns another bucket than for_each()");
      if (auto below = this->bucket(*sub, depth + 1); !below) return below;
    }
    return {};
  }
};

void check_decoders(std::string_view bytes) {
  if (decode_uvarint(bytes)) FUZZ_CHECK(bytes.size() <= 10, "a uvarint longer than 10 bytes");
  if (decode_varint(bytes)) FUZZ_CHECK(bytes.size() <= 10, "a varint longer than 10 bytes");
  if (const auto time = decode_go_time(bytes)) {
    FUZZ_CHECK(bytes.size() == 15, "a Go time that is not 15 bytes");
    FUZZ_CHECK(time->nanoseconds >= 0 && time->nanoseconds <= 999999999, "nanoseconds out of range");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = fuzz::input(data, size);
  check_decoders(bytes.substr(0, 16));
  auto file = BoltFile::open(fuzz::memory_file(bytes), "fuzz.db");
  if (!file) {
    fuzz::check_error(file.error());
    FUZZ_CHECK(file.error().code == ExitCode::corrupt, "a bad bolt file is not corrupt");
    return 0;
  }
  FUZZ_CHECK(file->page_size() > 0, "a page size of 0");
  bool lookup_failed = false;
  auto walked = file->consistent([&](const BoltFile& f) -> Result<void> {
    Walk walk{f};
    auto result = walk.bucket(f.root(), 0);
    lookup_failed = walk.lookup_failed;
    return result;
  });
  if (!walked && walked.error().object == "fuzz") return 0;
  if (!walked) fuzz::check_error(walked.error());
  FUZZ_CHECK(!lookup_failed || !walked, "get() or bucket() fails on a file whose walk succeeds");
  return 0;
}
