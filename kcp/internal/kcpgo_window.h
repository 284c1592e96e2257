// KcpGoWindow: KCP's own congestion window (docs/protocol.md §2.10), as
// ikcp.c and kcp-go compute it, behind the CongestionController interface.
// CongestionControl::kKcpGo and kNone of kcp/congestion.h.
//
// Exactly the arithmetic of the reference implementations, wrap-arounds
// included: cwnd starts at 0 (the first flush sends no new data and opens
// it to 1), grows by one segment per acknowledgement that moves una while
// below ssthresh and by about mss^2/incr bytes after it, is capped by the
// remote window, drops to ssthresh + resend on a fast or early
// retransmission and to 1 on a timeout. kcp-go skips all of it while the
// nodelay setting's nc is 1 (ikcp only stops obeying the window).
#ifndef KCPP_KCP_INTERNAL_KCPGO_WINDOW_H_
#define KCPP_KCP_INTERNAL_KCPGO_WINDOW_H_

#include <cstdint>
#include <string>

#include "kcp/congestion.h"

namespace kcpp::kcp::internal {

class KcpGoWindow final : public CongestionController {
 public:
  // `ikcp`: ikcp.c's rules (the window is kept up to date even with nc).
  // `disabled` (kNone): no window at all.
  KcpGoWindow(bool ikcp, bool disabled) : ikcp_(ikcp), disabled_(disabled) {}

  // The nodelay setting's nc (Kcp::SetNoDelay).
  void set_nocwnd(bool on) { nocwnd_ = on; }

  CongestionControl kind() const override {
    return disabled_ ? CongestionControl::kNone : CongestionControl::kKcpGo;
  }
  void OnAck(const AckEvent& event) override;
  void OnFlush(const FlushEvent& event) override;
  uint32_t window() const override { return ignored() ? kUnlimited : cwnd_; }
  bool window_is_span() const override { return true; }
  uint64_t pacing_rate() const override { return 0; }
  bool wants_rate_samples() const override { return false; }
  std::string DebugString() const override;

  uint32_t cwnd() const { return cwnd_; }
  uint32_t ssthresh() const { return ssthresh_; }

 private:
  // The window is neither kept nor obeyed.
  bool ignored() const { return disabled_ || nocwnd_; }
  // The window is kept up to date (ikcp keeps it even when not obeyed).
  bool maintained() const { return !disabled_ && (ikcp_ || !nocwnd_); }

  const bool ikcp_;
  const bool disabled_;
  bool nocwnd_ = false;
  uint32_t cwnd_ = 0;
  uint32_t ssthresh_ = 2;
  uint32_t incr_ = 0;
};

}  // namespace kcpp::kcp::internal

#endif  // KCPP_KCP_INTERNAL_KCPGO_WINDOW_H_
