// Options for kcpp sessions and listeners. Defaults equal kcp-go's
// (docs/protocol.md §2.3, §5.4, §5.5), so a kcpp endpoint with default options
// talks to a kcp-go endpoint with default options.
//
//   SessionOptions o;
//   o.crypt = "aes";  o.key = "it's a secrect";   // kcptun names and derivation
//   o.data_shards = 10;  o.parity_shards = 3;
//   o.nodelay = NoDelay::Fast3();
//   o.send_window = o.receive_window = 1024;
//   KCPP_RETURN_IF_ERROR(o.Validate());
#ifndef KCPP_TRANSPORT_OPTIONS_H_
#define KCPP_TRANSPORT_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kcpp::transport {

// KCP's nodelay knobs (ikcp_nodelay / kcp-go SetNoDelay, §2.13).
struct NoDelay {
  int nodelay = 0;        // 0: normal RTO; 1: fast RTO back-off, 30 ms min RTO; 2: gentler back-off
  int interval_ms = 100;  // internal update interval, 10..5000
  int resend = 0;         // fast retransmit after this many out-of-order ACKs; 0 = off
  bool no_congestion_window = false;  // nc: ignore cwnd, send at min(snd_wnd, rmt_wnd)

  // kcptun's modes (docs/protocol.md §6.3).
  static NoDelay Normal() { return {0, 40, 2, true}; }
  static NoDelay Fast() { return {0, 30, 2, true}; }
  static NoDelay Fast2() { return {1, 20, 2, true}; }
  static NoDelay Fast3() { return {1, 10, 2, true}; }
  // "normal", "fast", "fast2", "fast3" (kcptun -mode); anything else is an error.
  static absl::StatusOr<NoDelay> FromMode(absl::string_view mode);

  friend bool operator==(const NoDelay& a, const NoDelay& b) {
    return a.nodelay == b.nodelay && a.interval_ms == b.interval_ms && a.resend == b.resend &&
           a.no_congestion_window == b.no_congestion_window;
  }
};

struct SessionOptions {
  // Packet encryption by kcptun name: aes, aes-128, aes-192, salsa20, blowfish,
  // twofish, cast5, 3des, tea, xtea, xor, sm4, none (20-byte header, no
  // encryption), null (no crypt layer at all: kcp-go's nil BlockCrypt, its
  // default). AEAD: aes-128-gcm, aes-192-gcm, aes-256-gcm, chacha20-poly1305.
  std::string crypt = "null";
  // Passphrase; the key is PBKDF2-HMAC-SHA1(key, "kcp-go", 4096, 32) cut to
  // the cipher's size, exactly as kcptun (§3.6).
  std::string key;

  // Reed-Solomon FEC (§4): both 0 turns FEC off (kcp-go: dataShards and
  // parityShards must both be > 0 to enable it).
  int data_shards = 0;
  int parity_shards = 0;

  // Largest UDP payload, crypt and FEC headers included (§5.4); at most 1500.
  int mtu = 1400;
  // Windows in segments (kcp-go defaults: 32 / 32).
  int send_window = 32;
  int receive_window = 32;
  NoDelay nodelay;  // kcp-go default: 0, 100, 0, off

  // Stream mode: merge writes into full segments (kcp-go SetStreamMode).
  // Message mode keeps write boundaries up to 255 fragments (§2.4).
  bool stream_mode = false;
  // Flush ACKs right after each input datagram (kcp-go SetACKNoDelay).
  bool ack_nodelay = false;
  // Leave written data for the next scheduled flush (kcp-go SetWriteDelay).
  bool write_delay = false;

