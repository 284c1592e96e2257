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

#include "smux/config.h"
#include "transport/options.h"
#include "transport/session.h"
#include "transport/socket_address.h"

namespace kcpp::service {

// How a session's KCP stream is framed (kcpd.proto Framing).
enum class Framing {
  kSmux,  // docs/protocol.md §6.2: many streams, close as EOF, keepalive
  kRaw,   // plain KCP bytes, one stream (id 0), no close, no keepalive
};

// kcpd.proto Compression (docs/protocol.md §6.1).
enum class Compression { kNone, kSnappy };

// A kcpd session's smux settings when its request leaves them unset: the
// library's smux::Config (docs/protocol.md §6.2) with kcptun 2025's defaults,
// which differ from smux's own in two fields only: version 2 (per-stream flow
// control) and a 2 MiB per-stream window (kcptun's -streambuf).
inline smux::Config KcpdSmuxDefaults() {
  smux::Config c = smux::DefaultConfig();
  c.version = 2;
  c.max_stream_buffer = 2 << 20;
  return c;
}

struct SessionConfig {
  // KCP, FEC, crypt and queue settings. FRAMING_SMUX sessions have
  // stream_mode forced on, as kcptun.
  transport::SessionOptions transport;
  Framing framing = Framing::kSmux;
  smux::Config smux = KcpdSmuxDefaults();  // meaningful with Framing::kSmux only
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

// Changes to a live session (UpdateSession): the transport's own type, handed
// to transport::Session::Tune as it is. Unset fields stay as they are.
using SessionTuning = transport::SessionTuning;

// The options a session has after `tuning`: its set fields written over
// `options` (what kcpd reports back once Tune succeeded).
inline void ApplyTuning(const SessionTuning& tuning, transport::SessionOptions& options) {
  if (tuning.send_window) options.send_window = *tuning.send_window;
  if (tuning.receive_window) options.receive_window = *tuning.receive_window;
  if (tuning.nodelay) options.nodelay = *tuning.nodelay;
  if (tuning.ack_nodelay) options.ack_nodelay = *tuning.ack_nodelay;
  if (tuning.write_delay) options.write_delay = *tuning.write_delay;
  if (tuning.rate_limit_bytes_per_second) {
    options.rate_limit_bytes_per_second = *tuning.rate_limit_bytes_per_second;
  }
  if (tuning.dscp) options.dscp = *tuning.dscp;
}

}  // namespace kcpp::service

#endif  // KCPP_KCPD_SESSION_CONFIG_H_
