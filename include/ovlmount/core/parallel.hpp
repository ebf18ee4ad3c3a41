// Why: a few commands have independent items of work (a stack's layers) that take long enough
// to split over the cores, and each must still report exactly what a sequential loop would.
// One small helper does the splitting for all of them.
#pragma once

#include <cstddef>
#include <functional>

namespace ovlmount {

// Calls work(i) for every i in [0, count), on up to `threads` threads (this one included), each
// taking the next index as it finishes one; returns when all are done. An exception thrown by
// work stops the others from taking more and is rethrown here.
void for_each_index(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& work);

// The threads worth using for `count` items: the machine's cores, at most `count`, at least 1.
unsigned worker_count(std::size_t count);

}  // namespace ovlmount
