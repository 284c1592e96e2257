// Configuration of an smux session (docs/protocol.md §6.2; xtaci/smux mux.go
// Config, DefaultConfig, VerifyConfig).
//
// The first seven fields are smux's own, with its defaults. Of those only
// `version` must match the peer; the others are local policy. The last two
// are kcpp's: smux has an accept channel of 1024 (its defaultAcceptBacklog)
// and writes synchronously, which a sans-IO session expresses as bounds.
//
//   Config c = KcptunConfig();   // what Debian's kcptun runs with
//   c.version = 2;               // -smuxver 2
//   KCPP_RETURN_IF_ERROR(ValidateConfig(c));
#ifndef KCPP_SMUX_CONFIG_H_
#define KCPP_SMUX_CONFIG_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace kcpp::smux {

struct Config {
  // Protocol version, 1 or 2. v2 adds per-stream flow control (UPD frames).
  int version = 1;
  // No NOP frames are sent and the peer is never declared dead.
  bool keep_alive_disabled = false;
  // A NOP frame is sent this often (milliseconds).
  int64_t keep_alive_interval_ms = 10000;
  // The session dies if no frame at all arrived during a whole period of
  // this length (milliseconds), unless the receive side is blocked by us
  // (full receive buffer or accept backlog). Must be >= the interval.
  int64_t keep_alive_timeout_ms = 30000;
  // Largest payload of a PSH frame this side sends, 1..65535. Frames from
  // the peer may be larger; any length up to 65535 is accepted.
  int max_frame_size = 32768;
  // Session-wide bound on bytes delivered to the application and not yet
  // consumed (smux's token bucket). When it is reached, Feed stops taking
  // input: the caller stops reading the KCP session, and KCP's window pushes
  // back on the peer.
  int max_receive_buffer = 4194304;
  // v2: the per-stream window advertised to the peer in UPD frames; at most
  // max_receive_buffer.
  int max_stream_buffer = 65536;

  // kcpp: streams opened by the peer and not yet taken with
  // Session::AcceptStream. When this many are waiting, Feed stops taking
  // input (smux blocks its receive loop on a full accept channel the same
  // way). smux's defaultAcceptBacklog.
  int accept_backlog = 1024;
  // kcpp: Session::Write accepts stream data only while fewer than this many
  // output bytes wait to be drained. Control frames (SYN, FIN, NOP, UPD) are
  // never refused, so output may exceed it by a few headers.
  size_t max_output_buffer = 65536;
};

// smux DefaultConfig(): version 1, keepalive 10 s / 30 s, frames of 32768,
// receive buffer 4 MiB, stream buffer 64 KiB.
Config DefaultConfig();

// What Debian's kcptun (2021, smux 1.5.16) runs by default: DefaultConfig
// with -smuxbuf 4194304, -streambuf 2097152, -keepalive 10 and -smuxver 1.
// (kcptun 2025 defaults to -smuxver 2 and -framesize 8192; set them to match
// such a peer.) docs/protocol.md §6.3.
Config KcptunConfig();

// smux VerifyConfig plus the kcpp fields. InvalidArgument naming the field,
// e.g. "max_frame_size must be in [1, 65535], got 70000".
absl::Status ValidateConfig(const Config& config);

}  // namespace kcpp::smux

#endif  // KCPP_SMUX_CONFIG_H_
