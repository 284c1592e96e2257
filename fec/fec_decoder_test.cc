// FecDecoder: Appendix A.3 recovery, seeded random loss (recovers exactly
// what the code can recover), reordering and duplicates, the group window,
// seqid wrap, hostile and malformed packets, OOB, auto-tune, memory held
// only for incomplete groups and bounded under hostile input, decoders
// sharing a pool.
#include "fec/fec_decoder.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fec/fec_encoder.h"
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

using Bytes = std::vector<uint8_t>;

FecDecoderOptions DecoderOptions(int ds, int ps) {
  FecDecoderOptions o;
  o.data_shards = ds;
  o.parity_shards = ps;
  return o;
}

FecDecoder MakeDecoder(const FecDecoderOptions& o) {
  auto d = FecDecoder::Create(o);
  EXPECT_TRUE(d.ok()) << d.status();
  return std::move(*d);
}

std::vector<Bytes> Recovered(const FecDecoder::Result& r) {
  std::vector<Bytes> out;
  for (const auto& s : r.recovered) out.emplace_back(s.begin(), s.end());
  return out;
}

// Appendix A.3 (kcp-go 5.6.1, ds=3 ps=2).
const char* const kA3[] = {
    "00000000f1001b0044332211510020000000000000000000000000000100000041",
    "01000000f100240044332211510020000500000001000000000000000a00000042424242424242424242",
    "02000000f1001f0044332211510020000b0000000200000000000000050000004343434343",
    "03000000f200200044332211510020000e00000003000000000000000e00000040010101014242424242",
    "04000000f200e60044332211510020001200000004000000000000004100000055bdbdbdbd2a2a2a2a2a",
};

Bytes KcpOf(const char* hex) {
  Bytes b = FromHex(hex);
  return Bytes(b.begin() + 8, b.end());
}

TEST(FecDecoder, AppendixA3DataPassesThroughAndLossIsRecovered) {
  {
    FecDecoder dec = MakeDecoder(DecoderOptions(3, 2));
    Bytes p0 = FromHex(kA3[0]), p2 = FromHex(kA3[2]), p3 = FromHex(kA3[3]), p4 = FromHex(kA3[4]);
    FecDecoder::Result r = dec.Decode(p0);
    EXPECT_EQ(r.kind, FecDecoder::Kind::kData);
    EXPECT_EQ(Bytes(r.payload.begin(), r.payload.end()), KcpOf(kA3[0]));
    EXPECT_EQ(r.payload.data(), p0.data() + 8);  // a view, not a copy
    EXPECT_TRUE(r.recovered.empty());
    EXPECT_TRUE(dec.Decode(p2).recovered.empty());
    r = dec.Decode(p3);  // third shard of the group: pkt1 is rebuilt
    EXPECT_EQ(r.kind, FecDecoder::Kind::kParity);
    EXPECT_TRUE(r.payload.empty());
    EXPECT_EQ(Recovered(r), std::vector<Bytes>{KcpOf(kA3[1])});
    EXPECT_TRUE(dec.Decode(p4).recovered.empty());  // group already decoded
    EXPECT_EQ(dec.counters().recovered, 1u);
    EXPECT_EQ(dec.counters().late, 1u);
    EXPECT_EQ(dec.counters().parity_packets, 2u);
    EXPECT_EQ(dec.counters().data_packets, 2u);
  }
  {
    FecDecoder dec = MakeDecoder(DecoderOptions(3, 2));
    EXPECT_TRUE(dec.Decode(FromHex(kA3[1])).recovered.empty());
    EXPECT_TRUE(dec.Decode(FromHex(kA3[3])).recovered.empty());
    FecDecoder::Result r = dec.Decode(FromHex(kA3[4]));
    EXPECT_EQ(Recovered(r), (std::vector<Bytes>{KcpOf(kA3[0]), KcpOf(kA3[2])}));
  }
  {
    FecDecoder dec = MakeDecoder(DecoderOptions(3, 2));
    for (int i : {0, 1, 2, 3, 4}) EXPECT_TRUE(dec.Decode(FromHex(kA3[i])).recovered.empty());
    EXPECT_EQ(dec.counters().full_shard_sets, 1u);
    EXPECT_EQ(dec.counters().recovered, 0u);
  }
}

