#include "smux/session.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "smux/internal/contiguous_byte_queue.h"

namespace kcpp::smux {

absl::StatusOr<std::unique_ptr<Session>> Session::Create(Role role, const Config& config,
                                                         SessionHandler* handler, int64_t now_ms) {
  if (absl::Status s = ValidateConfig(config); !s.ok()) return s;
  if (handler == nullptr) return absl::InvalidArgumentError("handler must not be null");
  return std::unique_ptr<Session>(new Session(role, config, handler, now_ms));
}

Session::Session(Role role, const Config& config, SessionHandler* handler, int64_t now_ms)
    : role_(role),
      config_(config),
      handler_(handler),
      // smux: the client's counter starts at 1, the server's at 0, and each
      // OpenStream adds 2 first.
      next_stream_id_(role == Role::kClient ? 1 : 0),
      receive_budget_(config.max_receive_buffer),
      output_(new internal::ContiguousByteQueue),
      next_ping_ms_(now_ms + config.keep_alive_interval_ms),
      next_check_ms_(now_ms + config.keep_alive_timeout_ms) {}

Session::~Session() = default;

Session::Stream* Session::Find(StreamId id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

const Session::Stream* Session::Find(StreamId id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

absl::Status Session::CheckOpen() const {
  if (!closed_) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("smux session is closed: ", status_.ToString()));
}

// ------------------------------------------------------------------ input

bool Session::receive_blocked() const {
  return receive_budget_ <= 0 || accept_pending_ >= config_.accept_backlog;
}

size_t Session::Feed(absl::Span<const uint8_t> input) {
  if (closed_ || in_feed_) return 0;
  in_feed_ = true;
  const uint8_t* p = input.data();
  size_t left = input.size();
  while (left > 0 && !closed_) {
    if (rx_state_ == RxState::kPayload) {
      const size_t take = std::min(left, rx_payload_left_);
      rx_payload_left_ -= take;
      if (rx_payload_left_ == 0) rx_state_ = RxState::kHeader;
      p += take;
      left -= take;
      DeliverPayload(p - take, take);
      continue;
    }
    // A header, or the 8-byte UPD payload.
    if (rx_state_ == RxState::kHeader && rx_have_ == 0 && receive_blocked()) break;
    const size_t take = std::min(left, kFrameHeaderSize - rx_have_);
    std::memcpy(rx_buf_ + rx_have_, p, take);
    rx_have_ += take;
    p += take;
    left -= take;
    if (rx_have_ < kFrameHeaderSize) break;
    rx_have_ = 0;
    if (rx_state_ == RxState::kHeader) {
      ProcessHeader();
    } else {
      ProcessWindowUpdate();
    }
  }
  in_feed_ = false;
  return input.size() - left;
}

void Session::ProcessHeader() {
  const FrameHeader h = DecodeFrameHeader(rx_buf_);
  if (absl::Status s = ValidateFrameHeader(h, config_.version); !s.ok()) {
    Fail(std::move(s));
    return;
  }
  frame_since_check_ = true;
  heard_from_peer_ = true;
  ++stats_.frames_received[h.command];
  rx_header_ = h;
  switch (h.command) {
    case kCmdNop:
      // Any other stream id is a keepalive, as in smux (which never looks
      // at a NOP's id).
      if (h.stream_id == kCloseNoticeStreamId && !stats_.close_notice_received) {
        stats_.close_notice_received = true;
        // The peer has forgotten every stream: one it never saw (our SYN
        // crossed its close) or never finished gets no FIN from it, so it
        // ends here as if one came.
        std::vector<StreamId> unfinished;
        for (const auto& [id, s] : streams_) {
          if (!s.fin_received) unfinished.push_back(id);
        }
        for (StreamId id : unfinished) {
          Stream* s = Find(id);  // a callback may have closed it
          if (s == nullptr || s->fin_received || closed_) continue;
          s->fin_received = true;
          handler_->OnStreamFin(id);
          MaybeFinish(id);
        }
        if (!closed_) handler_->OnPeerClosing();
      }
      return;
    case kCmdSyn: {
      if (Find(h.stream_id) != nullptr) return;  // smux ignores a repeated SYN
      streams_.emplace(h.stream_id, Stream());
      ++accept_pending_;
      ++stats_.streams_accepted;
      handler_->OnStreamOpened(h.stream_id);
      return;
    }
    case kCmdFin: {
      Stream* s = Find(h.stream_id);
      if (s == nullptr || s->fin_received) return;
      s->fin_received = true;
      handler_->OnStreamFin(h.stream_id);
      MaybeFinish(h.stream_id);
      return;
    }
    case kCmdPsh:
      if (h.length > 0) {
        rx_payload_left_ = h.length;
        rx_state_ = RxState::kPayload;
      }
      return;
    case kCmdUpd:
      rx_state_ = RxState::kWindowUpdate;
      return;
  }
}

void Session::DeliverPayload(const uint8_t* data, size_t size) {
  const StreamId id = rx_header_.stream_id;
  Stream* s = Find(id);
  if (s == nullptr || s->fin_received) {
    stats_.bytes_discarded += size;
    return;
  }
  s->unconsumed += size;
  receive_budget_ -= static_cast<int64_t>(size);
  stats_.bytes_received += size;
  handler_->OnStreamData(id, absl::MakeConstSpan(data, size));
}

void Session::ProcessWindowUpdate() {
  rx_state_ = RxState::kHeader;
  const WindowUpdate u = DecodeWindowUpdate(rx_buf_);
  const StreamId id = rx_header_.stream_id;
  Stream* s = Find(id);
  if (s == nullptr) return;
  s->peer_consumed = u.consumed;
  s->peer_window = u.window;
  if (!s->window_blocked) return;
  bool window_limited = false;
  if (Writable(*s, &window_limited) > 0) {
    s->window_blocked = false;
    handler_->OnStreamWritable(id);
  } else if (!window_limited) {  // window open, output full: wait for room
    s->window_blocked = false;
    if (!s->output_blocked) {
      s->output_blocked = true;
      output_blocked_.push_back(id);
    }
  }
}

// ----------------------------------------------------------------- output

absl::Span<const uint8_t> Session::output() const { return output_->data(); }

void Session::AppendFrame(uint8_t command, StreamId id, const uint8_t* payload, size_t size) {
  uint8_t* out = output_->Reserve(kFrameHeaderSize + size);
  EncodeFrameHeader(
      {static_cast<uint8_t>(config_.version), command, static_cast<uint16_t>(size), id}, out);
  if (size > 0) std::memcpy(out + kFrameHeaderSize, payload, size);
  output_->Commit(kFrameHeaderSize + size);
  ++stats_.frames_sent[command];
}

void Session::ConsumeOutput(size_t n) {
  output_->Consume(n);
  if (!output_blocked_.empty() && output_->size() < config_.max_output_buffer) NotifyOutputRoom();
}

void Session::NotifyOutputRoom() {
  if (in_notify_) return;  // ConsumeOutput from inside OnStreamWritable
  in_notify_ = true;
  notify_scratch_.swap(output_blocked_);
  output_blocked_.clear();
  for (StreamId id : notify_scratch_) {
    if (Stream* s = Find(id)) s->output_blocked = false;
  }
  for (size_t i = 0; i < notify_scratch_.size() && !closed_; ++i) {
    const StreamId id = notify_scratch_[i];
    Stream* s = Find(id);
    if (s == nullptr || s->fin_sent || s->output_blocked) continue;
    bool window_limited = false;
    if (Writable(*s, &window_limited) > 0) {
      handler_->OnStreamWritable(id);
    } else if (window_limited) {
      s->window_blocked = true;
    } else {
      s->output_blocked = true;
      output_blocked_.push_back(id);
    }
  }
  notify_scratch_.clear();
  in_notify_ = false;
}

// ---------------------------------------------------------------- streams

absl::StatusOr<StreamId> Session::OpenStream() {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  while (true) {
    if (go_away_) {
      return absl::ResourceExhaustedError(
          "smux stream ids exhausted (go away): open a new session");
    }
    next_stream_id_ += 2;
    if (next_stream_id_ < 2) {  // wrapped around: smux's sid == sid%2 test
      go_away_ = true;
      continue;
    }
    // A misbehaving peer may have taken an id of our parity; skip it.
    if (Find(next_stream_id_) == nullptr) break;
  }
  const StreamId id = next_stream_id_;
  Stream s;
  s.accepted = true;
  streams_.emplace(id, s);
  ++stats_.streams_opened;
  AppendFrame(kCmdSyn, id, nullptr, 0);
  return id;
}

absl::Status Session::AcceptStream(StreamId id) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  Stream* s = Find(id);
  if (s == nullptr) return absl::NotFoundError(absl::StrCat("smux: no stream ", id));
  if (!s->accepted) {
    s->accepted = true;
    --accept_pending_;
  }
  return absl::OkStatus();
}

size_t Session::Writable(const Stream& s, bool* window_limited) const {
  size_t room =
      config_.max_output_buffer > output_->size() ? config_.max_output_buffer - output_->size() : 0;
  *window_limited = false;
  if (config_.version >= kVersion2) {
    // smux writeV2: inflight = numWritten - peerConsumed (wrapping), and
    // at most peerWindow - inflight more bytes.
    const int32_t inflight = static_cast<int32_t>(s.num_written - s.peer_consumed);
    const int64_t window = static_cast<int64_t>(static_cast<int32_t>(s.peer_window)) - inflight;
    const size_t allowed = window > 0 ? static_cast<size_t>(window) : 0;
    if (allowed <= room) {
      *window_limited = true;
      room = allowed;
    }
  }
  return room;
}

size_t Session::WritableBytes(StreamId id) const {
  const Stream* s = Find(id);
  if (closed_ || s == nullptr || s->fin_sent) return 0;
  if (config_.version >= kVersion2 && static_cast<int32_t>(s->num_written - s->peer_consumed) < 0) {
    return 0;
  }
  bool window_limited;
  return Writable(*s, &window_limited);
}

absl::StatusOr<size_t> Session::Write(StreamId id, absl::Span<const uint8_t> data) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  Stream* s = Find(id);
  if (s == nullptr) return absl::NotFoundError(absl::StrCat("smux: no stream ", id));
  if (s->fin_sent) {
    return absl::FailedPreconditionError(
        absl::StrCat("smux: write on stream ", id, " after CloseWrite"));
  }
  if (config_.version >= kVersion2 && static_cast<int32_t>(s->num_written - s->peer_consumed) < 0) {
    return absl::DataLossError(absl::StrCat("smux: on stream ", id,
                                            " the peer acknowledged more bytes than were sent "
                                            "(smux ErrConsumed)"));
  }
  if (data.empty()) return 0;
  s->window_blocked = false;
  bool window_limited = false;
  const size_t n = std::min(data.size(), Writable(*s, &window_limited));
  const size_t frame = static_cast<size_t>(config_.max_frame_size);
  for (size_t off = 0; off < n; off += frame) {
    AppendFrame(kCmdPsh, id, data.data() + off, std::min(frame, n - off));
  }
  s->num_written += static_cast<uint32_t>(n);
  stats_.bytes_sent += n;
  if (n < data.size()) {
    if (window_limited) {
      s->window_blocked = true;
    } else if (!s->output_blocked) {
      s->output_blocked = true;
      output_blocked_.push_back(id);
    }
  }
  return n;
}

