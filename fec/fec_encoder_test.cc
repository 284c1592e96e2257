// FecEncoder: Appendix A.3's captured kcp-go 5.6.1 packets, headroom for the
// crypt header, parity = RS over zero-padded size|payload, seqid wrap at the
// seqid space, the two parity policies, sink refusal, argument checks, OOB,
// shard memory held only while a group is being filled.
#include "fec/fec_encoder.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fec/fec_packet.h"
#include "fec/internal/fec_encoder_peer.h"
#include "fec/internal/test_util.h"
#include "fec/reed_solomon.h"
#include "fec/shard_pool.h"
#include "gtest/gtest.h"

namespace kcpp::fec {
namespace {

using testing::CollectingParitySink;
using testing::DataBuffer;
using testing::FromHex;
using testing::ToHex;

// docs/protocol.md Appendix A.3: kcp-go 5.6.1, no crypt, ds=3 ps=2, writes
// "A", "BBBBBBBBBB", "CCCCC".
const char* const kA3Packets[] = {
    "00000000f1001b0044332211510020000000000000000000000000000100000041",
    "01000000f100240044332211510020000500000001000000000000000a00000042424242424242424242",
    "02000000f1001f0044332211510020000b0000000200000000000000050000004343434343",
    "03000000f200200044332211510020000e00000003000000000000000e00000040010101014242424242",
    "04000000f200e60044332211510020001200000004000000000000004100000055bdbdbdbd2a2a2a2a2a",
};

FecEncoderOptions Options(int ds, int ps, size_t offset = 0,
                          ParityPolicy policy = ParityPolicy::kAlways,
                          size_t max_packet_size = kMtuLimit) {
  FecEncoderOptions o;
  o.data_shards = ds;
  o.parity_shards = ps;
  o.header_offset = offset;
  o.parity_policy = policy;
  o.max_packet_size = max_packet_size;
  return o;
}

FecEncoder MakeEncoder(const FecEncoderOptions& o) {
  auto e = FecEncoder::Create(o);
  EXPECT_TRUE(e.ok()) << e.status();
  return std::move(*e);
}

TEST(FecEncoder, AppendixA3PacketsByteForByte) {
  for (size_t offset : {size_t{0}, size_t{12}, size_t{20}}) {
    SCOPED_TRACE(offset);
    FecEncoder enc = MakeEncoder(Options(3, 2, offset));
    CollectingParitySink sink;
    for (int i = 0; i < 3; ++i) {
      const std::vector<uint8_t> want = FromHex(kA3Packets[i]);
      std::vector<uint8_t> buf = DataBuffer(offset, absl::MakeSpan(want).subspan(8));
      auto n = enc.Encode(absl::MakeSpan(buf), 1000 * i, sink);
      ASSERT_TRUE(n.ok()) << n.status();
      EXPECT_EQ(*n, i == 2 ? 2 : 0);
      EXPECT_EQ(ToHex(absl::MakeSpan(buf).subspan(offset)), ToHex(want)) << "pkt" << i;
      // The crypt headroom is left alone.
      EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + offset),
                std::vector<uint8_t>(offset, 0xAB));
    }
    ASSERT_EQ(sink.emitted.size(), 2u);
    for (int p = 0; p < 2; ++p) {
      const std::vector<uint8_t>& got = sink.emitted[p];
      ASSERT_EQ(got.size(), offset + 42);  // = longest data packet
      EXPECT_EQ(ToHex(absl::MakeSpan(got).subspan(offset)), kA3Packets[3 + p]);
      EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.begin() + offset),
                std::vector<uint8_t>(offset, 0xCD));
    }
    EXPECT_EQ(enc.next_seqid(), 5u);
  }
}