// One sent FEC-layer packet (offset 0) and, for data, its KCP bytes.
struct Sent {
  Bytes packet;
  bool is_data;
  uint32_t seqid;
  Bytes kcp;
};

// `groups` full groups from a real FecEncoder; KCP bytes are random with the
// packet's index in the first 4 bytes (so any payload names its packet).
std::vector<Sent> Stream(int ds, int ps, int groups, uint32_t seed, uint32_t first_seqid = 0) {
  FecEncoderOptions o;
  o.data_shards = ds;
  o.parity_shards = ps;
  auto enc = FecEncoder::Create(o);
  EXPECT_TRUE(enc.ok());
  internal::FecEncoderPeer::SetNextSeqid(*enc, first_seqid);
  CollectingParitySink sink;
  std::mt19937 rng(seed);
  std::vector<Sent> out;
  for (int i = 0; i < groups * ds; ++i) {
    Bytes kcp(4 + rng() % (rng() % 4 == 0 ? 1400 : 100));
    for (auto& b : kcp) b = rng();
    StoreLe32(kcp.data(), i);
    Bytes buf = DataBuffer(0, kcp);
    sink.emitted.clear();
    EXPECT_TRUE(enc->Encode(absl::MakeSpan(buf), 0, sink).ok());
    out.push_back({buf, true, LoadLe32(buf.data()), kcp});
    for (Bytes& p : sink.emitted) out.push_back({p, false, LoadLe32(p.data()), {}});
  }
  return out;
}

TEST(FecDecoder, SeededRandomLossRecoversExactlyWhatTheCodeCan) {
  struct Case {
    int ds, ps;
    double loss;
  };
  const Case cases[] = {{10, 3, 0.05}, {10, 3, 0.2},   {10, 3, 0.4}, {3, 2, 0.3},
                        {1, 1, 0.3},   {20, 10, 0.25}, {4, 1, 0.1},  {2, 6, 0.6}};
  uint32_t seed = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.ds, "+", c.ps, " loss ", c.loss));
    const int groups = 150;
    const std::vector<Sent> sent = Stream(c.ds, c.ps, groups, ++seed);
    std::mt19937 rng(seed * 77);
    std::bernoulli_distribution lose(c.loss);
    std::vector<bool> delivered(sent.size());
    for (size_t i = 0; i < sent.size(); ++i) delivered[i] = !lose(rng);

    // What the code can recover: every lost data packet of a group of which
    // at least ds packets arrived (packets arrive in order, so the ds-th
    // arrival sees exactly the lost ones missing).
    const int ss = c.ds + c.ps;
    int newest_group = 0;
    for (size_t i = 0; i < sent.size(); ++i) {
      if (delivered[i]) newest_group = i / ss;
    }
    std::vector<Bytes> want;
    uint64_t want_full = 0, want_short = 0;
    for (int g = 0; g < groups; ++g) {
      int got = 0, got_data = 0;
      for (int k = 0; k < ss; ++k) {
        got += delivered[g * ss + k];
        if (k < c.ds) got_data += delivered[g * ss + k];
      }
      if (got >= c.ds && got_data == c.ds) ++want_full;
      if (got >= c.ds) {
        for (int k = 0; k < c.ds; ++k) {
          if (!delivered[g * ss + k]) want.push_back(sent[g * ss + k].kcp);
        }
      } else if (got > 0 && g <= newest_group - 4) {
        ++want_short;  // discarded once a packet 4 groups newer arrives
      }
    }

    FecDecoder dec = MakeDecoder(DecoderOptions(c.ds, c.ps));
    std::vector<Bytes> got;
    for (size_t i = 0; i < sent.size(); ++i) {
      if (!delivered[i]) continue;
      FecDecoder::Result r = dec.Decode(sent[i].packet);
      ASSERT_EQ(r.kind, sent[i].is_data ? FecDecoder::Kind::kData : FecDecoder::Kind::kParity);
      if (sent[i].is_data) {
        ASSERT_EQ(Bytes(r.payload.begin(), r.payload.end()), sent[i].kcp);
      }
      for (const Bytes& b : Recovered(r)) got.push_back(b);
    }
    EXPECT_EQ(got.size(), want.size());
    EXPECT_TRUE(got == want);
    EXPECT_EQ(dec.counters().recovered, want.size());
    EXPECT_EQ(dec.counters().full_shard_sets, want_full);
    EXPECT_EQ(dec.counters().errors, 0u);
    EXPECT_EQ(dec.counters().short_groups, want_short);
    if (c.loss >= 0.2) {
      EXPECT_GT(want.size(), 10u);  // the case exercises recovery
    }
  }
}

