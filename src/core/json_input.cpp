// Why: see json_input.hpp. The budget is a memory resource (an arena) that counts the bytes it
// has taken from the heap and throws past the budget; the parse is stopped by that exception
// and reported as an error code, so callers handle it like any other malformed document. The
// arena makes a store's large catalogue (megabytes of small strings) cheap to build and free.
#include "ovlmount/core/json_input.hpp"

#include <boost/json/error.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/storage_ptr.hpp>

#include <algorithm>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

namespace ovlmount {
namespace {

struct OverBudget {};

// An arena: blocks are cut from chunks that grow geometrically and are all freed with the
// resource (with the parsed value), so parsing costs no malloc per string and destroying the
// value no free per node. Chunks count against the budget.
class BudgetResource final : public boost::json::memory_resource {
 public:
  explicit BudgetResource(std::size_t budget) : left_(budget) {}
  BudgetResource(const BudgetResource&) = delete;
  BudgetResource& operator=(const BudgetResource&) = delete;
  ~BudgetResource() override {
    for (void* chunk : chunks_) ::operator delete(chunk);
  }

 private:
  static constexpr std::size_t first_chunk = 64 << 10;
  static constexpr std::size_t max_chunk = 16 << 20;

  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    std::size_t start = (used_ + alignment - 1) & ~(alignment - 1);
    if (chunks_.empty() || start + bytes > size_) {
      const std::size_t size = std::max(bytes + alignment, next_size_);
      if (size > left_) throw OverBudget{};
      chunks_.push_back(::operator new(size));
      left_ -= size;
      size_ = size;
      next_size_ = std::min(next_size_ * 2, max_chunk);
      const auto base = reinterpret_cast<std::uintptr_t>(chunks_.back());
      start = static_cast<std::size_t>(((base + alignment - 1) & ~(std::uintptr_t{alignment} - 1)) - base);
    }
    used_ = start + bytes;
    return static_cast<char*>(chunks_.back()) + start;
  }
  void do_deallocate(void*, std::size_t, std::size_t) override {}
  bool do_is_equal(const boost::json::memory_resource& other) const noexcept override { return this == &other; }

  std::size_t left_;
  std::vector<void*> chunks_;
  std::size_t size_ = 0;
  std::size_t used_ = 0;
  std::size_t next_size_ = first_chunk;
};

// error_category's destructor is protected and non-virtual by design (categories are never
// deleted through a base pointer); Boost silences the same warning for its own categories.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class JsonLimitCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "ovlmount.json"; }
  std::string message(int) const override { return "needs more memory to parse than one store document may take"; }
};
#pragma GCC diagnostic pop

const JsonLimitCategory json_limit_category;

}  // namespace
}  // namespace ovlmount

template <>
struct boost::json::is_deallocate_trivial<ovlmount::BudgetResource> : std::true_type {};

namespace ovlmount {

boost::json::value parse_untrusted_json(std::string_view text, boost::system::error_code& ec, std::size_t max_memory) {
  boost::json::parse_options options;
  options.max_depth = json_max_depth;
  const boost::json::storage_ptr budget = boost::json::make_shared_resource<BudgetResource>(max_memory);
  try {
    boost::json::parser parser(budget, options);
    parser.reset(budget);
    parser.write(text.data(), text.size(), ec);
    if (ec) return nullptr;
    return parser.release();
  } catch (const OverBudget&) {
    ec = boost::system::error_code(1, json_limit_category);
    return nullptr;
  }
}

bool StreamingJsonHandler::charge(boost::system::error_code& ec, std::size_t bytes) {
  used_ += bytes;
  if (used_ <= json_max_memory) return true;
  over_budget_ = true;
  ec = boost::json::error::exception;
  return false;
}

}  // namespace ovlmount
