#include "mux/mux_link.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kcpp::service {
namespace {

// Doorbell bits: why the link loop should take a turn.
constexpr uint32_t kReadable = 1;     // the session has bytes (on_readable)
constexpr uint32_t kWritable = 2;     // the session's outbound queue has room
constexpr uint32_t kSessionGone = 4;  // the session left its loop (on_closed)
constexpr uint32_t kInput = 8;        // smux takes input again / more to read
constexpr uint32_t kDispatch = 16;    // callbacks (or the final report) wait

// One read from the session. Smux frames are at most 65543 bytes; any size
// works, this one keeps a read per 64 KiB of the session's inbound queue.
constexpr size_t kInputBytes = 64 * 1024;
// Reads per turn before yielding to the loop's other work (fairness between
// links sharing a loop); the rest follows in the next iteration.
constexpr int kReadsPerTurn = 16;
// Snappy-framed output waiting for the session before smux output is framed
// further (the encoder grows without bound otherwise).
constexpr size_t kEncoderHighWater = 64 * 1024;

// The loop thread's read buffer, shared by its links: a read is fed to smux
// from here, and only what smux does not take (its receive window is full)
// is copied into the link's own input_. A link whose input never blocks —
// a forged session's among them — holds no 64 KiB buffer of its own.
// `busy` while a link's unfed bytes are in it (a link pumping inside
// another's feed reads into its own input_ instead).
struct ReadScratch {
  std::unique_ptr<uint8_t[]> bytes;
  bool busy = false;
};
thread_local ReadScratch t_read_scratch;

}  // namespace

// Rung from any thread (the session's callbacks run on its Engine loop);
// posts at most one task to the link loop per burst of rings.
class MuxLink::Doorbell : public std::enable_shared_from_this<MuxLink::Doorbell> {
 public:
  Doorbell(transport::EventLoop* loop, MuxLink* link) : loop_(loop), link_(link) {}

  void Ring(uint32_t bits) {
    if (pending_.fetch_or(bits, std::memory_order_acq_rel) == 0) {
      loop_->Post([self = shared_from_this()] { self->Run(); });
    }
  }
  void SessionGone(absl::Status why) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      gone_status_ = std::move(why);
    }
    Ring(kSessionGone);
  }
  absl::Status gone_status() {
    std::lock_guard<std::mutex> lock(mu_);
    return gone_status_;
  }
  // Link loop thread: no turn runs for this link any more.
  void Detach() { link_ = nullptr; }

 private:
  void Run() {
    const uint32_t bits = pending_.exchange(0, std::memory_order_acq_rel);
    // The link may destroy itself in OnLinkClosed: nothing after this call.
    if (link_ != nullptr) link_->OnDoorbell(bits);
  }

  transport::EventLoop* const loop_;
  MuxLink* link_;  // link loop thread only
  std::atomic<uint32_t> pending_{0};
  std::mutex mu_;
  absl::Status gone_status_;  // guarded by mu_
};

absl::StatusOr<std::unique_ptr<MuxLink>> MuxLink::Create(
    transport::EventLoop* loop, std::shared_ptr<transport::Session> session, smux::Role role,
    const MuxLinkOptions& options, Handler* handler) {
  if (loop == nullptr || session == nullptr || handler == nullptr) {
    return absl::InvalidArgumentError("MuxLink::Create: loop, session and handler are required");
  }
  if (!loop->IsLoopThread()) {
    return absl::FailedPreconditionError("MuxLink::Create must run on its loop's thread");
  }
  if (!session->options().stream_mode) {
    return absl::FailedPreconditionError(
        "smux needs a KCP session in stream mode (docs/protocol.md §6.1); this one keeps message "
        "boundaries");
  }
  std::unique_ptr<MuxLink> link(new MuxLink(loop, std::move(session), options, handler));
  absl::StatusOr<std::unique_ptr<smux::Session>> mux =
      smux::Session::Create(role, options.smux, link.get(), loop->now_ms());
  if (!mux.ok()) return mux.status();
  link->mux_ = *std::move(mux);

  transport::SessionCallbacks callbacks;
  std::shared_ptr<Doorbell> bell = link->doorbell_;
  callbacks.on_readable = [bell] { bell->Ring(kReadable); };
  callbacks.on_writable = [bell] { bell->Ring(kWritable); };
  callbacks.on_closed = [bell](absl::Status why) { bell->SessionGone(std::move(why)); };
  if (options.on_oob) callbacks.on_oob = options.on_oob;
  link->session_->SetCallbacks(std::move(callbacks));
  link->ScheduleTimer();
  return link;
}

