// MuxLink: kcptun's stack above KCP — smux v1/v2 (docs/protocol.md §6.2),
// optionally inside snappy framing (§6.1: snappy wraps the KCP byte stream,
// smux runs inside it) — over one transport::Session in stream mode. Many
// ordered byte streams share the session; a stream's close reaches the far
// side as FIN (end-of-file); smux keepalive detects a dead peer. Byte-exact
// with kcptun / xtaci/smux 1.5.16 peers that use the same smux version and
// compression.
//
//   // On `loop`'s thread (a transport::EventLoop the caller runs):
//   KCPP_ASSIGN_OR_RETURN(std::unique_ptr<MuxLink> link,
//                         MuxLink::Create(loop, std::move(session), smux::Role::kClient,
//                                         options, &handler));
//   KCPP_ASSIGN_OR_RETURN(MuxLink::StreamId id, link->OpenStream());
//   KCPP_ASSIGN_OR_RETURN(size_t n, link->Write(id, bytes));   // may be short
//   ...
//   size_t Handler::OnStreamData(StreamId id, absl::Span<const uint8_t> data) {
//     return SendToApplication(id, data);      // what it took; the link keeps the rest
//   }
//   // later, when the application can take more:
//   while (!(front = link->Peek(id)).empty() && (n = SendToApplication(id, front)) > 0)
//     link->Consume(id, n);
//
// Threads. A link lives on one transport::EventLoop (the "link loop"): the
// session's own Engine loop (Engine::event_loop(session->loop_index()), as
// kcpd runs it, no thread hand-off), or a loop its owner creates and runs.
// Create, every method and the destructor must be called on that loop's
// thread, and every Handler callback runs there. The session's own
// callbacks only ring a doorbell: one posted task per burst of events,
// coalesced with an atomic flag, so the link does its work after the
// session's (on the same loop, in the same iteration and without a
// syscall). The keepalive timer is a timer of
// the link loop (transport has no timer usable from session callbacks);
// a link costs no wakeups between keepalive deadlines.
//
// Back-pressure, both ways, with bounded memory:
//   * Receiving: bytes the handler does not take in OnStreamData stay in the
//     link, unconsumed as far as smux is concerned. In v2 the stream's window
//     then stops the peer's writer; in v1 (and in v2 overall) the session-wide
//     budget (smux max_receive_buffer) stops the link feeding smux, the link
//     stops reading the KCP session, the session's inbound queue fills and
//     KCP's receive window closes. So a stream holds at most its window
//     (v2: max(max_stream_buffer, the 262144 bytes a v2 peer assumes before
//     its first update)) and a link at most max_receive_buffer plus one
//     frame, whatever the peer does.
//   * Sending: Write takes what the stream's v2 window and smux's output
//     bound (max_output_buffer) allow and returns short otherwise;
//     OnStreamWritable follows when room appears. smux output moves into the
//     session as its outbound queue (SessionOptions::outbound_queue_bytes)
//     takes it; a full queue waits for the session's on_writable.
//
// Callbacks never run inside a MuxLink method call: OnStreamOpened and
// OnStreamData run while the link processes input; OnStreamFin,
// OnStreamWritable, OnStreamClosed and OnLinkClosed are queued and run at
// the end of the link's turn (or from a task the link posts). Callbacks may
// call any method. OnLinkClosed is the last callback, delivered from a task
// of its own, and may destroy the link.
//
// Nothing is allocated per frame or per packet once warm: per-stream
// buffers, the input buffer and the event queue keep their memory
// (mux_link_alloc_test counts; with snappy on, libsnappy itself allocates
// once per compressed chunk of up to 64 KiB).
#ifndef KCPP_MUX_MUX_LINK_H_
#define KCPP_MUX_MUX_LINK_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "mux/byte_ring.h"
#include "smux/config.h"
#include "smux/session.h"
#include "snappy/framing.h"
#include "transport/event_loop.h"
#include "transport/session.h"