// Parity must be RS over `size|KCP bytes` zero-padded to the group maximum.
TEST(FecEncoder, ParityIsReedSolomonOfPaddedShards) {
  std::mt19937 rng(5);
  // A shared pool hands back blocks holding earlier shards' bytes: padding
  // must not depend on what a block held before.
  ShardPool shared;
  for (ShardPool* pool : {static_cast<ShardPool*>(nullptr), &shared}) {
    for (auto [ds, ps] : std::vector<std::pair<int, int>>{{10, 3}, {1, 1}, {4, 7}, {20, 10}}) {
      SCOPED_TRACE(pool == nullptr ? "private pool" : "shared pool");
      FecEncoderOptions o = Options(ds, ps, 20);
      o.pool = pool;
      FecEncoder enc = MakeEncoder(o);
      auto rs = ReedSolomon::Create(ds, ps);
      ASSERT_TRUE(rs.ok());
      CollectingParitySink sink;
      for (int group = 0; group < 3; ++group) {
        std::vector<std::vector<uint8_t>> shards;
        size_t longest = 0;
        for (int i = 0; i < ds; ++i) {
          std::vector<uint8_t> kcp(rng() % 1300);
          for (auto& b : kcp) b = rng();
          std::vector<uint8_t> buf = DataBuffer(20, kcp);
          longest = std::max(longest, buf.size());
          ASSERT_TRUE(enc.Encode(absl::MakeSpan(buf), 0, sink).ok());
          // size field = KCP bytes + 2, seqid consecutive.
          EXPECT_EQ(LoadLe16(&buf[26]), kcp.size() + 2);
          EXPECT_EQ(LoadLe32(&buf[20]), uint32_t(group * (ds + ps) + i));
          EXPECT_EQ(LoadLe16(&buf[24]), kFlagData);
          shards.emplace_back(buf.begin() + 26, buf.end());
        }
        const size_t len = longest - 26;
        std::vector<const uint8_t*> data;
        for (auto& s : shards) {
          s.resize(len, 0);
          data.push_back(s.data());
        }
        std::vector<std::vector<uint8_t>> parity(ps, std::vector<uint8_t>(len));
        std::vector<uint8_t*> pp;
        for (auto& p : parity) pp.push_back(p.data());
        ASSERT_TRUE(rs->Encode(data, pp, len).ok());
        ASSERT_EQ(sink.emitted.size(), size_t(ps * (group + 1)));
        for (int p = 0; p < ps; ++p) {
          const std::vector<uint8_t>& pkt = sink.emitted[group * ps + p];
          ASSERT_EQ(pkt.size(), longest);
          EXPECT_EQ(LoadLe32(&pkt[20]), uint32_t(group * (ds + ps) + ds + p));
          EXPECT_EQ(LoadLe16(&pkt[24]), kFlagParity);
          EXPECT_EQ(std::vector<uint8_t>(pkt.begin() + 26, pkt.end()), parity[p]);
        }
      }
      EXPECT_EQ(enc.counters().groups_encoded, 3u);
      EXPECT_EQ(enc.counters().data_packets, 3u * ds);
      EXPECT_EQ(enc.counters().parity_packets, 3u * ps);
    }
  }
  EXPECT_EQ(shared.bytes_in_use(), 0u);
  EXPECT_GT(shared.bytes_free(), 0u);
}

TEST(FecEncoder, HoldsShardMemoryOnlyWhileAGroupIsBeingFilled) {
  ShardPool pool;
  FecEncoderOptions o = Options(10, 3, 20);
  o.pool = &pool;
  FecEncoder enc = MakeEncoder(o);
  EXPECT_EQ(enc.held_bytes(), 0u);
  EXPECT_EQ(pool.bytes_in_use(), 0u);
  CollectingParitySink sink;
  // Five ACK-only datagrams (24 KCP bytes: 26-byte shards, 40-byte blocks)
  // and a 104-byte table of 10 block pointers and lengths.
  for (int i = 0; i < 5; ++i) {
    std::vector<uint8_t> ack = DataBuffer(20, std::vector<uint8_t>(24, 0x51));
    ASSERT_TRUE(enc.Encode(absl::MakeSpan(ack), 0, sink).ok());
  }
  EXPECT_EQ(enc.held_bytes(), 104u + 5 * 40);
  EXPECT_EQ(pool.bytes_in_use(), enc.held_bytes());
  // Four full datagrams (1400 bytes: 1374-byte shards, 1528-byte blocks).
  std::vector<uint8_t> full = DataBuffer(20, std::vector<uint8_t>(1400 - 28, 0x52));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(enc.Encode(absl::MakeSpan(full), 0, sink).ok());
  EXPECT_EQ(enc.held_bytes(), 104u + 5 * 40 + 4 * 1528);
  EXPECT_EQ(pool.bytes_in_use(), enc.held_bytes());
  // The tenth completes the group: everything goes back to the pool.
  ASSERT_TRUE(enc.Encode(absl::MakeSpan(full), 0, sink).ok());
  EXPECT_EQ(sink.emitted.size(), 3u);
  EXPECT_EQ(enc.held_bytes(), 0u);
  EXPECT_EQ(pool.bytes_in_use(), 0u);
  EXPECT_EQ(pool.bytes_free(), 104u + 5 * 40 + 5 * 1528);

  // A moved encoder takes its group along; a destroyed one gives it back.
  ASSERT_TRUE(enc.Encode(absl::MakeSpan(full), 0, sink).ok());
  {
    FecEncoder moved = std::move(enc);
    EXPECT_EQ(moved.held_bytes(), 104u + 1528);
    EXPECT_EQ(pool.bytes_in_use(), 104u + 1528);
  }
  EXPECT_EQ(pool.bytes_in_use(), 0u);
  pool.Trim(0);
  EXPECT_EQ(pool.bytes_reserved(), 0u);  // the codec went with its last encoder
}