TEST(FecDecoder, ReorderingAndDuplicatesStaySound) {
  for (auto [ds, ps] : std::vector<std::pair<int, int>>{{10, 3}, {3, 2}, {5, 5}}) {
    SCOPED_TRACE(absl::StrCat(ds, "+", ps));
    const int groups = 200;
    const std::vector<Sent> sent = Stream(ds, ps, groups, ds * 100 + ps);
    std::mt19937 rng(ds + ps);
    // Arrival order: drop 10 %, duplicate 10 %, swap neighbours 20 %.
    std::vector<size_t> order;
    for (size_t i = 0; i < sent.size(); ++i) {
      if (rng() % 10 == 0) continue;
      order.push_back(i);
      if (rng() % 10 == 0) order.push_back(i);
    }
    for (size_t i = 1; i < order.size(); ++i) {
      if (rng() % 5 == 0) std::swap(order[i - 1], order[i]);
    }
    std::set<uint32_t> arrived;
    for (size_t i : order) arrived.insert(sent[i].seqid);

    FecDecoder dec = MakeDecoder(DecoderOptions(ds, ps));
    std::set<uint32_t> recovered;
    for (size_t i : order) {
      FecDecoder::Result r = dec.Decode(sent[i].packet);
      for (const auto& s : r.recovered) {
        // Sound: the bytes are exactly those of the data packet they name.
        ASSERT_GE(s.size(), 4u);
        const uint32_t index = LoadLe32(s.data());
        ASSERT_LT(index, uint32_t(groups * ds));
        const Sent& orig = sent[index / ds * (ds + ps) + index % ds];
        ASSERT_EQ(Bytes(s.begin(), s.end()), orig.kcp);
        EXPECT_TRUE(recovered.insert(orig.seqid).second) << "recovered twice";
      }
    }
    // Complete: every lost data packet of a group with >= ds arrivals.
    for (int g = 0; g < groups; ++g) {
      int got = 0;
      for (int k = 0; k < ds + ps; ++k) got += arrived.count(g * (ds + ps) + k);
      for (int k = 0; k < ds && got >= ds; ++k) {
        const uint32_t seqid = g * (ds + ps) + k;
        if (!arrived.count(seqid)) {
          EXPECT_TRUE(recovered.count(seqid)) << seqid;
        }
      }
    }
    EXPECT_GT(dec.counters().duplicates, 0u);
    EXPECT_GT(dec.counters().recovered, 0u);
    EXPECT_EQ(dec.counters().errors, 0u);
  }
}

TEST(FecDecoder, KeepsNewestGroupAndThreeBefore) {
  const std::vector<Sent> sent = Stream(3, 2, 10, 3);
  FecDecoder dec = MakeDecoder(DecoderOptions(3, 2));
  // Group 0 gets two packets (data 0 and 1; data 2 lost), then group 4 starts:
  // group 0 is now 4 groups behind and dropped as short.
  dec.Decode(sent[0].packet);
  dec.Decode(sent[1].packet);
  dec.Decode(sent[4 * 5].packet);
  EXPECT_EQ(dec.counters().short_groups, 1u);
  // Its parity arriving now is too late; nothing is recovered.
  EXPECT_TRUE(dec.Decode(sent[3].packet).recovered.empty());
  EXPECT_EQ(dec.counters().late, 1u);
  // Group 1 (3 behind group 4) is still accepted and recovers.
  dec.Decode(sent[5].packet);
  dec.Decode(sent[7].packet);
  FecDecoder::Result r = dec.Decode(sent[8].packet);
  EXPECT_EQ(Recovered(r), std::vector<Bytes>{sent[6].kcp});
}