namespace kcpp::service {

struct MuxLinkOptions {
  // smux configuration (version, keepalive, frame size, buffers). Both ends
  // must use the same version; the rest is local policy.
  smux::Config smux = smux::DefaultConfig();
  // Snappy framing under smux (kcptun without -nocomp). Both ends must agree.
  bool snappy = false;
  // The session's OOB datagrams (docs/protocol.md §4.8), which bypass smux:
  // installed with the link's own session callbacks (SessionCallbacks::on_oob,
  // on the session's loop thread). Empty: they are dropped.
  std::function<void(absl::Span<const uint8_t>)> on_oob;
};

// Counters and gauges of a link (MuxLink::stats()).
struct MuxLinkStats {
  smux::SessionStats smux;
  size_t streams = 0;             // open streams
  size_t buffered_bytes = 0;      // received, not yet taken by the handler
  size_t max_buffered_bytes = 0;  // the most buffered_bytes ever was
  // Bytes on the KCP session (after snappy framing when it is on).
  uint64_t session_bytes_read = 0;
  uint64_t session_bytes_written = 0;
  // Snappy chunks written (compressed or stored), with snappy on.
  uint64_t snappy_chunks_written = 0;
};

class MuxLink final : private smux::SessionHandler, private transport::EventLoop::TimerHandler {
 public:
  using StreamId = smux::StreamId;

  // What the link tells its owner. See the header comment for when each
  // runs and what it may do.
  class Handler {
   public:
    virtual ~Handler() = default;
    // The peer opened stream `id`. Return true to accept it, false to refuse
    // it (the link answers with FIN and forgets it). Its data may follow in
    // the same turn.
    virtual bool OnStreamOpened(StreamId id) = 0;
    // Bytes of stream `id`, in order, valid during the call. Offered only
    // while the link holds none of the stream's bytes; returns how many the
    // handler took (0..size). The link keeps the rest: Peek / Consume.
    virtual size_t OnStreamData(StreamId id, absl::Span<const uint8_t> data) = 0;
    // The peer finished sending on `id` (FIN): delivered after every byte
    // before it was taken.
    virtual void OnStreamFin(StreamId id) {}
    // Write(id, ...) was short earlier and the stream has room again.
    virtual void OnStreamWritable(StreamId id) {}
    // Stream `id` is over: FIN went both ways and every byte was taken. The
    // id is no longer valid. (Not called for CloseStream, nor for the streams
    // a closing link takes with it.)
    virtual void OnStreamClosed(StreamId id) {}
    // The peer, a kcpp link, closed the session (its close notice arrived,
    // docs/protocol.md §6.2): its streams' FINs came before, nothing more
    // will arrive, and it has forgotten every stream. From now on what this
    // side sends is dropped instead of sent (Write and CloseWrite still
    // succeed), so that the session has nothing left to flush; what the
    // link holds and the FINs are still delivered. The link stays open
    // until Close(), which then ends without lingering, or until the
    // keepalive timeout. Runs at most once. kcptun never sends the notice.
    virtual void OnPeerClosed() {}
    // The link is over; every stream with it. `why`:
    //   OK                after Close(), once the session flushed everything
    //   DeadlineExceeded  smux keepalive: nothing arrived for
    //                     keep_alive_timeout ("peer dead"); or, after
    //                     Close(), the flush did not finish within the
    //                     session's close_linger
    //   InvalidArgument / DataLoss  the peer broke the smux or snappy format
    //   Unavailable       the KCP session failed (dead link, idle timeout,
    //                     engine shut down); the message says which
    // Last callback; the handler may destroy the link here.
    virtual void OnLinkClosed(const absl::Status& why) = 0;
  };

  // Starts smux on `session` (stream mode; FailedPrecondition otherwise).
  // `role`: smux::Role::kClient for a dialled session (opens odd stream ids),
  // kServer for an accepted one. InvalidArgument for a bad smux config.
  // `loop` must be running and this called on its thread; `handler` must
  // outlive the link.
  static absl::StatusOr<std::unique_ptr<MuxLink>> Create(
      transport::EventLoop* loop, std::shared_ptr<transport::Session> session, smux::Role role,
      const MuxLinkOptions& options, Handler* handler);