TEST(FecEncoder, SeqidWrapsAtSeqidSpace) {
  FecEncoder enc = MakeEncoder(Options(10, 3));
  const uint32_t paws = SeqidSpace(10, 3);
  EXPECT_EQ(paws, 4294967287u);  // §4.2 example
  internal::FecEncoderPeer::SetNextSeqid(enc, paws - 13);
  CollectingParitySink sink;
  std::vector<uint8_t> kcp(30, 7);
  for (int i = 0; i < 11; ++i) {
    std::vector<uint8_t> buf = DataBuffer(0, kcp);
    ASSERT_TRUE(enc.Encode(absl::MakeSpan(buf), 0, sink).ok());
    const uint32_t want = i < 10 ? paws - 13 + i : 0;  // the 11th starts the next group at 0
    EXPECT_EQ(LoadLe32(buf.data()), want) << i;
  }
  ASSERT_EQ(sink.emitted.size(), 3u);
  for (int p = 0; p < 3; ++p) EXPECT_EQ(LoadLe32(sink.emitted[p].data()), paws - 3 + p);
  EXPECT_EQ(enc.next_seqid(), 1u);
  EXPECT_EQ(SeqidSpace(1, 1), 4294967294u);  // §4.2 example
}

TEST(FecEncoder, AlwaysPolicyIgnoresTime) {
  FecEncoder enc = MakeEncoder(Options(2, 1));
  CollectingParitySink sink;
  std::vector<uint8_t> kcp(10, 1);
  const uint32_t times[] = {0, 100000, 100001, 900000};
  for (uint32_t t : times) {
    std::vector<uint8_t> buf = DataBuffer(0, kcp);
    ASSERT_TRUE(enc.Encode(absl::MakeSpan(buf), t, sink).ok());
  }
  EXPECT_EQ(sink.emitted.size(), 2u);
  EXPECT_EQ(enc.next_seqid(), 6u);
}