  // IP DSCP, 0..63, or -1 to leave the socket alone.
  int dscp = -1;
  // SO_RCVBUF/SO_SNDBUF in bytes. 0 (automatic): room for a full window of
  // datagrams (the larger window x mtu) when that is more than the kernel's
  // default (net.core.rmem_default, usually 208 KiB), else the kernel's
  // default; the kernel caps what it grants at net.core.rmem_max/wmem_max,
  // so raise those for large windows. Without this, a window of 1024 bursts
  // 1.4 MB into a 208 KiB buffer and loses most of it (64 MiB at fast3:
  // 48,320 retransmissions, 40 MB/s; with room for the window: 160+ MB/s).
  // -1 keeps the kernel's default whatever the window (kcp-go's behaviour).
  int socket_buffer_bytes = 0;
  // What the socket is asked for: socket_buffer_bytes resolved as above
  // (0 here means "the kernel's default").
  int EffectiveSocketBufferBytes() const;
  // Whose rules the KCP engine follows (kcp/kcp.h Flavor; the wire format is
  // the same, so either talks to any KCP peer): "kcp-go", kcp-go's (the ACK
  // filter, flushes as soon as una moves, RFC 6298 RTO, early
  // retransmission), or "ikcp", those of the C reference ikcp.c 1.7 exactly
  // (ACKs only at flushes, Jacobson RTO, a receive window of at least 128,
  // fastlimit), for an application that must behave as a C KCP peer does.
  std::string kcp_flavor = "kcp-go";
  // Congestion control (kcp/congestion.h): how much may be in flight and how
  // fast datagrams leave. "kcp-go": KCP's own window exactly as kcp-go (off
  // when nodelay.no_congestion_window is set, as kcp-go's nc); "none": only
  // the send and remote windows limit; "bbr": kcpp's model-based controller
  // (kcp/bbr.h), which measures the path's bandwidth and RTT and paces
  // datagrams at that rate, so a bottleneck's queue is not flooded and
  // random loss does not slow the session down. Sender-side only: the wire
  // format is the same and any kcp-go or kcptun peer works with any choice.
  // The default is "bbr": on every emulated WAN profile of bench/README.md
  // ("WAN") it moved more than KCP's own window with a fraction of the
  // queue drops and wire bytes, and on loopback it is no slower (README,
  // "Choosing congestion control"). "kcp-go" reproduces kcp-go exactly.
  std::string congestion = "bbr";
  // With FEC on and congestion "bbr": send only as many of each group's
  // parity shards as the measured loss needs (fec/adaptive_parity.h: none on
  // a clean link, all parity_shards at 5 % loss or more, and more where the
  // window is short of the path, so that a loss FEC leaves would stall the
  // sender; SessionInfo::fec_loss_estimate is the estimate). The shards not
  // sent keep their seqids, so to any receiver (kcp-go 5.6.1 included) they
  // look lost on the way; nothing else changes on the wire. False: always
  // send parity_shards, as kcp-go does.
  bool fec_adaptive_parity = true;
  // A cap on the pacer, in bytes per second on the wire (FEC parity and
  // headers included); 0 = none (kcp-go SetRateLimit).
  int64_t rate_limit_bytes_per_second = 0;

  // FEC sender: skip parity for a group whose data trickled in more than
  // 500 ms apart, advancing seqid so groups stay aligned (kcp-go >= v5.6.21,
  // §4.3). Off = always send parity (kcp-go 5.6.1, Debian's).
  bool fec_skip_idle_parity = false;

  // Bytes queued between application threads and the loop, each way
  // (Session's Write/Read queues). KCP's windows hold the rest.
  int outbound_queue_bytes = 1 << 20;
  int inbound_queue_bytes = 1 << 20;
  // After Close(): keep retransmitting queued data for up to this long.
  int close_linger_ms = 10000;
  // Fail the session with Unavailable when a segment has been sent this many
  // times (KCP's dead link, §2.14) and no acknowledgement has moved the send
  // window for dead_link_min_ms. kcp-go sets the state but never acts on it.
  // The time floor lets a session ride out an outage of seconds (a Wi-Fi
  // roam, a route flap) on a fast path, where 20 transmissions with the RTO
  // at its 30 ms floor take only ~3 s. 0 = never.
  int dead_link = 20;
  int dead_link_min_ms = 15000;
  // Fail the session when nothing arrived from the peer for this long.
  // 0 = never (kcp-go has no such timer).
  int idle_timeout_ms = 0;
  // When nothing arrived from the peer for this long, send a WINS segment
  // (KCP's window announcement; kcp-go and ikcp accept it and change nothing
  // else), and again every keepalive_ms while quiet. It keeps NAT mappings
  // open and lets a listener that follows address changes find a client
  // that is only receiving after its NAT rebound. 0 = never (kcp-go).
  int keepalive_ms = 0;