  // Without callbacks: forgets every stream and closes the session
  // (transport's Close: what was already queued is still flushed, for up
  // to close_linger).
  ~MuxLink() override;
  MuxLink(const MuxLink&) = delete;
  MuxLink& operator=(const MuxLink&) = delete;

  // ---- Streams ----------------------------------------------------------
  // Opens a stream (SYN). ResourceExhausted when smux's ids are used up (go
  // away: open a new session); FailedPrecondition once closing or closed.
  absl::StatusOr<StreamId> OpenStream();

  // Queues a prefix of `data` on stream `id` and returns its length; short
  // (possibly 0) when the stream's v2 window or the output bound is full, in
  // which case OnStreamWritable follows. NotFound for an unknown id;
  // FailedPrecondition after CloseWrite or once the link is closing.
  absl::StatusOr<size_t> Write(StreamId id, absl::Span<const uint8_t> data);
  // How many bytes Write(id, ...) would take now (0 for unknown ids). When
  // it returns 0 for an open stream, OnStreamWritable follows once there is
  // room, as after a short Write: a writer may size its reads by it.
  size_t WritableBytes(StreamId id);

  // The oldest bytes of `id` the link holds (contiguous; empty if none).
  absl::Span<const uint8_t> Peek(StreamId id) const;
  // Bytes of `id` the link holds.
  size_t buffered(StreamId id) const;
  // The handler took the first `n` (<= buffered(id)) held bytes: frees smux
  // receive budget (v2: may send a window update) and may lead to
  // OnStreamFin / OnStreamClosed. NotFound for unknown ids, InvalidArgument
  // if n > buffered(id).
  absl::Status Consume(StreamId id, size_t n);

  // Half-close: FIN after the bytes written so far; the stream keeps
  // receiving. May lead to OnStreamClosed. FailedPrecondition if already
  // done; NotFound for unknown ids.
  absl::Status CloseWrite(StreamId id);
  // Full close: FIN (unless sent) and the stream is forgotten now, with
  // whatever it held; later data for it is discarded. No OnStreamClosed.
  absl::Status CloseStream(StreamId id);

  // ---- The link -----------------------------------------------------------
  // Graceful close: every stream is closed (as CloseStream), then kcpp's
  // close notice (smux/frame.h kCloseNoticeStreamId: a kcpp peer learns at
  // once, OnPeerClosed; smux peers ignore it), the smux output flushed into
  // the session, then the session closed (transport flushes and waits for
  // acknowledgement, the notice's too, for up to close_linger);
  // OnLinkClosed(OK, or why not) follows when the session is gone.
  // Idempotent. The destructor sends no notice.
  void Close();
  // Closing or closed: stream methods fail with FailedPrecondition.
  bool closing() const { return closing_ || closed_; }
  // The peer's close notice arrived (Handler::OnPeerClosed).
  bool peer_closed() const { return peer_closed_; }

  const transport::Session& session() const { return *session_; }
  const std::shared_ptr<transport::Session>& shared_session() const { return session_; }
  smux::Role role() const { return mux_->role(); }
  size_t num_streams() const { return streams_.size(); }
  MuxLinkStats stats() const;

 private:
  class Doorbell;
  enum class EventType : uint8_t { kFin, kWritable, kClosed, kPeerClosed };
  struct Event {
    EventType type;
    StreamId id;
  };
  struct Stream {
    internal::ByteRing held;   // received, not yet taken by the handler
    bool fin_pending = false;  // FIN arrived while bytes were held
    bool finished = false;     // smux forgot it; OnStreamClosed is queued
    bool awaits_room = false;  // WritableBytes said 0: in room_waiters_
  };

  MuxLink(transport::EventLoop* loop, std::shared_ptr<transport::Session> session,
          const MuxLinkOptions& options, Handler* handler);

