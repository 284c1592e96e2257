// Heap allocations of the warm framing paths, counted by replacing the
// global operator new in this test binary (libsnappy's calls land here too).
//   * FramingDecoder: none, for compressed and stored chunks.
//   * FramingEncoder: none of its own; libsnappy 1.1.9's RawCompress
//     allocates its hash table (WorkingMemory) once per call, i.e. once per
//     chunk. That is the only allocation on the send path.
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "snappy/framing.h"
#include "testing/allocation_counter.h"

namespace kcpp::snappy_framing {
namespace {

std::vector<uint8_t> Frame(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = (i / 1000) % 2 ? static_cast<uint8_t>(rng()) : 'a' + i % 7;
  return b;
}

TEST(FramingAllocations, WarmPaths) {
  FramingEncoder enc;
  FramingDecoder dec;
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 8; ++i) frames.push_back(Frame(1000 + i * 4000, i));
  frames.push_back(std::vector<uint8_t>(40000, 0));  // compresses well
  frames.push_back(Frame(65543, 99));                // two chunks
  uint64_t encode_allocs = 0, decode_allocs = 0, chunks = 0;
  auto round = [&] {
    for (const auto& f : frames) {
      uint64_t before = ::kcpp::test::AllocationCount();
      const uint64_t chunks_before = enc.compressed_chunks() + enc.uncompressed_chunks();
      enc.Write(f);  // kcptun: one write + Flush per smux frame
      enc.Flush();
      encode_allocs += ::kcpp::test::AllocationCount() - before;
      chunks += enc.compressed_chunks() + enc.uncompressed_chunks() - chunks_before;
      before = ::kcpp::test::AllocationCount();
      absl::Span<const uint8_t> in = enc.output();
      while (!in.empty()) {  // in pieces that split chunks
        absl::Span<const uint8_t> piece = in.subspan(0, 5000);
        while (!piece.empty() || !dec.decoded().empty()) {
          auto used = dec.Feed(piece);
          ASSERT_TRUE(used.ok());
          piece.remove_prefix(*used);
          in.remove_prefix(*used);
          dec.ConsumeDecoded(dec.decoded().size());
          if (*used == 0 && piece.empty()) break;
        }
      }
      enc.ConsumeOutput(enc.output().size());
      decode_allocs += ::kcpp::test::AllocationCount() - before;
    }
  };
  round();  // warm-up
  encode_allocs = decode_allocs = chunks = 0;
  for (int i = 0; i < 20; ++i) round();
  EXPECT_EQ(decode_allocs, 0u);
  EXPECT_EQ(chunks, 20u * 11);
  EXPECT_EQ(encode_allocs, chunks);  // libsnappy's WorkingMemory, one per RawCompress
}

}  // namespace
}  // namespace kcpp::snappy_framing
