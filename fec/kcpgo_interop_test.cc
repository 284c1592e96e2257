// Interop with the real kcp-go 5.6.1 (Debian): kcpgo_fec_capture drives
// kcp-go sessions with FEC over a capturing net.PacketConn and prints every
// datagram. For each one we
//   * feed the same KCP bytes to our FecEncoder (same header_offset) and
//     expect the identical data packet, and identical parity packets in the
//     same places of the stream (kcp-go 5.6.1 always sends parity: our
//     default ParityPolicy::kAlways);
//   * feed kcp-go's packets, with seeded loss, to our FecDecoder and expect
//     every lost data packet of every group with >= data_shards arrivals
//     back, byte for byte.
//
// Usage: kcpgo_interop_test <path to kcpgo_fec_capture>
#include <cstdio>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fec/fec_decoder.h"
#include "fec/fec_encoder.h"
#include "fec/fec_packet.h"
#include "fec/internal/test_util.h"
#include "gtest/gtest.h"

namespace kcpp::fec {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::CollectingParitySink;
using testing::DataBuffer;
using testing::FromHex;
using testing::ToHex;

const char* g_capture = nullptr;

// Sessions of captured datagrams.
std::vector<std::vector<Bytes>> Capture(int ds, int ps, const char* crypt, int sessions, int seed) {
  const std::string cmd =
      absl::StrCat(g_capture, " ", ds, " ", ps, " ", crypt, " ", sessions, " ", seed);
  std::vector<std::vector<Bytes>> out;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return out;
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  if (pclose(f) != 0) return {};
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line == "session") {
      out.emplace_back();
    } else if (!out.empty()) {
      out.back().push_back(FromHex(line));
    }
  }
  return out;
}

struct Config {
  int ds, ps;
  const char* crypt;
  size_t offset;
};

class KcpGoInterop : public ::testing::TestWithParam<Config> {};

TEST_P(KcpGoInterop, EncoderMatchesAndDecoderRecovers) {
  ASSERT_NE(g_capture, nullptr) << "pass the capture program path as argv[1]";
  const Config c = GetParam();
  const auto sessions = Capture(c.ds, c.ps, c.crypt, 30, c.ds * 10 + c.ps);
  ASSERT_EQ(sessions.size(), 30u) << "capture failed";
  size_t data_checked = 0, parity_checked = 0, recovered = 0, want_recovered = 0;
  std::mt19937 rng(c.ds + c.ps);
  for (const std::vector<Bytes>& dgrams : sessions) {
    // Encoder: replay kcp-go's KCP bytes.
    FecEncoderOptions o;
    o.data_shards = c.ds;
    o.parity_shards = c.ps;
    o.header_offset = c.offset;
    auto enc = FecEncoder::Create(o);
    ASSERT_TRUE(enc.ok());
    CollectingParitySink sink;
    std::deque<Bytes> our_parity;
    for (const Bytes& d : dgrams) {
      ASSERT_GE(d.size(), c.offset + kFecDataHeaderSize);
      const uint16_t flag = LoadLe16(&d[c.offset + 4]);
      if (flag == kFlagData) {
        Bytes buf = DataBuffer(c.offset, absl::MakeConstSpan(d).subspan(c.offset + 8));
        sink.emitted.clear();
        ASSERT_TRUE(enc->Encode(absl::MakeSpan(buf), 0, sink).ok());
        ASSERT_EQ(ToHex(absl::MakeSpan(buf).subspan(c.offset)),
                  ToHex(absl::MakeConstSpan(d).subspan(c.offset)));
        for (Bytes& p : sink.emitted) our_parity.push_back(std::move(p));
        ++data_checked;
      } else {
        ASSERT_EQ(flag, kFlagParity);
        ASSERT_FALSE(our_parity.empty()) << "kcp-go sent parity we did not";
        ASSERT_EQ(our_parity.front().size(), d.size());
        ASSERT_EQ(ToHex(absl::MakeSpan(our_parity.front()).subspan(c.offset)),
                  ToHex(absl::MakeConstSpan(d).subspan(c.offset)));
        our_parity.pop_front();
        ++parity_checked;
      }
    }
    EXPECT_TRUE(our_parity.empty()) << "we sent parity kcp-go did not";

    // Decoder: kcp-go's packets with 15 % loss.
    FecDecoderOptions dopt;
    dopt.data_shards = c.ds;
    dopt.parity_shards = c.ps;
    auto dec = FecDecoder::Create(dopt);
    ASSERT_TRUE(dec.ok());
    const int ss = c.ds + c.ps;
    std::vector<bool> delivered(dgrams.size());
    for (size_t i = 0; i < dgrams.size(); ++i) delivered[i] = rng() % 100 >= 15;
    // Expected: lost data of complete-enough groups (packets are in seqid order).
    std::vector<Bytes> want;
    for (size_t g = 0; g * ss < dgrams.size(); ++g) {
      int got = 0;
      for (size_t k = g * ss; k < std::min(dgrams.size(), (g + 1) * ss); ++k) got += delivered[k];
      if (got < c.ds) continue;
      for (size_t k = g * ss; k < g * ss + c.ds; ++k) {
        if (!delivered[k]) {
          const Bytes& d = dgrams[k];
          want.emplace_back(d.begin() + c.offset + 8, d.end());
        }
      }
    }
    std::vector<Bytes> got;
    for (size_t i = 0; i < dgrams.size(); ++i) {
      if (!delivered[i]) continue;
      FecDecoder::Result r = dec->Decode(absl::MakeConstSpan(dgrams[i]).subspan(c.offset));
      for (const auto& s : r.recovered) got.emplace_back(s.begin(), s.end());
    }
    EXPECT_TRUE(got == want);
    recovered += got.size();
    want_recovered += want.size();
  }
  EXPECT_GT(data_checked, 300u);
  EXPECT_GT(parity_checked, 30u);
  EXPECT_GT(want_recovered, 10u);
  std::printf("%d+%d %s: %zu data, %zu parity packets identical; %zu of %zu recovered\n", c.ds,
              c.ps, c.crypt, data_checked, parity_checked, recovered, want_recovered);
}

INSTANTIATE_TEST_SUITE_P(Configs, KcpGoInterop,
                         ::testing::Values(Config{3, 2, "plain", 0}, Config{10, 3, "plain", 0},
                                           Config{10, 3, "none", 20}, Config{1, 1, "none", 20},
                                           Config{4, 4, "plain", 0}),
                         [](const ::testing::TestParamInfo<Config>& info) {
                           return absl::StrCat(info.param.ds, "_", info.param.ps, "_",
                                               info.param.crypt);
                         });

}  // namespace
}  // namespace kcpp::fec

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) kcpp::fec::g_capture = argv[1];
  return RUN_ALL_TESTS();
}
