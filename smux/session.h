// A sans-IO smux session (docs/protocol.md §6.2), wire-compatible with
// xtaci/smux 1.5.16 (Debian, kcptun's) and later: many ordered byte streams
// multiplexed over one reliable byte stream (a KCP session, optionally
// inside snappy framing, §6.1).
//
// No sockets, threads or clocks: bytes in (Feed), bytes out (output /
// ConsumeOutput), time passed in (OnTimer), events out through a
// SessionHandler the caller implements. Payload is handed to the handler
// straight from the input span and never buffered by the session; the
// application reports what it has consumed, which drives flow control.
//
// Driving it from an event loop:
//
//   class Conn : public kcpp::smux::SessionHandler {
//     void OnStreamOpened(StreamId id) override {
//       session->AcceptStream(id);  // now or later, see Config::accept_backlog
//     }
//     void OnStreamData(StreamId id, absl::Span<const uint8_t> data) override {
//       size_t n = app_socket(id).Send(data);   // copy what fits...
//       pending(id).Append(data.subspan(n));    // ...keep the rest
//       session->Consume(id, n);                // and report the rest later
//     }
//     void OnStreamFin(StreamId id) override { app_socket(id).ShutdownWrite(); }
//     void OnStreamWritable(StreamId id) override { PumpAppToStream(id); }
//     void OnSessionClosed(const absl::Status& why) override { TearDown(why); }
//   };
//
//   auto session = Session::Create(Role::kClient, KcptunConfig(), &conn, now_ms);
//   // KCP readable:   while (n = kcp.Recv(buf)) leftover.Append(buf, n); then
//   //                 leftover.Consume(session->Feed(leftover.span()));
//   //                 (Feed takes less than offered only while
//   //                 receive_blocked(); retry after Consume / AcceptStream /
//   //                 CloseStream)
//   // After any call: while (!session->output().empty() && kcp has room)
//   //                   session->ConsumeOutput(kcp.Send(session->output()));
//   // Timer:          arm for session->NextDeadline(); on expiry OnTimer(now_ms)
//
// Streams (smux semantics, stream.go):
//   * ids: a client opens 3, 5, 7...; a server 2, 4, 6... When the 32-bit id
//     space is used up OpenStream fails (smux ErrGoAway): start a new session.
//   * a SYN from the peer creates a stream (OnStreamOpened); a second SYN for
//     a live id is ignored. PSH for an unknown id is discarded (counted in
//     stats), as smux does; so is PSH after the peer's FIN.
//   * CloseWrite sends FIN and keeps receiving (half-close); the peer's FIN
//     arrives as OnStreamFin after all of the stream's data. A stream is
//     forgotten, with OnStreamClosed, once FIN went both ways and the
//     application consumed everything delivered. CloseStream sends FIN (if
//     not yet sent) and forgets the stream at once (no callback).
//   * smux has no reset: a stream ends by FIN both ways, by CloseStream, or
//     with the session.
//   * input never causes output: frames are queued only by the application's
//     calls (OpenStream, Write, Consume's UPD, CloseWrite, CloseStream,
//     SendCloseNotice) and by OnTimer (NOP), so a hostile peer cannot make
//     the session queue bytes.
//   * smux has no session close; kcpp adds an optional notice that other
//     smux peers ignore (SendCloseNotice / OnPeerClosing, frame.h).
//
// Flow control:
//   * session-wide (v1 and v2): bytes delivered but not yet Consume()d count
//     against max_receive_buffer; at a frame boundary with that budget used
//     up, Feed stops (back-pressure through KCP), exactly where smux's
//     recvLoop waits for tokens. A frame already started is always finished,
//     so the overshoot is at most one frame (65535 bytes).
//   * v2 per stream: Consume sends UPD(consumed, max_stream_buffer) after the
//     first consumption and whenever max_stream_buffer/2 bytes were consumed
//     since the last UPD; Write sends at most peer_window - inflight bytes
//     (initially 262144) and returns short when the window is closed;
//     OnStreamWritable follows when an UPD opens it.
//
// Callbacks run synchronously inside Feed, OnTimer, Consume, CloseWrite and
// ConsumeOutput. They may call any Session method except Feed (which returns
// 0 when re-entered), and must not destroy the session.
//
// Memory: per stream a fixed-size record; output as queued by the caller's
// own writes plus control frames; input state is one frame header. Nothing
// is allocated per frame once warm.
//
// Thread safety: none. One thread (the event loop owning the KCP session)
// uses a Session and receives its callbacks.
#ifndef KCPP_SMUX_SESSION_H_
#define KCPP_SMUX_SESSION_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "smux/config.h"
#include "smux/frame.h"