TEST(FecEncoder, SkipWhenIdleAdvancesSeqidLikeKcpGoHead) {
  FecEncoder enc = MakeEncoder(Options(2, 3, 0, ParityPolicy::kSkipWhenIdle));
  CollectingParitySink sink;
  std::vector<uint8_t> kcp(10, 1);
  auto send = [&](uint32_t t) {
    std::vector<uint8_t> buf = DataBuffer(0, kcp);
    EXPECT_TRUE(enc.Encode(absl::MakeSpan(buf), t, sink).ok());
    return LoadLe32(buf.data());
  };
  // Group 0: interval 499 ms -> parity.
  EXPECT_EQ(send(1000), 0u);
  EXPECT_EQ(send(1499), 1u);
  EXPECT_EQ(sink.emitted.size(), 3u);
  // Group 1: interval 500 ms -> no parity, seqid still advanced by 3.
  EXPECT_EQ(send(1600), 5u);
  EXPECT_EQ(send(2100), 6u);
  EXPECT_EQ(sink.emitted.size(), 3u);
  EXPECT_EQ(enc.next_seqid(), 10u);
  // Only the last interval of the group counts; the clock may wrap.
  EXPECT_EQ(send(0xFFFFFF00u), 10u);
  EXPECT_EQ(send(0x10u), 11u);  // 0x110 ms later
  EXPECT_EQ(sink.emitted.size(), 6u);
  EXPECT_EQ(LoadLe32(sink.emitted[3].data()), 12u);
  EXPECT_EQ(enc.counters().groups_skipped_idle, 1u);

  // With one data shard per group the first packet ever has no predecessor:
  // kcp-go (time since 0) treats it as idle.
  FecEncoder one = MakeEncoder(Options(1, 1, 0, ParityPolicy::kSkipWhenIdle));
  CollectingParitySink s1;
  std::vector<uint8_t> b1 = DataBuffer(0, kcp), b2 = DataBuffer(0, kcp);
  ASSERT_TRUE(one.Encode(absl::MakeSpan(b1), 5, s1).ok());
  ASSERT_TRUE(one.Encode(absl::MakeSpan(b2), 6, s1).ok());
  EXPECT_EQ(LoadLe32(b2.data()), 2u);
  ASSERT_EQ(s1.emitted.size(), 1u);
  EXPECT_EQ(LoadLe32(s1.emitted[0].data()), 3u);
}

TEST(FecEncoder, SinkWithoutBuffersSkipsParityAndKeepsGrid) {
  FecEncoder enc = MakeEncoder(Options(2, 2));
  CollectingParitySink sink;
  std::vector<uint8_t> kcp(10, 1);
  sink.refuse = true;
  for (int i = 0; i < 2; ++i) {
    std::vector<uint8_t> buf = DataBuffer(0, kcp);
    auto n = enc.Encode(absl::MakeSpan(buf), 0, sink);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 0);
  }
  sink.refuse = false;
  sink.shortfall = 1;  // too-small buffers are refused too
  for (int i = 0; i < 2; ++i) {
    std::vector<uint8_t> buf = DataBuffer(0, kcp);
    ASSERT_TRUE(enc.Encode(absl::MakeSpan(buf), 0, sink).ok());
    EXPECT_EQ(LoadLe32(buf.data()), uint32_t(4 + i));
  }
  EXPECT_TRUE(sink.emitted.empty());
  EXPECT_EQ(enc.counters().groups_skipped_no_buffer, 2u);
  EXPECT_EQ(enc.next_seqid(), 8u);
}

// Adaptive parity: the first k parity packets are exactly those a full
// encoder sends, the others' seqids are skipped, and k = 0 sends none.
TEST(FecEncoder, WithheldParityKeepsTheGridAndTheSentShardsExact) {
  for (int send = 0; send <= 3; ++send) {
    SCOPED_TRACE(send);
    for (size_t offset : {size_t{0}, size_t{20}}) {
      FecEncoder full = MakeEncoder(Options(4, 3, offset));
      FecEncoder some = MakeEncoder(Options(4, 3, offset));
      some.SetParityToSend(send);
      EXPECT_EQ(some.parity_to_send(), send);
      CollectingParitySink full_sink, some_sink;
      std::mt19937 rng(send);
      for (int group = 0; group < 3; ++group) {
        for (int i = 0; i < 4; ++i) {
          // Mixed lengths, so both padding paths of EmitParity run.
          std::vector<uint8_t> kcp(1 + rng() % (i == 0 ? 1400 : 40));
          for (uint8_t& b : kcp) b = static_cast<uint8_t>(rng());
          std::vector<uint8_t> a = DataBuffer(offset, kcp), b = a;
          ASSERT_TRUE(full.Encode(absl::MakeSpan(a), 0, full_sink).ok());
          ASSERT_TRUE(some.Encode(absl::MakeSpan(b), 0, some_sink).ok());
          EXPECT_EQ(a, b);  // data packets (and their seqids) are unchanged
        }
      }
      ASSERT_EQ(full_sink.emitted.size(), 9u);
      ASSERT_EQ(some_sink.emitted.size(), size_t(3 * send));
      for (int group = 0; group < 3; ++group) {
        for (int p = 0; p < send; ++p) {
          EXPECT_EQ(some_sink.emitted[group * send + p], full_sink.emitted[group * 3 + p]);
        }
      }
      EXPECT_EQ(some.next_seqid(), full.next_seqid());
      EXPECT_EQ(some.counters().parity_packets, uint64_t(3 * send));
      EXPECT_EQ(some.counters().parity_withheld, uint64_t(send == 0 ? 0 : 3 * (3 - send)));
      EXPECT_EQ(some.counters().groups_skipped_adaptive, send == 0 ? 3u : 0u);
    }
  }
  FecEncoder e = MakeEncoder(Options(4, 3));
  e.SetParityToSend(9);
  EXPECT_EQ(e.parity_to_send(), 3);
  e.SetParityToSend(-1);
  EXPECT_EQ(e.parity_to_send(), 0);
}

