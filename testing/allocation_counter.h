// Counting heap allocations in a test binary, for the "nothing allocated per
// packet once warm" tests: linking //testing:allocation_counter replaces the
// global operator new and delete (all their plain and array forms) with ones
// that count each allocation and then use malloc/free.
//
//   const uint64_t before = kcpp::test::AllocationCount();
//   ... the warm hot path ...
//   EXPECT_EQ(kcpp::test::AllocationCount() - before, 0u);
//
// Allocations made by C code with malloc directly are not counted.
#ifndef KCPP_TESTING_ALLOCATION_COUNTER_H_
#define KCPP_TESTING_ALLOCATION_COUNTER_H_

#include <cstdint>

namespace kcpp::test {

// Calls of the global operator new since the program started, on any thread.
uint64_t AllocationCount();

}  // namespace kcpp::test

#endif  // KCPP_TESTING_ALLOCATION_COUNTER_H_
