#include "transport/options.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crypt/packet_cipher.h"
#include "kcp/congestion.h"

namespace kcpp::transport {

absl::StatusOr<NoDelay> NoDelay::FromMode(absl::string_view mode) {
  if (mode == "normal") return Normal();
  if (mode == "fast") return Fast();
  if (mode == "fast2") return Fast2();
  if (mode == "fast3") return Fast3();
  return absl::InvalidArgumentError(
      absl::StrCat("mode must be normal, fast, fast2 or fast3, got \"", mode, "\""));
}

absl::Status SessionOptions::Validate() const {
  {
    const auto names = crypt::SupportedCipherNames();
    if (std::find(names.begin(), names.end(), crypt) == names.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "crypt must be one of ", absl::StrJoin(names, ", "), "; got \"", crypt, "\""));
    }
  }
  if (mtu < 50 || mtu > 1500) {
    return absl::InvalidArgumentError(absl::StrCat("mtu must be 50..1500 bytes, got ", mtu));
  }
  if (send_window < 1 || send_window > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("send_window must be 1..65535 segments, got ", send_window));
  }
  if (receive_window < 1 || receive_window > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("receive_window must be 1..65535 segments, got ", receive_window));
  }
  if (nodelay.nodelay < 0 || nodelay.nodelay > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("nodelay must be 0, 1 or 2, got ", nodelay.nodelay));
  }
  if (nodelay.interval_ms < 10 || nodelay.interval_ms > 5000) {
    return absl::InvalidArgumentError(
        absl::StrCat("interval must be 10..5000 ms, got ", nodelay.interval_ms));
  }
  if (nodelay.resend < 0) {
    return absl::InvalidArgumentError(absl::StrCat("resend must be >= 0, got ", nodelay.resend));
  }
  if (data_shards < 0 || parity_shards < 0 || data_shards + parity_shards > 256 ||
      (data_shards == 0) != (parity_shards == 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FEC needs data_shards >= 1 and parity_shards >= 1 with data + parity <= 256, or both "
        "0 to turn it off; got ",
        data_shards, "/", parity_shards));
  }
  if (dscp < -1 || dscp > 63) {
    return absl::InvalidArgumentError(absl::StrCat("dscp must be 0..63 or -1, got ", dscp));
  }
  if (socket_buffer_bytes < -1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "socket_buffer_bytes must be >= -1 (-1: the kernel's default), got ", socket_buffer_bytes));
  }
  if (kcp_flavor != "kcp-go" && kcp_flavor != "ikcp") {
    return absl::InvalidArgumentError(
        absl::StrCat("kcp_flavor must be kcp-go or ikcp, got \"", kcp_flavor, "\""));
  }
  if (absl::StatusOr<kcp::CongestionControl> cc = kcp::ParseCongestionControl(congestion);
      !cc.ok()) {
    return cc.status();
  }
  if (rate_limit_bytes_per_second < 0) {
    return absl::InvalidArgumentError(absl::StrCat("rate_limit_bytes_per_second must be >= 0, got ",
                                                   rate_limit_bytes_per_second));
  }
  if (outbound_queue_bytes < 1 || inbound_queue_bytes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("outbound_queue_bytes and inbound_queue_bytes must be >= 1, got ",
                     outbound_queue_bytes, " and ", inbound_queue_bytes));
  }
  if (close_linger_ms < 0 || dead_link < 0 || dead_link_min_ms < 0 || idle_timeout_ms < 0 ||
      keepalive_ms < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "close_linger_ms, dead_link, dead_link_min_ms, idle_timeout_ms and keepalive_ms must be "
        ">= 0, got ",
        close_linger_ms, ", ", dead_link, ", ", dead_link_min_ms, ", ", idle_timeout_ms, ", ",
        keepalive_ms));
  }
  if (replay_protection && crypt != "aes-128-gcm" && crypt != "aes-192-gcm" &&
      crypt != "aes-256-gcm" && crypt != "chacha20-poly1305") {
    return absl::InvalidArgumentError(absl::StrCat(
        "replay_protection needs an AEAD crypt (aes-128-gcm, aes-192-gcm, aes-256-gcm or "
        "chacha20-poly1305), whose authenticated nonce carries the counter; got \"",
        crypt, "\""));
  }
  if (replay_max_skew_ms < 1000 || replay_max_skew_ms > 3600000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "replay_max_skew_ms must be 1000..3600000 (1 s to 1 h), got ", replay_max_skew_ms));
  }
  return absl::OkStatus();
}

absl::Status ListenerOptions::Validate() const {
  if (accept_backlog < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("accept_backlog must be >= 1, got ", accept_backlog));
  }
  if (max_sessions < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_sessions must be >= 1, got ", max_sessions));
  }
  return session.Validate();
}

int SessionOptions::EffectiveSocketBufferBytes() const {
  if (socket_buffer_bytes != 0) return std::max(socket_buffer_bytes, 0);
  constexpr int64_t kKernelDefault = 212992;  // net.core.rmem_default on Linux
  constexpr int64_t kMostAutomatic = 64 << 20;
  const int64_t window = int64_t{std::max(send_window, receive_window)} * mtu;
  return window > kKernelDefault ? static_cast<int>(std::min(window, kMostAutomatic)) : 0;
}

}  // namespace kcpp::transport