TEST(FecDecoder, RecoversAcrossTheSeqidWrap) {
  const int ds = 10, ps = 3;
  const uint32_t paws = SeqidSpace(ds, ps);
  const std::vector<Sent> sent = Stream(ds, ps, 6, 9, paws - 3 * (ds + ps));
  ASSERT_EQ(sent[3 * 13].seqid, 0u);
  FecDecoder dec = MakeDecoder(DecoderOptions(ds, ps));
  size_t recovered = 0;
  for (size_t i = 0; i < sent.size(); ++i) {
    if (i % 13 == 4) continue;  // one data packet lost per group
    for (const auto& s : dec.Decode(sent[i].packet).recovered) {
      EXPECT_EQ(Bytes(s.begin(), s.end()), sent[i / 13 * 13 + 4].kcp);
      ++recovered;
    }
  }
  EXPECT_EQ(recovered, 6u);
}

TEST(FecDecoder, SeqidBeyondSeqidSpaceIsPassedThroughButNotStored) {
  FecDecoder dec = MakeDecoder(DecoderOptions(10, 3));
  ASSERT_EQ(SeqidSpace(10, 3), 0xfffffff7u);
  Bytes pkt = FromHex("f7fffffff100060001020304");  // seqid 0xfffffff7 = paws
  FecDecoder::Result r = dec.Decode(pkt);
  EXPECT_EQ(r.kind, FecDecoder::Kind::kData);
  EXPECT_EQ(ToHex(r.payload), "01020304");
  EXPECT_EQ(dec.counters().malformed, 1u);
}

TEST(FecDecoder, MalformedAndNonFecPackets) {
  FecDecoder dec = MakeDecoder(DecoderOptions(3, 2));
  struct Case {
    const char* hex;
    FecDecoder::Kind kind;
    size_t payload;
  };
  const Case cases[] = {
      {"", FecDecoder::Kind::kNotFec, 0},
      {"0102030405", FecDecoder::Kind::kNotFec, 5},               // too short for a flag
      {"00000000f100", FecDecoder::Kind::kMalformed, 0},          // data without size
      {"00000000f10002", FecDecoder::Kind::kMalformed, 0},        // 7 bytes
      {"00000000f2000000", FecDecoder::Kind::kParity, 0},         // 8 bytes is enough
      {"ffffffff f3000600 11223344", FecDecoder::Kind::kOob, 0},  // empty OOB payload
      {"fffffffff300060011223344aabb", FecDecoder::Kind::kOob, 2},
      {"fffffffff30006001122", FecDecoder::Kind::kMalformed, 0},  // no room for conv
      {"4433221151002000", FecDecoder::Kind::kNotFec, 8},         // raw KCP (cmd 0x51)
  };
  for (const Case& c : cases) {
    std::string hex = c.hex;
    hex.erase(std::remove(hex.begin(), hex.end(), ' '), hex.end());
    const Bytes b = FromHex(hex);
    FecDecoder::Result r = dec.Decode(b);
    EXPECT_EQ(r.kind, c.kind) << hex;
    EXPECT_EQ(r.payload.size(), c.payload) << hex;
    if (c.kind == FecDecoder::Kind::kOob) {
      EXPECT_EQ(r.oob_conv, 0x44332211u);
    }
    EXPECT_TRUE(r.recovered.empty());
  }
  EXPECT_EQ(dec.counters().malformed, 3u);
  EXPECT_EQ(dec.counters().oob_packets, 2u);
}

TEST(FecDecoder, OversizedPacketsPassThroughButAreNotStored) {
  FecDecoderOptions o = DecoderOptions(2, 1);
  o.max_packet_size = 100;
  FecDecoder dec = MakeDecoder(o);
  Bytes big(150, 0x33), small(50, 0x44);
  StoreLe32(big.data(), 0);
  StoreLe16(&big[4], kFlagData);
  StoreLe16(&big[6], 144);
  StoreLe32(small.data(), 1);
  StoreLe16(&small[4], kFlagData);
  StoreLe16(&small[6], 44);
  FecDecoder::Result r = dec.Decode(big);
  EXPECT_EQ(r.kind, FecDecoder::Kind::kData);
  EXPECT_EQ(r.payload.size(), 142u);
  EXPECT_EQ(dec.counters().oversized, 1u);
  dec.Decode(small);
  EXPECT_EQ(dec.counters().full_shard_sets, 0u);  // only one shard stored
}

