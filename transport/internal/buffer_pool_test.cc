#include "transport/internal/buffer_pool.h"

#include <cstring>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace kcpp::transport::internal {
namespace {

TEST(BufferPool, HandsOutDistinctAlignedBuffersAndReusesThem) {
  BufferPool pool(4);
  std::vector<uint8_t*> taken;
  std::set<uint8_t*> distinct;
  for (int i = 0; i < 10; ++i) {
    uint8_t* b = pool.Get();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 64, 0u);
    std::memset(b, i, BufferPool::kBufferBytes);  // ASan catches overlap/overflow
    taken.push_back(b);
    distinct.insert(b);
  }
  EXPECT_EQ(distinct.size(), 10u);
  EXPECT_EQ(pool.capacity(), 12u);  // three slabs of four
  for (uint8_t* b : taken) pool.Put(b);
  EXPECT_EQ(pool.available(), 12u);
  // Warm: taking and returning does not grow the pool.
  for (int i = 0; i < 1000; ++i) pool.Put(pool.Get());
  EXPECT_EQ(pool.capacity(), 12u);
  EXPECT_EQ(pool.allocations(), 3u);
  EXPECT_EQ(pool.bytes_reserved(), 12 * BufferPool::kBufferBytes);
}

}  // namespace
}  // namespace kcpp::transport::internal