  // smux::SessionHandler.
  void OnStreamOpened(StreamId id) override;
  void OnStreamData(StreamId id, absl::Span<const uint8_t> data) override;
  void OnStreamFin(StreamId id) override;
  void OnStreamWritable(StreamId id) override;
  void OnStreamClosed(StreamId id) override;
  void OnSessionClosed(const absl::Status& status) override;
  void OnPeerClosing() override;
  // EventLoop::TimerHandler.
  void OnTimer(int64_t now_ms) override;

  // A turn of the link, from the doorbell task.
  void OnDoorbell(uint32_t bits);
  // Reads the session and feeds smux until it blocks or nothing is left.
  void PumpInput();
  void PumpInputOnce();
  // Feeds what was read but not yet taken; false if smux stopped taking.
  bool FeedHeld();
  // The buffer for the next read from the session (PumpInputOnce).
  uint8_t* ReadBuffer();
  // Moves what smux did not take out of the shared read buffer into input_
  // and gives the shared buffer back; PumpInputOnce's every way out.
  void KeepInput();
  // Moves smux output (through snappy) into the session while it takes it.
  void FlushOutput();
  absl::Span<const uint8_t> NextOutput();
  void ConsumeOutput(size_t n);
  void ScheduleTimer();
  // Queues OnStreamWritable for streams WritableBytes found full that have
  // room now (after input — a v2 window update — and after output drained).
  void CheckRoomWaiters();
  // Input may flow again (receive budget freed): wake the link.
  void MaybeUnblockInput();
  // Ends the link with `why` (reported from a posted task).
  void Fail(absl::Status why);
  void MaybeCloseSession();
  void Queue(EventType type, StreamId id);
  // Rings the doorbell if events wait and no turn is running.
  void AfterCall();
  // Runs queued callbacks, then reports the end of a closed link: itself
  // if `may_report` (a doorbell turn, which touches nothing afterwards),
  // else from a posted turn.
  void Dispatch(bool may_report);
  absl::Status CheckOpen() const;
  absl::StatusOr<Stream*> Find(StreamId id);

  transport::EventLoop* const loop_;
  const std::shared_ptr<transport::Session> session_;
  Handler* const handler_;
  std::shared_ptr<Doorbell> doorbell_;
  std::unique_ptr<smux::Session> mux_;
  std::optional<snappy_framing::FramingEncoder> encoder_;
  std::optional<snappy_framing::FramingDecoder> decoder_;
  transport::EventLoop::TimerId timer_;
  int64_t timer_at_ = -1;

  absl::flat_hash_map<StreamId, Stream> streams_;
  std::vector<Event> events_;
  std::vector<Event> dispatching_;
  std::vector<StreamId> room_waiters_;

  // Bytes read from the session, not yet fed (or decoded):
  // input_data_[input_begin_, input_end_). input_data_ is the loop thread's
  // shared read buffer during a PumpInputOnce (input_shared_), else input_,
  // this link's own, allocated the first time smux left bytes unfed.
  std::unique_ptr<uint8_t[]> input_;
  uint8_t* input_data_ = nullptr;
  bool input_shared_ = false;
  size_t input_begin_ = 0;
  size_t input_end_ = 0;
  bool input_blocked_ = false;  // smux stopped taking input

  bool in_turn_ = false;   // a doorbell turn or timer is running
  bool in_flush_ = false;  // FlushOutput is on the stack
  bool flush_again_ = false;
  bool output_full_ = false;  // the session's outbound queue refused bytes

  bool peer_closed_ = false;  // the peer's close notice arrived: output is dropped
  bool closing_ = false;      // Close() called
  int64_t close_deadline_ms_ = 0;
  bool session_close_called_ = false;
  bool output_abandoned_ = false;  // Close gave up on unflushed smux output
  bool closed_ = false;            // no more stream operations
  bool close_reported_ = false;    // OnLinkClosed queued (or delivered)
  absl::Status status_;            // why the link closed

  size_t held_bytes_ = 0;  // sum of the streams' held bytes
  size_t max_held_bytes_ = 0;
  uint64_t session_bytes_read_ = 0;
  uint64_t session_bytes_written_ = 0;
};

}  // namespace kcpp::service

#endif  // KCPP_MUX_MUX_LINK_H_
