// Counting heap allocations in a test binary, for the "nothing allocated per
// packet once warm" tests: linking //testing:allocation_counter replaces the
// global operator new and delete (all their plain and array forms) with ones
// that count each allocation and then use malloc/free.
//
//   const uint64_t before = kcpp::test::AllocationCount();
//   ... the warm hot path ...
//   EXPECT_EQ(kcpp::test::AllocationCount() - before, 0u);
//
// LiveAllocatedBytes() is what those allocations hold now (usable size, as
// malloc rounds it), for tests that bound the memory an object costs:
//
//   const int64_t before = kcpp::test::LiveAllocatedBytes();
//   ... create N idle sessions ...
//   EXPECT_LE((kcpp::test::LiveAllocatedBytes() - before) / N, kBound);
//
// Allocations made by C code with malloc directly are not counted. Aligned
// operator new (alignas above 16) is not replaced, so neither counted.
#ifndef KCPP_TESTING_ALLOCATION_COUNTER_H_
#define KCPP_TESTING_ALLOCATION_COUNTER_H_

#include <cstdint>

namespace kcpp::test {

// Calls of the global operator new since the program started, on any thread.
uint64_t AllocationCount();
// Bytes held by blocks from the global operator new not yet deleted, on any
// thread.
int64_t LiveAllocatedBytes();

}  // namespace kcpp::test

#endif  // KCPP_TESTING_ALLOCATION_COUNTER_H_