TEST(FecDecoder, RecoveredShardWithBadSizeIsAnError) {
  // A group whose data shard 1 carries an impossible size field (0xffff).
  const int ds = 3, ps = 2;
  auto rs = ReedSolomon::Create(ds, ps);
  ASSERT_TRUE(rs.ok());
  const size_t len = 20;
  std::vector<Bytes> shards(ds + ps, Bytes(len, 0));
  for (int i = 0; i < ds; ++i) {
    for (size_t j = 2; j < len; ++j) shards[i][j] = uint8_t(i * 31 + j);
    StoreLe16(shards[i].data(), i == 1 ? 0xFFFF : len);
  }
  std::vector<const uint8_t*> d = {shards[0].data(), shards[1].data(), shards[2].data()};
  std::vector<uint8_t*> p = {shards[3].data(), shards[4].data()};
  ASSERT_TRUE(rs->Encode(d, p, len).ok());
  auto packet = [&](int k) {
    Bytes b(6);
    StoreLe32(b.data(), k);
    StoreLe16(&b[4], k < ds ? kFlagData : kFlagParity);
    b.insert(b.end(), shards[k].begin(), shards[k].end());
    return b;
  };
  FecDecoder dec = MakeDecoder(DecoderOptions(ds, ps));
  dec.Decode(packet(0));
  dec.Decode(packet(2));
  FecDecoder::Result r = dec.Decode(packet(3));
  EXPECT_TRUE(r.recovered.empty());
  EXPECT_EQ(dec.counters().errors, 1u);
  EXPECT_EQ(dec.counters().recovered, 0u);
}

// Feeds `sent` with every 7th packet after the first 40 lost; returns the
// recovered count. kcp-go's detection (and ours) needs a stretch of
// consecutive seqids covering a data run and a parity run, hence the
// loss-free start.
size_t FeedWithLoss(FecDecoder& dec, const std::vector<Sent>& sent) {
  size_t n = 0;
  for (size_t i = 0; i < sent.size(); ++i) {
    if (i >= 40 && i % 7 == 3) continue;
    n += dec.Decode(sent[i].packet).recovered.size();
  }
  return n;
}

TEST(FecDecoder, AutoTuneFindsThePeersShardCounts) {
  // A session created without FEC starts a (1, 1) decoder (kcp-go's lazy
  // initialisation) and learns the peer's 10+3.
  {
    const std::vector<Sent> sent = Stream(10, 3, 60, 21);
    FecDecoder dec = MakeDecoder(DecoderOptions(1, 1));
    FeedWithLoss(dec, sent);
    EXPECT_EQ(dec.counters().retunes, 1u);
    EXPECT_EQ(dec.data_shards(), 10);
    EXPECT_EQ(dec.parity_shards(), 3);
    EXPECT_GT(dec.counters().recovered, 20u);
  }
  // Configured 10+3, peer sends 3+2.
  {
    const std::vector<Sent> sent = Stream(3, 2, 150, 22);
    FecDecoder dec = MakeDecoder(DecoderOptions(10, 3));
    FeedWithLoss(dec, sent);
    EXPECT_EQ(dec.data_shards(), 3);
    EXPECT_EQ(dec.parity_shards(), 2);
    EXPECT_GT(dec.counters().recovered, 20u);
  }
  // Matching configuration never retunes.
  {
    const std::vector<Sent> sent = Stream(10, 3, 30, 23);
    FecDecoder dec = MakeDecoder(DecoderOptions(10, 3));
    FeedWithLoss(dec, sent);
    EXPECT_EQ(dec.counters().retunes, 0u);
  }
  // Without auto-tune, mismatching packets are dropped, never mis-decoded.
  {
    const std::vector<Sent> sent = Stream(3, 2, 30, 24);
    FecDecoderOptions o = DecoderOptions(10, 3);
    o.auto_tune = false;
    FecDecoder dec = MakeDecoder(o);
    FeedWithLoss(dec, sent);
    EXPECT_EQ(dec.counters().retunes, 0u);
    EXPECT_GT(dec.counters().malformed, 0u);
    EXPECT_EQ(dec.counters().errors, 0u);
  }
}

