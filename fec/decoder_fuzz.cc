// Fuzz target: FecDecoder::Decode on hostile packet sequences.
//
// Input: byte 0 picks (data, parity) and options, byte 1 the mode, the rest
// drives the mode:
//   raw:     a sequence of packets, each `len u16 LE | bytes` (last one
//            truncated to what is left), fed as they are;
//   encoder: a real FecEncoder produces the packets; each input byte (up to
//            64) decides one packet's KCP size and whether it is dropped,
//            duplicated, corrupted or delivered. Every packet recovered from an
//            uncorrupted stream must equal a data packet that was sent.
// Every packet is copied into an exactly sized heap buffer, so ASan catches
// any read past it; every returned view must lie inside the packet or be a
// recovered packet no longer than a stored shard. The decoder takes its
// memory from a ShardPool kept across inputs (or, with bit 1 of byte 1 set,
// a private one): what it holds must stay within its bound and match the
// pool's count, and all of it must be back in the pool when it is gone.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "base/endian.h"
#include "fec/fec_decoder.h"
#include "fec/fec_encoder.h"
#include "fec/internal/test_util.h"

namespace {

using kcpp::fec::FecDecoder;

struct Code {
  int ds, ps;
};
constexpr Code kCodes[] = {{1, 1}, {3, 2}, {10, 3}, {2, 5}, {20, 10}, {4, 1}, {1, 3}, {7, 7}};

void Check(bool ok) {
  if (!ok) std::abort();
}

kcpp::fec::ShardPool& Pool() {
  static kcpp::fec::ShardPool* pool = new kcpp::fec::ShardPool();
  return *pool;
}

void CheckResult(const FecDecoder& dec, const FecDecoder::Result& r, const uint8_t* p, size_t n,
                 size_t max_packet, bool shared) {
  if (!r.payload.empty()) {
    Check(r.payload.data() >= p && r.payload.data() + r.payload.size() <= p + n);
  }
  for (const auto& s : r.recovered) Check(s.size() + 8 <= max_packet);
  Check(dec.held_bytes() <= dec.max_held_bytes());
  if (shared) Check(dec.held_bytes() == Pool().bytes_in_use());
}

void RunRaw(FecDecoder& dec, const uint8_t* data, size_t size, size_t max_packet, bool shared) {
  while (size >= 2) {
    size_t len = data[0] | (data[1] << 8);
    data += 2;
    size -= 2;
    if (len > size) len = size;
    std::unique_ptr<uint8_t[]> pkt(new uint8_t[len == 0 ? 1 : len]);
    memcpy(pkt.get(), data, len);
    const FecDecoder::Result r = dec.Decode(absl::MakeConstSpan(pkt.get(), len));
    CheckResult(dec, r, pkt.get(), len, max_packet, shared);
    data += len;
    size -= len;
  }
}

// KCP bytes of the encoder-mode packet with index `counter` made from input
// byte `b`: the index (LE32), then b + 12, b + 13, ... (as in a buffer whose
// KCP part starts at offset 8).
size_t KcpSize(uint8_t b, size_t max_packet) { return 4 + (size_t(b) * 37) % (max_packet - 11); }
void FillKcp(uint8_t* kcp, size_t n, uint32_t counter, uint8_t b) {
  kcpp::StoreLe32(kcp, counter);
  for (size_t j = 4; j < n; ++j) kcp[j] = static_cast<uint8_t>(b + 8 + j);
}

void RunEncoder(FecDecoder& dec, const Code& code, const uint8_t* data, size_t size,
                size_t max_packet, bool shared) {
  kcpp::fec::FecEncoderOptions o;
  o.data_shards = code.ds;
  o.parity_shards = code.ps;
  o.max_packet_size = max_packet;
  auto enc = kcpp::fec::FecEncoder::Create(o);
  Check(enc.ok());
  kcpp::fec::testing::CollectingParitySink sink;
  // Bounded so one input stays fast; longer inputs add nothing here.
  const size_t steps = size < 64 ? size : 64;
  bool corrupted = false;
  std::vector<uint8_t> expect(max_packet);
  auto deliver = [&](std::vector<uint8_t> pkt, uint8_t fate) {
    const int copies = (fate & 3) == 0 ? 0 : (fate & 3) == 3 ? 2 : 1;
    if (fate & 4 && !pkt.empty()) {
      pkt[(fate >> 3) % pkt.size()] ^= 0x5A;
      corrupted = true;
    }
    for (int c = 0; c < copies; ++c) {
      std::unique_ptr<uint8_t[]> buf(new uint8_t[pkt.size()]);
      memcpy(buf.get(), pkt.data(), pkt.size());
      const FecDecoder::Result r = dec.Decode(absl::MakeConstSpan(buf.get(), pkt.size()));
      CheckResult(dec, r, buf.get(), pkt.size(), max_packet, shared);
      if (corrupted) continue;
      // Uncorrupted stream: a recovered packet is exactly one that was sent.
      for (const auto& s : r.recovered) {
        Check(s.size() >= 4);
        const uint32_t counter = kcpp::LoadLe32(s.data());
        Check(counter < steps);
        const uint8_t b = data[counter];
        Check(s.size() == KcpSize(b, max_packet));
        FillKcp(expect.data(), s.size(), counter, b);
        Check(memcmp(expect.data(), s.data(), s.size()) == 0);
      }
    }
  };
  for (size_t i = 0; i < steps; ++i) {
    const uint8_t b = data[i];
    std::vector<uint8_t> buf(8 + KcpSize(b, max_packet), 0);
    FillKcp(&buf[8], buf.size() - 8, static_cast<uint32_t>(i), b);
    sink.emitted.clear();
    Check(enc->Encode(absl::MakeSpan(buf), 0, sink).ok());
    deliver(buf, b);
    for (std::vector<uint8_t>& p : sink.emitted) deliver(p, static_cast<uint8_t>(b * 7 + 1));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Code& code = kCodes[data[0] % (sizeof(kCodes) / sizeof(kCodes[0]))];
  kcpp::fec::FecDecoderOptions o;
  o.data_shards = code.ds;
  o.parity_shards = code.ps;
  o.auto_tune = (data[0] & 0x40) == 0;
  o.max_packet_size = (data[0] & 0x80) ? 64 : kcpp::fec::kMtuLimit;
  o.max_shard_sets = 1 + (data[1] >> 5);
  const bool shared = (data[1] & 2) == 0;
  if (shared) o.pool = &Pool();
  {
    auto dec = FecDecoder::Create(o);
    Check(dec.ok());
    if (data[1] & 1) {
      RunEncoder(*dec, code, data + 2, size - 2, o.max_packet_size, shared);
    } else {
      RunRaw(*dec, data + 2, size - 2, o.max_packet_size, shared);
    }
  }
  Check(Pool().bytes_in_use() == 0);
  Pool().Trim(64 << 10);
  return 0;
}