namespace kcpp::smux {

namespace internal {
class ContiguousByteQueue;
class SessionPeer;  // test-only access
}  // namespace internal

using StreamId = uint32_t;

// Which end of the session this is; decides the parity of stream ids.
enum class Role : uint8_t { kClient, kServer };

// NextDeadline() when no timer is needed.
inline constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();

// Events of a Session. Implemented by the application; see the header
// comment for when they run and what they may do.
class SessionHandler {
 public:
  virtual ~SessionHandler() = default;

  // The peer opened stream `id` (SYN). The stream counts against
  // Config::accept_backlog until Session::AcceptStream(id) (or CloseStream).
  // Data and FIN for it may follow before that.
  virtual void OnStreamOpened(StreamId id) = 0;

  // Payload bytes of stream `id`, in order. `data` is valid only during the
  // call. Every byte counts against the receive budget until
  // Session::Consume(id, ...) reports it consumed. A frame may arrive in
  // several calls.
  virtual void OnStreamData(StreamId id, absl::Span<const uint8_t> data) = 0;

  // The peer sent FIN: no more data on `id` (EOF after what was delivered).
  virtual void OnStreamFin(StreamId id) = 0;

  // Write(id, ...) returned short earlier and now has room again (the peer's
  // v2 window reopened, or output was drained below max_output_buffer).
  virtual void OnStreamWritable(StreamId id) {}

  // The session forgot `id`: FIN went both ways and everything delivered was
  // consumed. The id is no longer valid.
  virtual void OnStreamClosed(StreamId id) {}

  // The session died: protocol error (InvalidArgument, message names the
  // rule) or keepalive timeout (DeadlineExceeded). All streams are gone;
  // every later call fails. Not called for Session::Close.
  virtual void OnSessionClosed(const absl::Status& status) = 0;

  // The peer sent kcpp's close notice (Session::SendCloseNotice): it has
  // closed every stream (their FINs came before) and is closing the
  // session, so nothing more will arrive and what is sent to it is
  // discarded. A stream still without the peer's FIN (say, ours whose SYN
  // crossed the close) gets OnStreamFin first, as if one came. The session
  // stays open; what to do is the application's choice (kcpd ends its
  // session, SESSION_CLOSED_BY_PEER). Runs at most once. Default: ignore
  // it, as smux does.
  virtual void OnPeerClosing() {}
};

// Counters since creation.
struct SessionStats {
  uint64_t frames_received[kNumCommands] = {};  // by command
  uint64_t frames_sent[kNumCommands] = {};
  uint64_t bytes_received = 0;    // PSH payload delivered to the handler
  uint64_t bytes_discarded = 0;   // PSH payload for unknown or finished streams
  uint64_t bytes_sent = 0;        // PSH payload queued by Write
  uint64_t streams_opened = 0;    // by OpenStream
  uint64_t streams_accepted = 0;  // SYNs that created a stream
  bool close_notice_sent = false;      // SendCloseNotice
  bool close_notice_received = false;  // OnPeerClosing ran
};

// A stream's state, for diagnostics and tests.
struct StreamInfo {
  bool accepted = false;        // opened locally, or AcceptStream called
  bool fin_sent = false;        // CloseWrite / FIN sent
  bool fin_received = false;    // the peer's FIN arrived
  uint64_t unconsumed = 0;      // delivered, not yet Consume()d
  uint32_t bytes_consumed = 0;  // v2 "consumed" counter (wraps)
  uint32_t bytes_written = 0;   // payload sent (wraps)
  uint32_t peer_consumed = 0;   // v2: from the peer's last UPD
  uint32_t peer_window = 0;     // v2: from the peer's last UPD, else 262144
};

class Session {
 public:
  // A session at time `now_ms` (any monotonic millisecond clock; only
  // differences matter). `handler` must outlive the session.
  // InvalidArgument if ValidateConfig(config) fails.
  static absl::StatusOr<std::unique_ptr<Session>> Create(Role role, const Config& config,
                                                         SessionHandler* handler, int64_t now_ms);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // ---- Input ----------------------------------------------------------