// Memory: shards are held only while their group is incomplete, in blocks
// sized to them.
TEST(FecDecoder, HoldsShardMemoryOnlyForIncompleteGroups) {
  ShardPool pool;
  FecDecoderOptions o = DecoderOptions(10, 3);
  o.pool = &pool;
  FecDecoder dec = MakeDecoder(o);
  EXPECT_EQ(dec.held_bytes(), 0u);
  EXPECT_EQ(dec.max_held_bytes(), 4u * 13 * 1494);  // what was preallocated before
  const std::vector<Sent> sent = Stream(10, 3, 4, 31);
  // Whole groups, in order: each is decoded (nothing lost) by its tenth
  // data packet and its memory returned; its parity comes too late to be
  // stored.
  for (int g = 0; g < 3; ++g) {
    for (int i = 0; i < 13; ++i) {
      dec.Decode(sent[g * 13 + i].packet);
      EXPECT_EQ(dec.held_bytes(), pool.bytes_in_use());
      if (i >= 9) EXPECT_EQ(dec.held_bytes(), 0u) << g << " " << i;
    }
  }
  EXPECT_EQ(dec.counters().full_shard_sets, 3u);
  // Five packets of the last group: a 152-byte table (13 pointers and
  // lengths) and a block per shard.
  size_t expect = 152;
  for (int i = 0; i < 5; ++i) {
    dec.Decode(sent[39 + i].packet);
    expect += ShardPool::BlockCapacity(sent[39 + i].packet.size() - 6);
    EXPECT_EQ(dec.held_bytes(), expect);
    EXPECT_EQ(pool.bytes_in_use(), expect);
  }
  // A moved decoder takes them along; a destroyed one gives them back.
  {
    FecDecoder moved = std::move(dec);
    EXPECT_EQ(moved.held_bytes(), expect);
  }
  EXPECT_EQ(pool.bytes_in_use(), 0u);
  pool.Trim(0);
  EXPECT_EQ(pool.bytes_reserved(), 0u);
}

// Random FEC packets of every size for seqids spread over many groups, as a
// hostile peer might send: held memory stays within the bound, and with the
// default 10+3 / MTU 1500 never gets near it (a live group holds at most 9
// shards: 4 x 9 + 1 blocks of 1528 bytes + 4 tables = 57,144 bytes).
TEST(FecDecoder, HostileInputStaysWithinTheMemoryBound) {
  std::mt19937 rng(77);
  ShardPool pool;
  FecDecoderOptions o = DecoderOptions(10, 3);
  o.pool = &pool;
  o.auto_tune = false;  // keep the code: flags at wrong positions are dropped
  FecDecoder dec = MakeDecoder(o);
  size_t peak = 0;
  for (int i = 0; i < 20000; ++i) {
    const uint32_t seqid = (i / 50) * 13 + rng() % 80;  // drifting forward
    Bytes p(8 + rng() % 1493);
    for (auto& b : p) b = rng();
    StoreLe32(p.data(), seqid);
    StoreLe16(&p[4], seqid % 13 < 10 ? kFlagData : kFlagParity);
    dec.Decode(p);
    ASSERT_EQ(dec.held_bytes(), pool.bytes_in_use());
    ASSERT_LE(dec.held_bytes(), dec.max_held_bytes());
    peak = std::max(peak, dec.held_bytes());
  }
  EXPECT_LE(peak, 57144u);
  EXPECT_GT(peak, 20000u);  // the flood did fill groups
  EXPECT_GT(dec.counters().recovered + dec.counters().errors, 0u);
  // The worst a peer can do to this code: four live groups of nine
  // full-size shards each, whatever comes next.
  const uint32_t base = 10000 * 13;
  for (uint32_t g = 0; g < 6; ++g) {
    for (uint32_t pos = 0; pos < 9; ++pos) {
      Bytes p(1500, 0x66);
      StoreLe32(p.data(), base + g * 13 + pos);
      StoreLe16(&p[4], kFlagData);
      dec.Decode(p);
      ASSERT_LE(dec.held_bytes(), 57144u);
    }
  }
  EXPECT_EQ(dec.held_bytes(), 4u * (9 * 1528 + 152));
  EXPECT_EQ(dec.counters().over_memory_bound, 0u);

  // A code whose incomplete groups could outgrow the bound (200+1 with
  // 1017-byte shards in 1272-byte blocks): shards beyond it are refused.
  FecDecoderOptions wide = DecoderOptions(200, 1);
  wide.pool = &pool;
  wide.max_packet_size = 1023;
  FecDecoder dec2 = MakeDecoder(wide);
  EXPECT_EQ(dec2.max_held_bytes(), 4u * 201 * 1017);
  for (uint32_t group = 0; group < 4; ++group) {
    for (uint32_t pos = 0; pos < 199; ++pos) {  // never complete
      Bytes p(1023, 0x77);
      StoreLe32(p.data(), group * 201 + pos);
      StoreLe16(&p[4], kFlagData);
      dec2.Decode(p);
      ASSERT_LE(dec2.held_bytes(), dec2.max_held_bytes());
    }
  }
  EXPECT_GT(dec2.counters().over_memory_bound, 0u);
  EXPECT_GT(dec2.held_bytes(), dec2.max_held_bytes() - 1272 - 2040);
}

