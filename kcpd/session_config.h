// What defines a kcpd session, validated: the transport's SessionOptions
// plus what kcpd layers on top of the KCP byte stream (framing, smux,
// compression), and the tuning that can change on a live session.
//
// Built from requests by internal/request_validation.h (every value is
// range-checked there, so a backend can trust these); read by a
// SessionBackend.
//
//   KCPP_ASSIGN_OR_RETURN(SessionConfig config,
//                         SessionConfigFromProto(request.options(), "options"));
//   backend->Dial(remote, config, request.conv());
#ifndef KCPP_KCPD_SESSION_CONFIG_H_
#define KCPP_KCPD_SESSION_CONFIG_H_

#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "transport/options.h"
#include "transport/socket_address.h"

namespace kcpp::service {

// How a session's KCP stream is framed (kcpd.proto Framing).
enum class Framing {
  kSmux,  // docs/protocol.md §6.2: many streams, close as EOF, keepalive
  kRaw,   // plain KCP bytes, one stream (id 0), no close, no keepalive
};

// kcpd.proto Compression (docs/protocol.md §6.1).
enum class Compression { kNone, kSnappy };

// smux settings (docs/protocol.md §6.2), defaults as kcptun 2025.
struct SmuxConfig {
  int version = 2;  // 1 or 2
  absl::Duration keepalive_interval = absl::Seconds(10);
  absl::Duration keepalive_timeout = absl::Seconds(30);  // > keepalive_interval
  int max_frame_size = 32768;                            // 1..65535
  int max_receive_buffer = 4 << 20;                      // bytes, session-wide (v1)
  int max_stream_buffer = 2 << 20;  // bytes per stream (v2), <= receive; kcptun's -streambuf
};

struct SessionConfig {
  // KCP, FEC, crypt and queue settings. FRAMING_SMUX sessions have
  // stream_mode forced on, as kcptun.
  transport::SessionOptions transport;
  Framing framing = Framing::kSmux;
  SmuxConfig smux;  // meaningful with Framing::kSmux only
  Compression compression = Compression::kNone;

  // A FRAMING_RAW session in KCP message mode: each KCP message is one
  // SOCK_SEQPACKET message on the data socket.
  bool message_mode() const { return framing == Framing::kRaw && !transport.stream_mode; }
};

// A listener to create: where, and what every accepted session gets.
struct ListenerConfig {
  transport::SocketAddress address;  // port 0 = any free port
  transport::ListenerOptions transport;
  // Framing, smux and compression of accepted sessions; `transport` of this
  // member equals `transport.session` above.
  SessionConfig session;
};

// Changes to a live session (UpdateSession): unset fields stay as they are.
// Mirrors transport::SessionTuning (transport/session.h), field for field.
struct SessionTuning {
  std::optional<int> send_window;
  std::optional<int> receive_window;
  std::optional<transport::NoDelay> nodelay;
  std::optional<bool> ack_nodelay;
  std::optional<bool> write_delay;
  std::optional<int64_t> rate_limit_bytes_per_second;
  std::optional<int> dscp;  // -1 = leave the socket alone

  bool empty() const {
    return !send_window && !receive_window && !nodelay && !ack_nodelay && !write_delay &&
           !rate_limit_bytes_per_second && !dscp;
  }
  // Applies the set fields to `options`.
  void ApplyTo(transport::SessionOptions& options) const {
    if (send_window) options.send_window = *send_window;
    if (receive_window) options.receive_window = *receive_window;
    if (nodelay) options.nodelay = *nodelay;
    if (ack_nodelay) options.ack_nodelay = *ack_nodelay;
    if (write_delay) options.write_delay = *write_delay;
    if (rate_limit_bytes_per_second)
      options.rate_limit_bytes_per_second = *rate_limit_bytes_per_second;
    if (dscp) options.dscp = *dscp;
  }
};

}  // namespace kcpp::service

#endif  // KCPP_KCPD_SESSION_CONFIG_H_