absl::Status Session::Consume(StreamId id, size_t n) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  Stream* s = Find(id);
  if (s == nullptr) return absl::NotFoundError(absl::StrCat("smux: no stream ", id));
  if (n > s->unconsumed) {
    return absl::InvalidArgumentError(absl::StrCat("smux: Consume(", id, ", ", n, ") but only ",
                                                   s->unconsumed, " bytes are unconsumed"));
  }
  if (n == 0) return absl::OkStatus();
  s->unconsumed -= n;
  receive_budget_ += static_cast<int64_t>(n);
  if (config_.version >= kVersion2) {
    // smux tryReadv2: an UPD after the first read and whenever half the
    // stream buffer was read since the last one.
    s->num_read += static_cast<uint32_t>(n);
    s->incr += static_cast<uint32_t>(n);
    if (s->incr >= static_cast<uint32_t>(config_.max_stream_buffer / 2) ||
        s->num_read == static_cast<uint32_t>(n)) {
      uint8_t upd[kWindowUpdateSize];
      EncodeWindowUpdate({s->num_read, static_cast<uint32_t>(config_.max_stream_buffer)}, upd);
      s->incr = 0;
      AppendFrame(kCmdUpd, id, upd, sizeof(upd));
    }
  }
  MaybeFinish(id);
  return absl::OkStatus();
}

