// Interop with the real golang/snappy (Debian golang-github-golang-snappy-dev,
// the framing kcptun uses): go_snappy_peer.go frames data with
// NewBufferedWriter (Flush after every write, as kcptun) and unframes with
// NewReader. For random sizes 0..1 MiB of incompressible, compressible and
// mixed data:
//   * Go's framed output decodes with FramingDecoder to the original bytes;
//   * FramingEncoder's output decodes with golang/snappy to the original;
//   * for incompressible data (every chunk stored) our output is
//     byte-identical to Go's, since the chunking and CRC are then the only
//     degrees of freedom.
// And hostile streams get the same verdict from both readers.
//
// Usage: go_interop_test <path to go_snappy_peer>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "snappy/framing.h"

namespace kcpp::snappy_framing {
namespace {

using Bytes = std::vector<uint8_t>;

const char* g_peer = nullptr;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/", name);
}

void WriteFile(const std::string& path, const Bytes& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), data.size());
}

Bytes ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct RunResult {
  int exit_code;
  Bytes out;
  std::string err;
};

// Runs the Go peer with `args`, `input` on stdin.
RunResult RunPeer(const std::string& args, const Bytes& input) {
  const std::string in = TempPath("peer.in"), out = TempPath("peer.out"),
                    err = TempPath("peer.err");
  WriteFile(in, input);
  const std::string cmd = absl::StrCat(g_peer, " ", args, " < ", in, " > ", out, " 2> ", err);
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(out);
  const Bytes e = ReadFile(err);
  r.err.assign(e.begin(), e.end());
  while (!r.err.empty() && r.err.back() == '\n') r.err.pop_back();
  return r;
}

enum class Kind { kRandom, kText, kMixed };

Bytes MakeData(size_t n, Kind kind, uint32_t seed) {
  std::mt19937 rng(seed);
  static const char* kWords[] = {"kcptun ", "snappy ", "stream ", "chunk ", "\n", "frame "};
  Bytes b;
  b.reserve(n + 16);
  bool random = kind == Kind::kRandom;
  while (b.size() < n) {
    if (kind == Kind::kMixed && rng() % 8 == 0) random = !random;
    if (random) {
      for (int i = 0; i < 512; ++i) b.push_back(static_cast<uint8_t>(rng()));
    } else {
      for (int i = 0; i < 64; ++i) {
        const char* w = kWords[rng() % 6];
        b.insert(b.end(), w, w + std::char_traits<char>::length(w));
      }
    }
  }
  b.resize(n);
  return b;
}

// Decodes in random pieces with FramingDecoder.
absl::StatusOr<Bytes> OurDecode(const Bytes& framed, std::mt19937& rng) {
  FramingDecoder dec;
  Bytes out;
  absl::Span<const uint8_t> in(framed);
  while (!in.empty()) {
    absl::Span<const uint8_t> piece = in.subspan(0, 1 + rng() % 100000);
    while (!piece.empty()) {
      absl::StatusOr<size_t> used = dec.Feed(piece);
      if (!used.ok()) return used.status();
      piece.remove_prefix(*used);
      in.remove_prefix(*used);
      out.insert(out.end(), dec.decoded().begin(), dec.decoded().end());
      dec.ConsumeDecoded(dec.decoded().size());
    }
  }
  absl::Status end = dec.Finish();
  if (!end.ok()) return end;
  return out;
}

// Frames `data` written in pieces of `sizes` (cycled), Flush after each.
Bytes OurEncode(const Bytes& data, const std::vector<size_t>& sizes) {
  FramingEncoder enc;
  Bytes out;
  for (size_t i = 0, k = 0; i < data.size(); ++k) {
    const size_t n = std::min(sizes[k % sizes.size()], data.size() - i);
    enc.Write(absl::MakeConstSpan(data).subspan(i, n));
    enc.Flush();
    out.insert(out.end(), enc.output().begin(), enc.output().end());
    enc.ConsumeOutput(enc.output().size());
    i += n;
  }
  return out;
}