MuxLink::MuxLink(transport::EventLoop* loop, std::shared_ptr<transport::Session> session,
                 const MuxLinkOptions& options, Handler* handler)
    : loop_(loop),
      session_(std::move(session)),
      handler_(handler),
      doorbell_(std::make_shared<Doorbell>(loop, this)),
      timer_(loop->CreateTimer(this)) {
  if (options.snappy) {
    encoder_.emplace();
    decoder_.emplace();
  }
}

MuxLink::~MuxLink() {
  if (input_shared_) t_read_scratch.busy = false;
  doorbell_->Detach();
  loop_->ReleaseTimer(timer_);
  session_->SetCallbacks({});
  if (!session_close_called_) session_->Close();
}

// ---- Streams ----------------------------------------------------------------

absl::Status MuxLink::CheckOpen() const {
  if (closed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the smux link is closed: ", status_.ToString()));
  }
  if (closing_) return absl::FailedPreconditionError("the smux link is closing");
  return absl::OkStatus();
}

absl::StatusOr<MuxLink::Stream*> MuxLink::Find(StreamId id) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.finished) {
    return absl::NotFoundError(absl::StrCat("smux stream ", id, " is not open"));
  }
  return &it->second;
}

absl::StatusOr<MuxLink::StreamId> MuxLink::OpenStream() {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  absl::StatusOr<StreamId> id = mux_->OpenStream();
  if (!id.ok()) return id.status();
  streams_.try_emplace(*id);
  FlushOutput();
  AfterCall();
  return id;
}

absl::StatusOr<size_t> MuxLink::Write(StreamId id, absl::Span<const uint8_t> data) {
  absl::StatusOr<Stream*> s = Find(id);
  if (!s.ok()) return s.status();
  absl::StatusOr<size_t> n = mux_->Write(id, data);
  if (n.ok() && *n > 0) FlushOutput();
  AfterCall();
  return n;
}

size_t MuxLink::WritableBytes(StreamId id) {
  if (closing_ || closed_) return 0;
  const size_t n = mux_->WritableBytes(id);
  if (n == 0) {
    auto it = streams_.find(id);
    if (it != streams_.end() && !it->second.finished && !it->second.awaits_room) {
      it->second.awaits_room = true;
      room_waiters_.push_back(id);
    }
  }
  return n;
}

void MuxLink::CheckRoomWaiters() {
  if (room_waiters_.empty() || closed_ || closing_) return;
  size_t kept = 0;
  for (StreamId id : room_waiters_) {
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second.finished) continue;
    if (mux_->WritableBytes(id) > 0) {
      it->second.awaits_room = false;
      Queue(EventType::kWritable, id);
    } else {
      room_waiters_[kept++] = id;
    }
  }
  room_waiters_.resize(kept);
}

absl::Span<const uint8_t> MuxLink::Peek(StreamId id) const {
  auto it = streams_.find(id);
  if (it == streams_.end()) return {};
  return it->second.held.Front();
}

size_t MuxLink::buffered(StreamId id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? 0 : it->second.held.size();
}

