// Fuzz target: Kcp::Input on hostile datagrams, with Recv/PeekSize and the
// timers between them. Input layout:
//   byte 0: configuration (bit 0 flavor, bit 1 stream mode, bit 2 nodelay
//           fast3, bit 3 small receive window, bit 4 queue data to send,
//           bit 5 a datagram is FEC-recovered when its length is odd)
//   then records: u16 LE length | that many bytes (one datagram), the
//   record's first byte also advancing the clock by 0..255 ms.
// Each datagram is copied into an exactly-sized heap buffer so ASan catches
// any read outside it. Invariants checked: Input returns one of ikcp's
// codes, Recv never returns more than PeekSize promised or than the buffer,
// windows stay within their bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "kcp/kcp.h"

namespace {

using kcpp::kcp::Flavor;
using kcpp::kcp::Kcp;

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t cfg = data[0];
  size_t emitted = 0;
  Kcp kcp(
      0x11223344,
      [&](absl::Span<const uint8_t> d) {
        Check(d.size() >= 24 && d.size() <= 1400);
        emitted += d.size();
      },
      (cfg & 1) ? Flavor::kKcpGo : Flavor::kIkcp);
  kcp.SetStreamMode(cfg & 2);
  if (cfg & 4) kcp.SetNoDelay(1, 10, 2, 1);
  if (cfg & 8) Check(kcp.SetWindowSize(4, 4).ok());
  if (cfg & 16) {
    std::vector<uint8_t> payload(3000, 0x42);
    kcp.Send(payload);
  }
  uint32_t now = 1000;
  kcp.Update(now);
  std::vector<uint8_t> buf(1 << 16);
  size_t pos = 1;
  while (pos + 2 <= size) {
    const size_t len = std::min<size_t>(data[pos] | data[pos + 1] << 8, size - pos - 2);
    pos += 2;
    std::unique_ptr<uint8_t[]> d(new uint8_t[len == 0 ? 1 : len]);
    std::copy(data + pos, data + pos + len, d.get());
    if (len > 0) now += data[pos];
    pos += len;
    const bool fec = (cfg & 32) && (len & 1);
    const int r = kcp.Input(absl::MakeConstSpan(d.get(), len), now, fec);
    Check(r == 0 || r == -1 || r == -2 || r == -3);
    for (;;) {
      const int peek = kcp.PeekSize();
      const int n = kcp.Recv(absl::MakeSpan(buf));
      if (n < 0) {
        Check(n == kcpp::kcp::kRecvEmpty || n == kcpp::kcp::kRecvIncomplete ||
              n == kcpp::kcp::kRecvBufferTooSmall);
        break;
      }
      Check(n == peek && static_cast<size_t>(n) <= buf.size());
    }
    Check(kcp.RecvQueueSize() <= kcp.rcv_wnd());
    Check(kcp.RecvBufferSize() <= kcp.rcv_wnd());
    kcp.Update(now);
    (void)kcp.Check(now);
    if (len & 2) (void)kcp.Flush(now);
  }
  (void)emitted;
  return 0;
}