// Many decoders on one pool, packets interleaved (an event loop's sessions):
// exactly what private decoders recover, views used before the next call.
TEST(FecDecoder, DecodersSharingAPoolRecoverWhatPrivateOnesDo) {
  struct Session {
    std::vector<Sent> sent;
    std::vector<bool> delivered;
  };
  std::vector<Session> sessions;
  std::mt19937 rng(5);
  const int codes[][2] = {{10, 3}, {3, 2}, {10, 3}, {20, 10}, {10, 3}, {1, 1}};
  for (int s = 0; s < 6; ++s) {
    Session x;
    x.sent = Stream(codes[s][0], codes[s][1], 40, 100 + s);
    for (size_t i = 0; i < x.sent.size(); ++i) x.delivered.push_back(rng() % 100 >= 15);
    sessions.push_back(std::move(x));
  }
  ShardPool pool;
  std::vector<FecDecoder> shared, alone;
  for (int s = 0; s < 6; ++s) {
    FecDecoderOptions o = DecoderOptions(codes[s][0], codes[s][1]);
    alone.push_back(MakeDecoder(o));
    o.pool = &pool;
    shared.push_back(MakeDecoder(o));
  }
  std::vector<std::vector<Bytes>> got_shared(6), got_alone(6);
  size_t total = 0;
  for (size_t i = 0;; ++i) {
    bool any = false;
    for (int s = 0; s < 6; ++s) {
      if (i >= sessions[s].sent.size()) continue;
      any = true;
      if (!sessions[s].delivered[i]) continue;
      const Bytes& p = sessions[s].sent[i].packet;
      for (const Bytes& r : Recovered(shared[s].Decode(p))) got_shared[s].push_back(r);
      for (const Bytes& r : Recovered(alone[s].Decode(p))) got_alone[s].push_back(r);
      size_t held = 0;
      for (const FecDecoder& d : shared) held += d.held_bytes();
      ASSERT_EQ(held, pool.bytes_in_use());
    }
    if (!any) break;
  }
  for (int s = 0; s < 6; ++s) {
    EXPECT_EQ(got_shared[s], got_alone[s]) << "session " << s;
    total += got_shared[s].size();
  }
  EXPECT_GT(total, 50u);
  EXPECT_EQ(pool.codecs(), 4u);  // 10+3, 3+2, 20+10, 1+1
}

TEST(FecDecoder, CreateChecksOptions) {
  EXPECT_FALSE(FecDecoder::Create(DecoderOptions(0, 1)).ok());
  EXPECT_FALSE(FecDecoder::Create(DecoderOptions(128, 129)).ok());
  FecDecoderOptions o = DecoderOptions(3, 2);
  o.max_packet_size = 7;
  EXPECT_FALSE(FecDecoder::Create(o).ok());
  o.max_packet_size = 1500;
  o.max_shard_sets = 0;
  EXPECT_FALSE(FecDecoder::Create(o).ok());
  o.max_shard_sets = 17;
  EXPECT_FALSE(FecDecoder::Create(o).ok());
}

}  // namespace
}  // namespace kcpp::fec