absl::Status MuxLink::Consume(StreamId id, size_t n) {
  absl::StatusOr<Stream*> found = Find(id);
  if (!found.ok()) return found.status();
  Stream& s = **found;
  if (n > s.held.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Consume(", id, ", ", n, ") but the link holds ",
                                                   s.held.size(), " bytes of that stream"));
  }
  if (n == 0) return absl::OkStatus();
  s.held.Consume(n);
  held_bytes_ -= n;
  // FIN after the last held byte, and before smux may finish the stream.
  if (s.held.empty() && s.fin_pending) {
    s.fin_pending = false;
    Queue(EventType::kFin, id);
  }
  absl::Status status = mux_->Consume(id, n);
  FlushOutput();  // a v2 window update
  MaybeUnblockInput();
  AfterCall();
  return status;
}

absl::Status MuxLink::CloseWrite(StreamId id) {
  absl::StatusOr<Stream*> s = Find(id);
  if (!s.ok()) return s.status();
  absl::Status status = mux_->CloseWrite(id);
  FlushOutput();
  AfterCall();
  return status;
}

absl::Status MuxLink::CloseStream(StreamId id) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  auto it = streams_.find(id);
  if (it == streams_.end()) {
    return absl::NotFoundError(absl::StrCat("smux stream ", id, " is not open"));
  }
  const bool finished = it->second.finished;
  held_bytes_ -= it->second.held.size();
  streams_.erase(it);  // queued events for it are skipped
  if (!finished) {
    absl::Status status = mux_->CloseStream(id);
    if (!status.ok()) return status;
    FlushOutput();
    MaybeUnblockInput();  // its held bytes no longer count
  }
  AfterCall();
  return absl::OkStatus();
}

// ---- The link ----------------------------------------------------------------

void MuxLink::Close() {
  if (closing_ || closed_) return;
  std::vector<StreamId> ids;
  ids.reserve(streams_.size());
  for (const auto& [id, s] : streams_) {
    if (!s.finished) ids.push_back(id);
  }
  for (StreamId id : ids) mux_->CloseStream(id).IgnoreError();  // FIN each
  streams_.clear();
  held_bytes_ = 0;
  // After the FINs: a kcpp peer ends its session at once instead of
  // waiting for a keepalive timeout; other smux peers ignore it.
  if (!peer_closed_) mux_->SendCloseNotice().IgnoreError();
  mux_->Close();  // no more input, no keepalive; queued output stays
  closing_ = true;
  close_deadline_ms_ = loop_->now_ms() + session_->options().close_linger_ms;
  FlushOutput();  // closes the session once everything is queued
  ScheduleTimer();
  AfterCall();
}

void MuxLink::MaybeCloseSession() {
  if (!closing_ || closed_ || session_close_called_ || !NextOutput().empty()) return;
  session_close_called_ = true;
  session_->Close();  // transport flushes, then on_closed
}

MuxLinkStats MuxLink::stats() const {
  MuxLinkStats s;
  s.smux = mux_->stats();
  for (const auto& [id, stream] : streams_) {
    if (!stream.finished) ++s.streams;
  }
  s.buffered_bytes = held_bytes_;
  s.max_buffered_bytes = max_held_bytes_;
  s.session_bytes_read = session_bytes_read_;
  s.session_bytes_written = session_bytes_written_;
  if (encoder_.has_value()) {
    s.snappy_chunks_written = encoder_->compressed_chunks() + encoder_->uncompressed_chunks();
  }
  return s;
}

// ---- smux callbacks (inside Feed, OnTimer, Consume, ...) ------------------

void MuxLink::OnStreamOpened(StreamId id) {
  if (closing_ || closed_) return;
  if (streams_.contains(id)) {
    // The peer reused the id of a stream whose end is not reported yet.
    mux_->CloseStream(id).IgnoreError();
    return;
  }
  streams_.try_emplace(id);
  const bool accept = handler_->OnStreamOpened(id);
  if (closed_ || closing_ || !streams_.contains(id)) return;  // the handler closed it
  if (accept) {
    mux_->AcceptStream(id).IgnoreError();
  } else {
    streams_.erase(id);
    mux_->CloseStream(id).IgnoreError();
  }
}

