#include "kcp/internal/kcpgo_window.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kcpp::kcp::internal {
namespace {
constexpr uint32_t kThreshMin = 2;
}  // namespace

void KcpGoWindow::OnAck(const AckEvent& event) {
  if (!maintained() || !event.una_advanced || cwnd_ >= event.remote_window) return;
  const uint32_t mss = event.mss;
  if (cwnd_ < ssthresh_) {
    ++cwnd_;
    incr_ += mss;
  } else {
    if (incr_ < mss) incr_ = mss;
    incr_ += (mss * mss) / incr_ + (mss / 16);
    if ((cwnd_ + 1) * mss <= incr_) cwnd_ = (incr_ + mss - 1) / (mss > 0 ? mss : 1);
  }
  if (cwnd_ > event.remote_window) {
    cwnd_ = event.remote_window;
    incr_ = event.remote_window * mss;
  }
}

void KcpGoWindow::OnFlush(const FlushEvent& event) {
  if (!maintained()) return;
  if (event.fast + event.early > 0) {
    ssthresh_ = std::max(event.inflight_span / 2, kThreshMin);
    // Wraps to ssthresh - 1 for kcp-go's early retransmissions without
    // fast resend (docs/protocol.md §2.10), as the reference does.
    cwnd_ = ssthresh_ + event.fast_resend;
    incr_ = cwnd_ * event.mss;
  }
  if (event.timeouts > 0) {
    ssthresh_ = std::max(event.window_used / 2, kThreshMin);
    cwnd_ = 1;
    incr_ = event.mss;
  }
  if (cwnd_ < 1) {
    cwnd_ = 1;
    incr_ = event.mss;
  }
}

std::string KcpGoWindow::DebugString() const {
  if (disabled_) return "none";
  return absl::StrCat("kcp-go cwnd=", cwnd_, " ssthresh=", ssthresh_, nocwnd_ ? " (nc)" : "");
}

}  // namespace kcpp::kcp::internal
