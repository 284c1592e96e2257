#include "testing/allocation_counter.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace kcpp::test {
namespace {

// The replacement operator new is linked in and counts every form.
TEST(AllocationCounter, CountsEachOperatorNew) {
  const uint64_t before = AllocationCount();
  auto one = std::make_unique<int>(7);
  auto many = std::make_unique<int[]>(64);
  std::vector<char> v(1000);
  EXPECT_EQ(AllocationCount() - before, 3u);
  EXPECT_EQ(*one + many[0] + v[0], 7);
}

}  // namespace
}  // namespace kcpp::test