void MuxLink::OnStreamData(StreamId id, absl::Span<const uint8_t> data) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;  // cannot happen: smux only delivers known streams
  if (it->second.held.empty()) {
    const size_t taken = std::min(handler_->OnStreamData(id, data), data.size());
    if (closed_ || closing_) return;
    if (taken > 0) mux_->Consume(id, taken).IgnoreError();
    data.remove_prefix(taken);
    it = streams_.find(id);  // the handler may have changed the table
    if (it == streams_.end()) return;
  }
  it->second.held.Append(data);
  held_bytes_ += data.size();
  max_held_bytes_ = std::max(max_held_bytes_, held_bytes_);
}

void MuxLink::OnStreamFin(StreamId id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  if (it->second.held.empty()) {
    Queue(EventType::kFin, id);
  } else {
    it->second.fin_pending = true;
  }
}

void MuxLink::OnStreamWritable(StreamId id) { Queue(EventType::kWritable, id); }

void MuxLink::OnStreamClosed(StreamId id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  it->second.finished = true;
  Queue(EventType::kClosed, id);
}

void MuxLink::OnSessionClosed(const absl::Status& status) { Fail(status); }

void MuxLink::OnPeerClosing() {
  if (closing_ || closed_) return;
  peer_closed_ = true;  // FlushOutput drops from now on
  Queue(EventType::kPeerClosed, 0);
}

// ---- Turns ---------------------------------------------------------------------

void MuxLink::OnDoorbell(uint32_t bits) {
  in_turn_ = true;
  if ((bits & kSessionGone) != 0 && !closed_) {
    const absl::Status why = doorbell_->gone_status();
    if (closing_) {
      // The end of a graceful Close: OK once transport flushed everything.
      closed_ = true;
      status_ = why;
      if (status_.ok() && output_abandoned_) {
        status_ = absl::DeadlineExceededError(
            absl::StrCat("close: the session did not take all smux output within close_linger (",
                         session_->options().close_linger_ms,
                         " ms); the peer may miss the end of some streams"));
      }
      loop_->CancelTimer(timer_);
      timer_at_ = -1;
    } else {
      Fail(why.ok() ? absl::UnavailableError("the KCP session closed") : why);
    }
  }
  if (!closed_) {
    if ((bits & kWritable) != 0) output_full_ = false;
    if ((bits & (kReadable | kInput)) != 0) PumpInput();
    FlushOutput();
  }
  Dispatch(/*may_report=*/true);  // may destroy the link: nothing after this
}

void MuxLink::OnTimer(int64_t now_ms) {
  timer_at_ = -1;
  if (closed_) return;
  in_turn_ = true;
  if (closing_) {
    if (now_ms >= close_deadline_ms_ && !session_close_called_) {
      // The session never took all of smux's output (a peer that stopped
      // acknowledging): give up on the rest.
      session_close_called_ = true;
      output_abandoned_ = true;
      session_->Close();
    }
  } else {
    mux_->OnTimer(now_ms);  // NOPs; keepalive timeout -> OnSessionClosed
  }
  FlushOutput();
  ScheduleTimer();
  Dispatch(/*may_report=*/false);
}

void MuxLink::ScheduleTimer() {
  int64_t deadline = closed_ || closing_ ? smux::kNoDeadline : mux_->NextDeadline();
  if (closing_ && !closed_ && !session_close_called_) deadline = close_deadline_ms_;
  if (deadline == smux::kNoDeadline) {
    if (timer_at_ != -1) loop_->CancelTimer(timer_);
    timer_at_ = -1;
    return;
  }
  // Never "now": the loop's clock stands still within an iteration.
  deadline = std::max(deadline, loop_->now_ms() + 1);
  if (deadline == timer_at_) return;
  timer_at_ = deadline;
  loop_->ScheduleTimer(timer_, deadline);
}