  // Replay protection, kcpp <-> kcpp only (docs/protocol.md §11.10). Needs an
  // AEAD crypt (aes-128-gcm, aes-192-gcm, aes-256-gcm, chacha20-poly1305)
  // and must be on at both ends: the 12-byte AEAD nonce then carries the
  // sender's clock (Unix ms, mod 2^32) and a per-session counter instead of
  // random bytes, and each session keeps an RFC 6479 window over its peer's
  // counter (256 bytes, allocated once when the session is created), so a
  // captured datagram replayed into a live session is dropped and counted
  // (Counters::replays_rejected) before KCP or the address-change logic see
  // it: it can neither be delivered twice nor move the session to the
  // replayer's address. A datagram that would create a session must also
  // be stamped within replay_max_skew_ms of this host's clock, after the
  // listener was created (so one captured before a restart creates nothing
  // after it), and not be one that created a session already, from any
  // address (the listener remembers those stamps for replay_max_skew_ms, at
  // most 65536 of them); refusals count in ListenerStats::dropped_replay.
  // Clock assumption: the hosts' clocks differ by less than
  // replay_max_skew_ms (NTP); a client whose clock runs behind the server's
  // by d connects only d after the server (re)starts, and a client whose
  // clock runs ahead by d leaves the last d before a restart open to
  // replay into the restarted server. Off (the default) the wire is byte-identical to
  // kcp-go's: a kcp-go peer ignores the nonce's content and reads a kcpp
  // sender either way, but its random nonces fail this check, so turn it on
  // only where every peer is kcpp.
  bool replay_protection = false;
  // How far (ms, either way) a session-creating datagram's stamp may be from
  // this host's clock with replay_protection; 1000..3600000.
  int replay_max_skew_ms = 60000;

  // Checks ranges and names; errors say which field and what is allowed.
  absl::Status Validate() const;
};

struct ListenerOptions {
  // Applied to every accepted session *before* its first packet is processed
  // (kcp-go applies tuning only after Accept, so a kcp-go server handles a
  // client's first datagrams with its defaults).
  SessionOptions session;
  // Sessions created but not yet accepted (kcp-go acceptBacklog = 128).
  int accept_backlog = 128;
  // Upper bound on live sessions of this listener.
  int max_sessions = 65536;
  // Follow a peer whose address changes mid-session (NAT rebinding): a
  // datagram that passes the cipher check from an unknown address carrying
  // a live session's conv (and not a conversation's first PUSH) is fed to
  // that session; replies go to the new address at once if that datagram
  // moved the conversation forward (a new segment delivered or new data
  // acknowledged: not a replay), else once nothing has come from the old
  // address for max(100 ms, 2 x srtt) while the new one keeps sending. kcp-go
  // instead starts a second, stuck session. A client that only receives
  // needs SessionOptions::keepalive_ms to be found after its NAT rebinds.
  // An attacker who captures a datagram can replay it from another address
  // while the real peer is silent and divert the session's output until
  // the peer sends again (see SECURITY.md); turn this off where that
  // matters more than surviving NAT rebinding.
  bool follow_address_changes = true;

  absl::Status Validate() const;
};

}  // namespace kcpp::transport

#endif  // KCPP_TRANSPORT_OPTIONS_H_