  // Parses `input`, a piece of the peer's byte stream (any split: frames may
  // straddle calls), runs the callbacks, and returns how many bytes it took.
  // Takes less than all of it only when the session died or stopped at a
  // frame boundary because receive_blocked(); feed the rest once that
  // clears. A protocol violation kills the session (OnSessionClosed).
  size_t Feed(absl::Span<const uint8_t> input);

  // True while Feed would stop at the next frame boundary: the receive
  // budget is used up (Consume frees it) or accept_backlog streams wait for
  // AcceptStream (AcceptStream / CloseStream free it).
  bool receive_blocked() const;

  // ---- Output ---------------------------------------------------------

  // Bytes to send to the peer, in order (valid until the next non-const
  // call). Take any prefix, e.g. as much as the KCP send window allows.
  absl::Span<const uint8_t> output() const;
  // Drops the first `n` (<= output().size()) bytes of output(). May run
  // OnStreamWritable for streams that were waiting for output room.
  void ConsumeOutput(size_t n);

  // ---- Streams --------------------------------------------------------

  // Opens a stream (queues SYN). ResourceExhausted once the id space is used
  // up (go-away); FailedPrecondition if the session is closed.
  absl::StatusOr<StreamId> OpenStream();

  // Takes a stream the peer opened off the accept backlog.
  // NotFound for unknown ids; OK if already accepted.
  absl::Status AcceptStream(StreamId id);

  // Queues PSH frames (<= max_frame_size each) with a prefix of `data` and
  // returns its length: all of it, or less when the peer's v2 window or
  // max_output_buffer limits it (OnStreamWritable announces room). Errors:
  // NotFound (unknown id), FailedPrecondition (after CloseWrite, or session
  // closed), DataLoss (v2 peer acknowledged more than was sent: smux
  // ErrConsumed).
  absl::StatusOr<size_t> Write(StreamId id, absl::Span<const uint8_t> data);

  // How many bytes Write(id, ...) would take now (0 for unknown ids).
  size_t WritableBytes(StreamId id) const;

  // Reports `n` more delivered bytes of `id` consumed by the application:
  // frees receive budget and, in v2, may queue an UPD. May complete the
  // stream (OnStreamClosed). InvalidArgument if n exceeds the unconsumed
  // bytes; NotFound for unknown ids.
  absl::Status Consume(StreamId id, size_t n);

  // Half-close: queues FIN; the stream keeps receiving. May complete the
  // stream (OnStreamClosed). FailedPrecondition if already done.
  absl::Status CloseWrite(StreamId id);

  // Full close: queues FIN unless already sent and forgets the stream now;
  // its unconsumed bytes return to the receive budget and later frames for
  // it are discarded. NotFound for unknown ids.
  absl::Status CloseStream(StreamId id);

  // The state of stream `id`, or nullopt if the session does not know it.
  std::optional<StreamInfo> GetStreamInfo(StreamId id) const;
  size_t num_streams() const { return streams_.size(); }

  // ---- Time -----------------------------------------------------------