void MuxLink::PumpInput() {
  PumpInputOnce();
  CheckRoomWaiters();  // a v2 window update may have come
}

void MuxLink::PumpInputOnce() {
  for (int reads = 0; !closing_ && !closed_; ++reads) {
    if (!FeedHeld()) break;
    if (reads == kReadsPerTurn) {
      doorbell_->Ring(kInput);  // more may wait: continue in a later turn
      break;
    }
    uint8_t* const buffer = ReadBuffer();
    absl::StatusOr<size_t> n = session_->TryRead(absl::MakeSpan(buffer, kInputBytes));
    if (!n.ok()) {
      if (!absl::IsDeadlineExceeded(n.status())) Fail(n.status());
      break;  // nothing more now: on_readable rings again
    }
    session_bytes_read_ += *n;
    input_data_ = buffer;
    input_begin_ = 0;
    input_end_ = *n;
  }
  KeepInput();
}

uint8_t* MuxLink::ReadBuffer() {
  if (input_shared_) return t_read_scratch.bytes.get();
  if (!t_read_scratch.busy) {
    if (t_read_scratch.bytes == nullptr) t_read_scratch.bytes.reset(new uint8_t[kInputBytes]);
    t_read_scratch.busy = true;
    input_shared_ = true;
    return t_read_scratch.bytes.get();
  }
  if (input_ == nullptr) input_.reset(new uint8_t[kInputBytes]);
  return input_.get();
}

void MuxLink::KeepInput() {
  if (!input_shared_) return;
  input_shared_ = false;
  t_read_scratch.busy = false;
  // A closing link feeds nothing more.
  const size_t left = closed_ || closing_ ? 0 : input_end_ - input_begin_;
  if (left > 0) {
    // Allocated once, on the first block; kept (no allocation once warm).
    if (input_ == nullptr) input_.reset(new uint8_t[kInputBytes]);
    std::memcpy(input_.get(), t_read_scratch.bytes.get() + input_begin_, left);
  }
  input_data_ = input_.get();
  input_begin_ = 0;
  input_end_ = left;
}

bool MuxLink::FeedHeld() {
  while (!closed_ && !closing_) {
    if (decoder_.has_value()) {
      const absl::Span<const uint8_t> decoded = decoder_->decoded();
      if (!decoded.empty()) {
        const size_t used = mux_->Feed(decoded);
        if (closed_ || closing_) return false;
        decoder_->ConsumeDecoded(used);
        if (used < decoded.size()) {
          input_blocked_ = true;
          return false;
        }
        continue;
      }
      if (input_begin_ == input_end_) return true;
      absl::StatusOr<size_t> used = decoder_->Feed(
          absl::MakeConstSpan(input_data_ + input_begin_, input_end_ - input_begin_));
      if (!used.ok()) {
        Fail(absl::Status(used.status().code(),
                          absl::StrCat("snappy framing from the peer: ", used.status().message())));
        return false;
      }
      if (*used == 0 && decoder_->decoded().empty()) {
        Fail(absl::InternalError("snappy decoder made no progress"));
        return false;
      }
      input_begin_ += *used;
    } else {
      if (input_begin_ == input_end_) return true;
      const size_t used =
          mux_->Feed(absl::MakeConstSpan(input_data_ + input_begin_, input_end_ - input_begin_));
      if (closed_ || closing_) return false;
      input_begin_ += used;
      if (input_begin_ < input_end_) {
        input_blocked_ = true;
        return false;
      }
    }
  }
  return false;
}

void MuxLink::MaybeUnblockInput() {
  if (!input_blocked_ || closed_ || closing_ || mux_->receive_blocked()) return;
  input_blocked_ = false;
  doorbell_->Ring(kInput);
}