absl::Status Session::CloseWrite(StreamId id) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  Stream* s = Find(id);
  if (s == nullptr) return absl::NotFoundError(absl::StrCat("smux: no stream ", id));
  if (s->fin_sent) {
    return absl::FailedPreconditionError(
        absl::StrCat("smux: stream ", id, " already closed for writing"));
  }
  s->fin_sent = true;
  AppendFrame(kCmdFin, id, nullptr, 0);
  MaybeFinish(id);
  return absl::OkStatus();
}

absl::Status Session::CloseStream(StreamId id) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  Stream* s = Find(id);
  if (s == nullptr) return absl::NotFoundError(absl::StrCat("smux: no stream ", id));
  if (!s->fin_sent) AppendFrame(kCmdFin, id, nullptr, 0);
  Forget(id);
  return absl::OkStatus();
}

void Session::MaybeFinish(StreamId id) {
  Stream* s = Find(id);
  if (s == nullptr || !s->fin_sent || !s->fin_received || s->unconsumed > 0) return;
  Forget(id);
  handler_->OnStreamClosed(id);
}

void Session::Forget(StreamId id) {
  auto it = streams_.find(id);
  Stream& s = it->second;
  receive_budget_ += static_cast<int64_t>(s.unconsumed);
  if (!s.accepted) --accept_pending_;
  if (s.output_blocked) {
    output_blocked_.erase(std::find(output_blocked_.begin(), output_blocked_.end(), id));
  }
  streams_.erase(it);
}