  // When OnTimer must run next (absolute ms), or kNoDeadline.
  int64_t NextDeadline() const;
  // Sends due NOPs and checks the keepalive timeout (which may kill the
  // session: OnSessionClosed with DeadlineExceeded). Early calls are cheap
  // no-ops. A kServer session sends no NOP before its peer's first frame
  // (unlike smux, which pings from the start): an address that never spoke
  // smux gets nothing from keepalive, and its session still times out.
  void OnTimer(int64_t now_ms);

  // ---- Session --------------------------------------------------------

  // Queues kcpp's close notice (a NOP on kCloseNoticeStreamId, see
  // frame.h) after everything queued so far, once per session: a kcpp peer
  // learns that this side is closing (OnPeerClosing), any other smux peer
  // ignores it. Meant as the last frame before Close(), after every stream
  // was closed; the session does not enforce that (it stays usable).
  // FailedPrecondition if the session is closed.
  absl::Status SendCloseNotice();

  // Closes the session: every stream is forgotten, no callbacks, later calls
  // fail with FailedPrecondition. Queued output stays readable. Sends no
  // frame (smux Session.Close doesn't either; closing the KCP session is how
  // the peer learns; SendCloseNotice first tells a kcpp peer at once).
  void Close();
  // OK while the session is alive, else why it ended.
  const absl::Status& status() const { return status_; }
  bool is_closed() const { return closed_; }

  Role role() const { return role_; }
  const Config& config() const { return config_; }
  const SessionStats& stats() const { return stats_; }

 private:
  friend class internal::SessionPeer;

  struct Stream {
    bool accepted = false;
    bool fin_sent = false;
    bool fin_received = false;
    bool window_blocked = false;  // Write was short because of the v2 window
    bool output_blocked = false;  // ... because of max_output_buffer
    uint64_t unconsumed = 0;
    uint32_t num_read = 0;  // v2 receive side (smux numRead / incr)
    uint32_t incr = 0;
    uint32_t num_written = 0;  // v2 send side
    uint32_t peer_consumed = 0;
    uint32_t peer_window = kInitialPeerWindow;
  };

  enum class RxState : uint8_t { kHeader, kPayload, kWindowUpdate };

  Session(Role role, const Config& config, SessionHandler* handler, int64_t now_ms);

  Stream* Find(StreamId id);
  const Stream* Find(StreamId id) const;
  void ProcessHeader();
  void ProcessWindowUpdate();
  void DeliverPayload(const uint8_t* data, size_t size);
  void AppendFrame(uint8_t command, StreamId id, const uint8_t* payload, size_t size);
  size_t Writable(const Stream& s, bool* window_limited) const;
  void MaybeFinish(StreamId id);
  void Forget(StreamId id);
  void Fail(absl::Status status);
  void NotifyOutputRoom();
  absl::Status CheckOpen() const;

  const Role role_;
  const Config config_;
  SessionHandler* const handler_;

  absl::flat_hash_map<StreamId, Stream> streams_;
  uint32_t next_stream_id_;
  bool go_away_ = false;
  int accept_pending_ = 0;  // streams waiting for AcceptStream
  int64_t receive_budget_;  // smux bucket: max_receive_buffer - unconsumed
  std::vector<StreamId> output_blocked_;
  std::vector<StreamId> notify_scratch_;

  // Receive state: the header (or UPD payload) being assembled.
  RxState rx_state_ = RxState::kHeader;
  uint8_t rx_buf_[kFrameHeaderSize];
  size_t rx_have_ = 0;
  FrameHeader rx_header_;
  size_t rx_payload_left_ = 0;
  bool in_feed_ = false;
  bool in_notify_ = false;

  std::unique_ptr<internal::ContiguousByteQueue> output_;

  // Keepalive.
  int64_t next_ping_ms_;
  int64_t next_check_ms_;
  bool frame_since_check_ = false;
  bool heard_from_peer_ = false;  // any valid frame yet (server NOPs wait for it)

  bool closed_ = false;
  absl::Status status_;
  SessionStats stats_;
};

}  // namespace kcpp::smux

#endif  // KCPP_SMUX_SESSION_H_
