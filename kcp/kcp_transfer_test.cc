// Two engines over a lossy, reordering, duplicating FakeLink deliver data
// byte-exact: 64 MiB in stream mode, and messages with their boundaries in
// message mode, at 0 %, 10 % and 30 % loss, for ikcp's default settings and
// kcptun's presets normal, fast, fast2, fast3 (docs/protocol.md §6.3). Each
// configuration runs with both flavors; kKcpGo is driven kcp-go style
// (Write + Flush at the returned delay), kIkcp ikcp style (Send +
// Update/Check).
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kcp/kcp.h"
#include "kcp/kcp_test_util.h"

namespace kcpp::kcp {
namespace {

struct Config {
  Preset preset;
  double loss;
  bool stream;
  Flavor flavor;
};

std::string Name(const Config& c) {
  return absl::StrCat(c.preset.name, "_loss", static_cast<int>(c.loss * 100), "_",
                      c.stream ? "stream" : "message", "_",
                      c.flavor == Flavor::kIkcp ? "ikcp" : "kcpgo");
}

class Transfer : public ::testing::TestWithParam<Config> {};

constexpr uint64_t kStreamBytes = 64ull << 20;
constexpr uint64_t kMessageBytes = 8ull << 20;

TEST_P(Transfer, DeliversByteExact) {
  const Config& c = GetParam();
  test::FakeLinkOptions link;
  link.loss = c.loss;
  link.duplicate = c.loss > 0 ? 0.01 : 0.0;
  link.delay_ms = 10;
  link.jitter_ms = 5;  // reorders
  link.seed = 1;
  test::FakeLinkOptions back = link;
  back.seed = 2;
  KcpPair pair(c.flavor, c.flavor, link, back);
  for (Kcp* k : {&pair.a(), &pair.b()}) {
    ApplyPreset(*k, c.preset);
    ASSERT_TRUE(k->SetWindowSize(128, 128).ok());
    k->SetStreamMode(c.stream);
  }
  const Drive drive = c.flavor == Flavor::kKcpGo ? Drive::kFlushSchedule : Drive::kUpdateCheck;
  const uint64_t total = c.stream ? kStreamBytes : kMessageBytes;
  const size_t mss = pair.a().mss();

  // Message sizes: 1 .. 4*mss (up to 4 fragments), same sequence both ends.
  std::mt19937 send_sizes(77), recv_sizes(77);
  auto next_size = [&](std::mt19937& rng, uint64_t offset) -> size_t {
    if (c.stream) return std::min<uint64_t>(20000, total - offset);
    return std::min<uint64_t>(1 + rng() % (4 * mss), total - offset);
  };

  uint64_t sent = 0, received = 0, messages = 0;
  std::vector<uint8_t> out(4 * mss + 20000), in(4 * mss + 20000), expect(4 * mss + 20000);
  bool mismatch = false;
  auto app = [&] {
    const uint32_t now = pair.clock().now_ms32();
    while (sent < total && pair.a().CanWrite()) {
      const size_t n = next_size(send_sizes, sent);
      FillPattern(1, sent, out.data(), n);
      const absl::Span<const uint8_t> chunk(out.data(), n);
      if (drive == Drive::kFlushSchedule && c.stream) {
        pair.a().Write(chunk, now);  // kcp-go session write path
      } else {
        ASSERT_EQ(pair.a().Send(chunk), static_cast<int>(n));
      }
      sent += n;
    }
    for (int n; !mismatch && (n = pair.b().Recv(absl::MakeSpan(in))) >= 0;) {
      if (!c.stream) {
        const size_t want = next_size(recv_sizes, received);
        if (static_cast<size_t>(n) != want) {
          ADD_FAILURE() << "message " << messages << " has " << n << " bytes, want " << want;
          mismatch = true;
        }
      }
      FillPattern(1, received, expect.data(), n);
      if (std::memcmp(in.data(), expect.data(), n) != 0) {
        ADD_FAILURE() << "bytes differ in [" << received << ", " << received + n << ")";
        mismatch = true;
      }
      received += n;
      ++messages;
    }
  };
  const bool done = pair.Run(
      drive, 400ull * 3600 * 1000, [&] { return mismatch || (received == total && sent == total); },
      app);
  ASSERT_FALSE(mismatch);
  ASSERT_TRUE(done) << "received " << received << " of " << total;
  EXPECT_EQ(received, total);
  if (c.loss > 0) {
    EXPECT_GT(pair.ab().stats().dropped, 0u);
    EXPECT_GT(pair.a().counters().retrans_segs, 0u);
    EXPECT_GT(pair.b().counters().repeat_segs, 0u);  // duplicates arrived
  }
  RecordProperty("virtual_ms", static_cast<int>(pair.clock().now_ms() / 1));
  RecordProperty("steps", static_cast<int>(pair.steps()));
}

std::vector<Config> AllConfigs() {
  std::vector<Config> v;
  for (const Preset& p : {kPresetDefault, kPresetNormal, kPresetFast, kPresetFast2, kPresetFast3}) {
    for (double loss : {0.0, 0.1, 0.3}) {
      for (bool stream : {true, false}) {
        for (Flavor f : {Flavor::kIkcp, Flavor::kKcpGo}) v.push_back({p, loss, stream, f});
      }
    }
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(Kcp, Transfer, ::testing::ValuesIn(AllConfigs()),
                         [](const auto& info) { return Name(info.param); });

}  // namespace
}  // namespace kcpp::kcp