TEST(FecEncoder, RejectsBadSizesWithoutChangingState) {
  FecEncoder enc = MakeEncoder(Options(3, 2, 20));
  CollectingParitySink sink;
  std::vector<uint8_t> too_short(27, 0);  // < 20 + 8
  EXPECT_EQ(enc.Encode(absl::MakeSpan(too_short), 0, sink).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<uint8_t> too_long(kMtuLimit + 1, 0);
  EXPECT_EQ(enc.Encode(absl::MakeSpan(too_long), 0, sink).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(enc.next_seqid(), 0u);
  EXPECT_EQ(enc.counters().data_packets, 0u);
  std::vector<uint8_t> smallest(28, 0), largest(kMtuLimit, 0);
  EXPECT_TRUE(enc.Encode(absl::MakeSpan(smallest), 0, sink).ok());
  EXPECT_EQ(LoadLe16(&smallest[26]), 2u);  // empty KCP payload: size = 2
  EXPECT_TRUE(enc.Encode(absl::MakeSpan(largest), 0, sink).ok());
  EXPECT_EQ(LoadLe16(&largest[26]), kMtuLimit - 26);
}

TEST(FecEncoder, CreateChecksOptions) {
  EXPECT_FALSE(FecEncoder::Create(Options(0, 3)).ok());
  EXPECT_FALSE(FecEncoder::Create(Options(3, 0)).ok());
  EXPECT_FALSE(FecEncoder::Create(Options(200, 57)).ok());
  EXPECT_FALSE(FecEncoder::Create(Options(10, 3, 20, ParityPolicy::kAlways, 27)).ok());
  EXPECT_FALSE(FecEncoder::Create(Options(10, 3, 0, ParityPolicy::kAlways, 6 + 65536)).ok());
  EXPECT_TRUE(FecEncoder::Create(Options(10, 3, 0, ParityPolicy::kAlways, 6 + 65535)).ok());
}

TEST(FecEncoder, JumboPacketsUpToTheSizeField) {
  FecEncoder enc = MakeEncoder(Options(2, 1, 0, ParityPolicy::kAlways, 65541));
  CollectingParitySink sink;
  std::vector<uint8_t> a(65541, 1), b(100, 2);
  ASSERT_TRUE(enc.Encode(absl::MakeSpan(a), 0, sink).ok());
  ASSERT_TRUE(enc.Encode(absl::MakeSpan(b), 0, sink).ok());
  EXPECT_EQ(LoadLe16(&a[6]), 65535u);
  ASSERT_EQ(sink.emitted.size(), 1u);
  EXPECT_EQ(sink.emitted[0].size(), 65541u);
}

TEST(FecEncoder, SealOob) {
  FecEncoder enc = MakeEncoder(Options(3, 2, 12));
  std::vector<uint8_t> pkt(12 + 8 + 4 + 5, 0xEE);
  ASSERT_TRUE(enc.SealOob(absl::MakeSpan(pkt)).ok());
  EXPECT_EQ(ToHex(absl::MakeSpan(pkt).subspan(12, 8)), "fffffffff3000b00");  // size = 4 + 5 + 2
  EXPECT_EQ(enc.next_seqid(), 0u);
  std::vector<uint8_t> small(12 + 11);
  EXPECT_FALSE(enc.SealOob(absl::MakeSpan(small)).ok());
}

}  // namespace
}  // namespace kcpp::fec
