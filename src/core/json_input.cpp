// Why: see json_input.hpp. The budget is a memory resource that counts the bytes it has handed
// out and throws past the budget; the parse is stopped by that exception and reported as an
// error code, so callers handle it like any other malformed document.
#include "ovlmount/core/json_input.hpp"

#include <boost/json/parser.hpp>
#include <boost/json/storage_ptr.hpp>

#include <algorithm>
#include <new>
#include <string>

namespace ovlmount {
namespace {

struct OverBudget {};

class BudgetResource final : public boost::json::memory_resource {
 public:
  explicit BudgetResource(std::size_t budget) : left_(budget) {}

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    if (bytes > left_) throw OverBudget{};
    void* memory = ::operator new(bytes, new_alignment(alignment));
    left_ -= bytes;
    return memory;
  }
  void do_deallocate(void* memory, std::size_t bytes, std::size_t alignment) override {
    ::operator delete(memory, bytes, new_alignment(alignment));
    left_ += bytes;
  }
  bool do_is_equal(const boost::json::memory_resource& other) const noexcept override { return this == &other; }
  // boost::json frees some blocks with another alignment than it asked for them (a key string:
  // allocated with alignof(char), freed with the default max_align); at least the default
  // alignment for both keeps new and delete matched.
  static std::align_val_t new_alignment(std::size_t alignment) {
    return std::align_val_t(std::max<std::size_t>(alignment, __STDCPP_DEFAULT_NEW_ALIGNMENT__));
  }

  std::size_t left_;
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

}  // namespace ovlmount