absl::Span<const uint8_t> MuxLink::NextOutput() {
  if (!encoder_.has_value()) return mux_->output();
  // kcptun flushes the snappy writer after every smux write; any chunking
  // decodes the same, so frames are framed in batches.
  while (encoder_->output().size() < kEncoderHighWater && !mux_->output().empty()) {
    const absl::Span<const uint8_t> frames = mux_->output();
    encoder_->Write(frames);
    encoder_->Flush();
    mux_->ConsumeOutput(frames.size());
  }
  return encoder_->output();
}

void MuxLink::ConsumeOutput(size_t n) {
  if (encoder_.has_value()) {
    encoder_->ConsumeOutput(n);
  } else {
    mux_->ConsumeOutput(n);  // may make room for writers: kWritable events
  }
}

void MuxLink::FlushOutput() {
  if (in_flush_) {
    flush_again_ = true;
    return;
  }
  if (closed_ || session_close_called_) return;
  in_flush_ = true;
  do {
    flush_again_ = false;
    // (Dropping needs no room in the session.)
    while (!closed_ && (!output_full_ || peer_closed_)) {
      const absl::Span<const uint8_t> out = NextOutput();
      if (out.empty()) break;
      if (peer_closed_) {
        // The peer forgot its streams and is going: what we would send is
        // discarded there, and unacknowledged bytes would only keep our
        // session lingering after it is gone.
        ConsumeOutput(out.size());
        continue;
      }
      absl::StatusOr<size_t> n = session_->TryWrite(out);
      if (!n.ok()) {
        if (absl::IsDeadlineExceeded(n.status())) {
          output_full_ = true;  // on_writable rings when there is room
        } else {
          Fail(n.status());
        }
        break;
      }
      session_bytes_written_ += *n;
      ConsumeOutput(*n);
      if (*n < out.size()) output_full_ = true;
    }
  } while (flush_again_ && !closed_ && (!output_full_ || peer_closed_));
  in_flush_ = false;
  CheckRoomWaiters();  // drained output is room for writers
  MaybeCloseSession();
}

void MuxLink::Fail(absl::Status why) {
  if (closed_) return;
  closed_ = true;
  status_ = std::move(why);
  mux_->Close();  // no-op when smux itself failed
  streams_.clear();
  held_bytes_ = 0;
  events_.clear();
  loop_->CancelTimer(timer_);
  timer_at_ = -1;
  if (!session_close_called_) {
    session_close_called_ = true;
    session_->Close();
  }
  doorbell_->Ring(kDispatch);  // OnLinkClosed comes from a task of its own
}

void MuxLink::Queue(EventType type, StreamId id) { events_.push_back(Event{type, id}); }

void MuxLink::AfterCall() {
  if (in_turn_) return;  // the turn dispatches before it ends
  if (!events_.empty() || (closed_ && !close_reported_)) doorbell_->Ring(kDispatch);
}

void MuxLink::Dispatch(bool may_report) {
  while (!events_.empty() && !closed_) {
    dispatching_.swap(events_);
    for (const Event& e : dispatching_) {
      if (e.type == EventType::kPeerClosed) {
        if (!closing_) handler_->OnPeerClosed();
        if (closed_) break;
        continue;
      }
      auto it = streams_.find(e.id);
      if (it == streams_.end()) continue;  // closed by the handler meanwhile
      switch (e.type) {
        case EventType::kFin:
          handler_->OnStreamFin(e.id);
          break;
        case EventType::kWritable:
          if (!it->second.finished) handler_->OnStreamWritable(e.id);
          break;
        case EventType::kClosed:
          if (it->second.finished) {
            streams_.erase(it);
            handler_->OnStreamClosed(e.id);
          }
          break;
        case EventType::kPeerClosed:
          break;  // handled above
      }
      if (closed_) break;
    }
    dispatching_.clear();
  }
  in_turn_ = false;
  if (!closed_ || close_reported_) return;
  if (!may_report) {
    doorbell_->Ring(kDispatch);
    return;
  }
  close_reported_ = true;
  handler_->OnLinkClosed(status_);  // may destroy the link: nothing after this
}

}  // namespace kcpp::service