std::optional<StreamInfo> Session::GetStreamInfo(StreamId id) const {
  const Stream* s = Find(id);
  if (s == nullptr) return std::nullopt;
  StreamInfo info;
  info.accepted = s->accepted;
  info.fin_sent = s->fin_sent;
  info.fin_received = s->fin_received;
  info.unconsumed = s->unconsumed;
  info.bytes_consumed = s->num_read;
  info.bytes_written = s->num_written;
  info.peer_consumed = s->peer_consumed;
  info.peer_window = s->peer_window;
  return info;
}

// ------------------------------------------------------------------- time

int64_t Session::NextDeadline() const {
  if (closed_ || config_.keep_alive_disabled) return kNoDeadline;
  return std::min(next_ping_ms_, next_check_ms_);
}

void Session::OnTimer(int64_t now_ms) {
  if (closed_ || config_.keep_alive_disabled) return;
  if (now_ms >= next_ping_ms_) {
    // A server stays silent until its peer has sent a frame: a session one
    // forged datagram started must not buy a NOP every interval until the
    // keepalive timeout ends it (SECURITY.md "Spoofed sources"). A real
    // client's own first frame (a SYN, or its NOP within its interval)
    // starts ours well within its keepalive timeout.
    if (role_ == Role::kClient || heard_from_peer_) AppendFrame(kCmdNop, 0, nullptr, 0);
    // Like a Go ticker: missed ticks are dropped, not sent in a burst.
    const int64_t interval = config_.keep_alive_interval_ms;
    next_ping_ms_ += ((now_ms - next_ping_ms_) / interval + 1) * interval;
  }
  if (now_ms >= next_check_ms_) {
    // smux keepalive(): dead if nothing arrived for a whole period, unless
    // the receive side is blocked on us (then silence is our doing).
    if (!frame_since_check_ && !receive_blocked()) {
      Fail(absl::DeadlineExceededError(absl::StrCat("smux keepalive: no frame from the peer in ",
                                                    config_.keep_alive_timeout_ms, " ms")));
      return;
    }
    frame_since_check_ = false;
    const int64_t period = config_.keep_alive_timeout_ms;
    next_check_ms_ += ((now_ms - next_check_ms_) / period + 1) * period;
  }
}

// ---------------------------------------------------------------- session

absl::Status Session::SendCloseNotice() {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (stats_.close_notice_sent) return absl::OkStatus();
  stats_.close_notice_sent = true;
  AppendFrame(kCmdNop, kCloseNoticeStreamId, nullptr, 0);
  return absl::OkStatus();
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  status_ = absl::CancelledError("smux session closed by the application");
  streams_.clear();
  output_blocked_.clear();
}

void Session::Fail(absl::Status status) {
  if (closed_) return;
  closed_ = true;
  status_ = std::move(status);
  streams_.clear();
  output_blocked_.clear();
  handler_->OnSessionClosed(status_);
}

}  // namespace kcpp::smux