TEST(GoSnappyInterop, BothDirectionsRandomSizesUpTo1MiB) {
  ASSERT_NE(g_peer, nullptr) << "pass the go_snappy_peer path as argv[1]";
  std::mt19937 rng(20240607);
  std::vector<size_t> lengths = {0, 1, 17, 65535, 65536, 65537, 1 << 20};
  while (lengths.size() < 16) lengths.push_back(rng() % ((1 << 20) + 1));
  int identical = 0;
  for (size_t li = 0; li < lengths.size(); ++li) {
    for (Kind kind : {Kind::kRandom, Kind::kText, Kind::kMixed}) {
      const size_t n = lengths[li];
      SCOPED_TRACE(absl::StrCat("length ", n, " kind ", static_cast<int>(kind)));
      const Bytes data = MakeData(n, kind, static_cast<uint32_t>(li * 3 + static_cast<int>(kind)));
      // Write sizes as smux frames would come (<= 65543) plus some larger
      // writes that exercise the buffered writer's direct path.
      std::vector<size_t> sizes;
      for (int i = 0; i < 5; ++i) {
        sizes.push_back(1 + rng() % (i == 4 ? 200000 : 65543));
      }

      RunResult go = RunPeer(absl::StrCat("encode ", absl::StrJoin(sizes, ",")), data);
      ASSERT_EQ(go.exit_code, 0) << go.err;
      absl::StatusOr<Bytes> decoded = OurDecode(go.out, rng);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      ASSERT_TRUE(*decoded == data) << "golang/snappy's stream decoded differently";

      const Bytes ours = OurEncode(data, sizes);
      RunResult back = RunPeer("decode", ours);
      ASSERT_EQ(back.exit_code, 0) << back.err;
      ASSERT_TRUE(back.out == data) << "golang/snappy decoded our stream differently";

      if (kind == Kind::kRandom) {
        EXPECT_TRUE(ours == go.out) << "stored chunks differ from golang/snappy's";
        ++identical;
      }
    }
  }
  EXPECT_EQ(identical, 16);
}

// Every stream gets the same verdict from FramingDecoder and golang/snappy's
// Reader: accepted with the same output, or rejected as corrupt (DataLoss) /
// unsupported (Unimplemented).
TEST(GoSnappyInterop, SameVerdictOnHostileStreams) {
  ASSERT_NE(g_peer, nullptr);
  const Bytes id(kStreamIdentifier, kStreamIdentifier + 10);
  auto with = [&](std::initializer_list<uint8_t> tail) {
    Bytes b = id;
    b.insert(b.end(), tail);
    return b;
  };
  const Bytes text = MakeData(5000, Kind::kText, 1);
  const Bytes good = OurEncode(text, {5000});
  std::vector<Bytes> streams = {
      {},
      id,
      with({0xfe, 2, 0, 0, 0, 0}),
      with({0x80, 0, 0, 0}),
      with({0xfd, 1, 0, 0, 1}),
      with({0x02, 0, 0, 0}),
      with({0x7f, 0, 0, 0}),
      with({0x00, 3, 0, 0, 1, 2, 3}),
      with({0x01, 3, 0, 0, 1, 2, 3}),
      with({0x01, 4, 0, 0, 0, 0, 0, 0}),  // empty stored chunk, wrong CRC
      with({0x00, 4, 0, 0, 0, 0, 0, 0}),  // empty block
      with({0x00, 5, 0, 0, 0, 0, 0, 0, 0}),
      with({0x00, 10, 0, 0, 0, 0, 0, 0, 100, 0xfe, 0xff, 0xff, 0xff, 0xff}),
      with({0x80, 0xce, 0x2a, 0x01}),  // 76494-byte skippable: truncated here
      with({0x80, 0xcf, 0x2a, 0x01}),  // 76495: unsupported
      Bytes(good.begin() + 10, good.end()),
      {0xff, 6, 0, 0, 's', 'N', 'a', 'P', 'p', 'y'},
      {0xff, 5, 0, 0, 's', 'N', 'a', 'P', 'p'},
      Bytes(good.begin(), good.end() - 1),
      Bytes(good.begin(), good.begin() + 3),
  };
  Bytes skippable_max = with({0x80, 0xce, 0x2a, 0x01});
  skippable_max.resize(skippable_max.size() + 76494);
  streams.push_back(skippable_max);
  Bytes doubled = good;
  doubled.insert(doubled.end(), good.begin(), good.end());  // repeated identifier
  streams.push_back(doubled);
  std::mt19937 rng(5);
  for (int i = 0; i < 40; ++i) {  // single corrupted bytes of a valid stream
    Bytes b = good;
    b[rng() % b.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    streams.push_back(b);
  }
  int rejected = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("stream ", i));
    RunResult go = RunPeer("decode", streams[i]);
    absl::StatusOr<Bytes> ours = OurDecode(streams[i], rng);
    if (go.exit_code == 0) {
      ASSERT_TRUE(ours.ok()) << ours.status();
      EXPECT_TRUE(*ours == go.out);
    } else {
      ++rejected;
      ASSERT_FALSE(ours.ok()) << "golang/snappy said " << go.err;
      if (go.err == "unsupported") {
        EXPECT_EQ(ours.status().code(), absl::StatusCode::kUnimplemented) << ours.status();
      } else {
        EXPECT_EQ(go.err, "corrupt");
        EXPECT_EQ(ours.status().code(), absl::StatusCode::kDataLoss) << ours.status();
      }
    }
  }
  EXPECT_GT(rejected, 30);
}

}  // namespace
}  // namespace kcpp::snappy_framing

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc > 1) kcpp::snappy_framing::g_peer = argv[1];
  return RUN_ALL_TESTS();
}
