#include "kcpd/internal/session_actor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/errno_status.h"
#include "base/log.h"
#include "kcpd/internal/resource_names.h"
#include "mux/stream_pump.h"

namespace kcpp::service::internal {
namespace {

// Raw session doorbell bits.
constexpr uint32_t kSessionReadable = 1;
constexpr uint32_t kSessionWritable = 2;
constexpr uint32_t kSessionGone = 4;

// Reads of one side per event before yielding to the thread's other work.
constexpr int kReadsPerEvent = 4;

// The application closed its connection completely (not just its writing
// side): a hang-up or error on the socket.
bool HungUp(int fd) {
  pollfd p{fd, 0, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

}  // namespace

void IoThread::Retire(uint64_t session_id) {
  loop->Post([this, session_id] { actors.erase(session_id); });
}

// ---- Raw sessions: the session's callbacks ring the I/O thread -------------

class SessionActor::RawDoorbell : public std::enable_shared_from_this<RawDoorbell> {
 public:
  RawDoorbell(transport::EventLoop* loop, SessionActor* actor) : loop_(loop), actor_(actor) {}
  void Ring(uint32_t bits) {
    if (pending_.fetch_or(bits, std::memory_order_acq_rel) == 0) {
      loop_->Post([self = shared_from_this()] { self->Run(); });
    }
  }
  void Gone(absl::Status why) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      why_ = std::move(why);
    }
    Ring(kSessionGone);
  }
  absl::Status why() {
    std::lock_guard<std::mutex> lock(mu_);
    return why_;
  }
  void Detach() { actor_ = nullptr; }  // I/O thread

 private:
  void Run() {
    const uint32_t bits = pending_.exchange(0, std::memory_order_acq_rel);
    if (actor_ != nullptr) actor_->OnRawSessionEvent(bits);
  }
  transport::EventLoop* const loop_;
  SessionActor* actor_;
  std::atomic<uint32_t> pending_{0};
  std::mutex mu_;
  absl::Status why_;
};

// ---- One application stream ------------------------------------------------

struct SessionActor::AppStream final : transport::EventLoop::FdHandler, StreamPump::Owner {
  AppStream(SessionActor* a, uint32_t i, std::shared_ptr<StreamCounters> c)
      : actor(a), id(i), counters(std::move(c)) {}
  void OnReadable() override { actor->OnAppReadable(*this); }
  void OnWritable() override { actor->OnAppWritable(*this); }

  // StreamPump::Owner (smux streams).
  absl::Status SetSocketInterest(SocketInterest interest) override {
    transport::EventLoop* loop = actor->io_->loop;
    if (!interest.watch) {
      if (watching) loop->UnwatchFd(fd.get());
      watching = false;
      return absl::OkStatus();
    }
    if (!watching) {
      if (absl::Status s = loop->WatchFd(fd.get(), this, interest.write); !s.ok()) return s;
      watching = true;
      if (interest.read) return absl::OkStatus();
    }
    return loop->SetInterest(fd.get(), this, interest.read, interest.write);
  }
  void OnBytesMoved(size_t to_stream, size_t to_socket) override {
    if (to_stream > 0) counters->sent.fetch_add(to_stream, std::memory_order_relaxed);
    if (to_socket > 0) counters->received.fetch_add(to_socket, std::memory_order_relaxed);
  }
  void OnHalfClosed() override {
    if (fd.valid()) actor->SetState(*this, kcpp::v1::Stream::HALF_CLOSED);
  }
  void OnPumpEnded(PumpEnd end, const absl::Status& why) override {
    // The pump closed the stream on the link already (FIN to the peer).
    std::string reason;
    switch (end) {
      case PumpEnd::kSocketClosed:
        reason = "the application closed its connection";
        break;
      case PumpEnd::kSocketFailed:
        reason = absl::StrCat("the application's connection failed: ", why.message());
        break;
      case PumpEnd::kStreamFailed:
        reason = std::string(why.message());
        break;
    }
    actor->EndStream(*this, reason, /*tell_link=*/false);
  }

  SessionActor* const actor;
  const uint32_t id;
  const std::shared_ptr<StreamCounters> counters;
  UniqueFd fd;
  bool seqpacket = false;
  bool watching = false;
  bool want_read = false;  // the interest currently set
  bool want_write = false;
  // smux: moves the bytes both ways (mux/stream_pump.h); the rest of these
  // fields are the raw pumps'.
  std::unique_ptr<StreamPump> pump;
  bool app_eof = false;  // raw: the application ended its side (or we stopped reading it)
  // The application closed its connection while kcpd was not reading it
  // (back-pressure): no longer watched; what it wrote before is still read
  // as the session takes it, then the stream ends.
  bool hung_up = false;
  // Raw: one read of the session the application did not take yet.
  ByteRing to_app;
  std::vector<uint8_t> message_to_app;  // message mode
  bool has_message_to_app = false;
};

// ---- Life cycle --------------------------------------------------------------

absl::StatusOr<std::unique_ptr<SessionActor>> SessionActor::Create(
    BackendState* state, IoThread* io, std::shared_ptr<SessionRecord> record, bool dialled) {
  std::unique_ptr<SessionActor> a(new SessionActor(state, io, record));
  const SessionConfig& config = record->config;
  record->oob->set_max_size(record->session->oob_max_size());  // 0 without FEC
  if (config.framing == Framing::kSmux) {
    MuxLinkOptions o;
    o.smux = config.smux;
    o.snappy = config.compression == Compression::kSnappy;
    o.on_oob = [port = record->oob](absl::Span<const uint8_t> d) { port->Deliver(d); };
    absl::StatusOr<std::unique_ptr<MuxLink>> link = MuxLink::Create(
        io->loop, record->session, dialled ? smux::Role::kClient : smux::Role::kServer, o, a.get());
    if (!link.ok()) return link.status();
    a->link_ = *std::move(link);
    if (dialled) {
      absl::StatusOr<uint32_t> id = a->link_->OpenStream();
      if (!id.ok()) return id.status();
      a->first_stream_ = *id;
      a->AddStream(*id, /*accepted=*/false);
    }
    return a;
  }
  if (config.message_mode()) {
    // Session::Write takes messages of up to 255 fragments of the mss,
    // which is below 255 * mtu.
    // The buffer for one waits for an application (MessageBuffer).
    a->max_message_ = 255 * static_cast<size_t>(config.transport.mtu);
  }
  a->doorbell_ = std::make_shared<RawDoorbell>(io->loop, a.get());
  transport::SessionCallbacks callbacks;
  std::shared_ptr<RawDoorbell> bell = a->doorbell_;
  callbacks.on_readable = [bell] { bell->Ring(kSessionReadable); };
  callbacks.on_writable = [bell] { bell->Ring(kSessionWritable); };
  callbacks.on_closed = [bell](absl::Status why) { bell->Gone(std::move(why)); };
  callbacks.on_oob = [port = record->oob](absl::Span<const uint8_t> d) { port->Deliver(d); };
  record->session->SetCallbacks(std::move(callbacks));
  a->first_stream_ = 0;
  a->AddStream(0, /*accepted=*/!dialled);
  return a;
}

SessionActor::SessionActor(BackendState* state, IoThread* io, std::shared_ptr<SessionRecord> record)
    : state_(state),
      io_(io),
      record_(std::move(record)),
      session_(record_->session),
      timer_(io_->loop->CreateTimer(this)) {}

SessionActor::~SessionActor() {
  record_->oob->Detach();
  if (doorbell_ != nullptr) {
    doorbell_->Detach();
    session_->SetCallbacks({});
  }
  for (auto& [id, s] : streams_) {
    if (s->watching) io_->loop->UnwatchFd(s->fd.get());
  }
  io_->loop->ReleaseTimer(timer_);
  link_.reset();
  session_->Close();
}

absl::Span<uint8_t> SessionActor::MessageBuffer() {
  std::vector<uint8_t>& buffer = io_->message_scratch;
  if (buffer.size() < max_message_ + 1) buffer.resize(max_message_ + 1);
  return absl::MakeSpan(buffer.data(), max_message_ + 1);
}

SessionActor::AppStream* SessionActor::Find(uint32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

SessionActor::AppStream& SessionActor::AddStream(uint32_t id, bool accepted) {
  StreamRecord r;
  r.id = id;
  r.accepted = accepted;
  r.create_time = absl::Now();
  auto stream = std::make_unique<AppStream>(this, id, r.counters);
  AppStream& s = *stream;
  if (link_ != nullptr) {
    s.pump = std::make_unique<StreamPump>(link_.get(), id, &s, absl::MakeSpan(io_->scratch));
  }
  streams_[id] = std::move(stream);
  std::lock_guard<std::mutex> lock(state_->mu);
  StreamRecord& stored = record_->streams[id] = std::move(r);
  if (accepted) state_->Emit(kcpp::v1::SessionEvent::STREAM_ACCEPTED, *record_, &stored, "");
  return s;
}

void SessionActor::SetState(AppStream& s, kcpp::v1::Stream::State st) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = record_->streams.find(s.id);
  if (it != record_->streams.end()) it->second.state = st;
}

absl::StatusOr<uint32_t> SessionActor::OpenStream() {
  if (link_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(record_->id == 0 ? "this session" : "the session",
                     " uses FRAMING_RAW: it carries exactly one stream; dial another session"));
  }
  if (closing_ || draining_ || finished_) {
    return absl::FailedPreconditionError("the session is closing");
  }
  absl::StatusOr<uint32_t> id = link_->OpenStream();
  if (!id.ok()) return id.status();
  AddStream(*id, /*accepted=*/false);
  return id;
}

absl::Status SessionActor::AttachOob(UniqueFd connection) {
  if (closing_ || draining_ || finished_) {
    const absl::Status closing =
        absl::NotFoundError(absl::StrCat(SessionName(record_->id), " is closing"));
    OobPort::Refuse(connection, closing);
    return closing;
  }
  return record_->oob->Attach(io_->loop, session_, std::move(connection),
                              SessionName(record_->id));
}

absl::Status SessionActor::Attach(uint32_t id, UniqueFd connection) {
  AppStream* s = Find(id);
  if (s == nullptr || closing_ || finished_) {
    return absl::NotFoundError(absl::StrCat("stream ", id, " has closed"));
  }
  if (s->fd.valid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("stream ", id, " already has an application attached"));
  }
  const int flags = ::fcntl(connection.get(), F_GETFL);
  if (flags < 0 || ::fcntl(connection.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return ErrnoStatus("fcntl(O_NONBLOCK)");
  }
  int type = 0;
  socklen_t len = sizeof(type);
  ::getsockopt(connection.get(), SOL_SOCKET, SO_TYPE, &type, &len);
  s->seqpacket = type == SOCK_SEQPACKET;
  if (max_message_ > 0) MessageBuffer();  // grown here, not on the data path
  s->fd = std::move(connection);
  if (link_ != nullptr) {
    SetState(*s, s->pump->socket_eof() || s->pump->fin_received() ? kcpp::v1::Stream::HALF_CLOSED
                                                                  : kcpp::v1::Stream::ATTACHED);
    // What arrived before the application did, and a FIN; then both ways.
    s->pump->Start(s->fd.get());
    return absl::OkStatus();
  }
  if (absl::Status w = io_->loop->WatchFd(s->fd.get(), s); !w.ok()) return w;
  s->watching = true;
  s->want_read = true;
  SetState(*s, kcpp::v1::Stream::ATTACHED);
  RawToApp(*s);  // reading the session starts now
  if (Find(id) != nullptr) UpdateInterest(*s);
  return absl::OkStatus();
}

void SessionActor::CloseStream(uint32_t id, const std::string& reason) {
  AppStream* s = Find(id);
  if (s == nullptr || finished_) return;
  if (link_ == nullptr && close_reason_.empty()) close_reason_ = reason;
  EndStream(*s, reason, /*tell_link=*/true);
}

void SessionActor::Close(const std::string& reason) {
  if (finished_ || closing_) return;
  closing_ = true;
  if (close_reason_.empty() || draining_) close_reason_ = reason;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    record_->state = kcpp::v1::Session::CLOSING;
  }
  std::vector<uint32_t> ids;
  for (const auto& [id, s] : streams_) ids.push_back(id);
  for (uint32_t id : ids) {
    AppStream* s = Find(id);
    if (s == nullptr) continue;
    // The applications get what is here already, as far as their sockets
    // take it now; then their connections close.
    if (link_ != nullptr) {
      s->pump->FlushToSocket();
    } else {
      RawToApp(*s);
    }
    if ((s = Find(id)) != nullptr) EndStream(*s, reason, /*tell_link=*/false);
  }
  if (finished_) return;
  if (link_ != nullptr) {
    link_->Close();  // FIN on every stream, flush; OnLinkClosed follows
  } else {
    RawClose();
  }
}

void SessionActor::Drain(const std::string& reason) {
  if (finished_ || closing_ || draining_) return;
  draining_ = true;
  close_reason_ = reason;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    record_->state = kcpp::v1::Session::CLOSING;
  }
  std::vector<uint32_t> ids;
  for (const auto& [id, s] : streams_) ids.push_back(id);
  for (uint32_t id : ids) {
    AppStream* s = Find(id);
    if (s == nullptr) continue;
    if (link_ != nullptr && !s->fd.valid() && !closed_by_peer_) {
      // Nobody attached, nobody will: end it (FIN to the peer).
      EndStream(*s, reason, /*tell_link=*/true);
      continue;
    }
    // (The peer closed: an application may still attach, until its token
    // expires, and get what the link holds and end-of-file.)
    if (link_ != nullptr) {
      s->pump->StopReading();  // what was read is all there is: FIN after it
      continue;
    }
    s->app_eof = true;  // no more reading: what was read is all there is
    if (s->fd.valid()) {
      SetState(*s, kcpp::v1::Stream::HALF_CLOSED);
      UpdateInterest(*s);
    }
  }
  if (link_ == nullptr) {
    RawClose();
  } else {
    MaybeFinishDrain();
  }
}

void SessionActor::MaybeFinishDrain() {
  if (!draining_ || closing_ || finished_ || link_ == nullptr || !streams_.empty()) return;
  closing_ = true;
  link_->Close();
}

void SessionActor::Abort(const std::string& reason) {
  if (finished_) return;
  closing_ = true;
  close_reason_ = reason;
  Finish(absl::CancelledError(reason));
}

void SessionActor::Finish(const absl::Status& why) {
  if (finished_) return;
  finished_ = true;
  const bool local = closing_ || draining_;
  const bool peer_dead =
      !local && (absl::IsDeadlineExceeded(why) || absl::StartsWith(why.message(), "dead link"));
  const BackendState::SessionEnd end = closed_by_peer_ ? BackendState::SessionEnd::kClosedByPeer
                                       : peer_dead     ? BackendState::SessionEnd::kPeerDead
                                                       : BackendState::SessionEnd::kClosed;
  std::string reason;
  if (local) {
    reason = close_reason_;
    if (!why.ok() && !absl::IsCancelled(why)) absl::StrAppend(&reason, " (", why.message(), ")");
  } else if (absl::IsInvalidArgument(why) || absl::IsDataLoss(why)) {
    reason = absl::StrCat("the peer broke the protocol: ", why.message());
  } else {
    reason = std::string(why.message());
  }
  // The last state of the session, for the closing event (the handle keeps
  // it after the session left its loop).
  absl::StatusOr<transport::SessionInfo> info = session_->GetInfo();
  record_->oob->Detach();  // its application reads end-of-file
  for (auto& [id, s] : streams_) {
    if (s->pump != nullptr) s->pump->Stop();
    if (s->watching) io_->loop->UnwatchFd(s->fd.get());
    s->watching = false;
  }
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (const auto& [id, s] : streams_) {
      state_->EndStream(*record_, id, absl::StrCat("its session ended: ", reason));
    }
    state_->EndSession(record_->id, end, reason, info.ok() ? &*info : nullptr);
  }
  // The connections close with the actor (a posted task: fd events of this
  // iteration may still name them).
  io_->Retire(record_->id);
}

// ---- Application side --------------------------------------------------------

void SessionActor::UpdateInterest(AppStream& s) {
  // Raw streams (a smux stream's pump sets its own).
  if (!s.fd.valid() || !s.watching || link_ != nullptr) return;
  const bool read = !s.app_eof && !closing_ && raw_to_session_.empty() && !raw_has_message_;
  const bool write = !s.to_app.empty() || s.has_message_to_app;
  if (read == s.want_read && write == s.want_write) return;
  s.want_read = read;
  s.want_write = write;
  absl::Status st = io_->loop->SetInterest(s.fd.get(), &s, read, write);
  if (!st.ok()) Log(LogLevel::kWarning, st.ToString());
}

void SessionActor::OnAppReadable(AppStream& s) {
  if (!s.fd.valid() || finished_) return;
  if (link_ != nullptr) {
    s.pump->OnSocketReadable();
    return;
  }
  if (!s.want_read) {
    // No interest in reading: this is a hang-up or an error.
    if (!HungUp(s.fd.get())) return;
    if (s.app_eof) {
      EndStream(s, "the application closed its connection", true);
      return;
    }
    // Not read because the stream was full: what the application wrote
    // before it left still goes, as room appears (without epoll, which
    // would report the hang-up again and again).
    s.hung_up = true;
    io_->loop->UnwatchFd(s.fd.get());
    s.watching = false;
    return;
  }
  RawFromApp(s);
}

void SessionActor::OnAppWritable(AppStream& s) {
  if (!s.fd.valid() || finished_) return;
  if (link_ != nullptr) {
    s.pump->OnSocketWritable();
  } else {
    RawToApp(s);
  }
}

void SessionActor::EndStream(AppStream& s, const std::string& reason, bool tell_link) {
  const uint32_t id = s.id;
  if (s.pump != nullptr) s.pump->Stop();  // no more I/O or callbacks
  if (link_ != nullptr && tell_link) link_->CloseStream(id).IgnoreError();
  if (s.watching) io_->loop->UnwatchFd(s.fd.get());
  s.watching = false;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->EndStream(*record_, id, reason);
  }
  // Destroyed (and its connection closed) after this iteration's events.
  auto it = streams_.find(id);
  std::shared_ptr<AppStream> keep(std::move(it->second));
  streams_.erase(it);
  io_->loop->Post([keep] {});
  if (link_ == nullptr) {
    RawClose();  // a raw session is its one stream
  } else {
    MaybeFinishDrain();
  }
}

// ---- smux streams: the link's events go to the stream's pump ----------------

bool SessionActor::OnStreamOpened(uint32_t id) {
  if (closing_ || draining_ || finished_) return false;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->shut_down) return false;
  }
  AddStream(id, /*accepted=*/true);
  return true;
}

size_t SessionActor::OnStreamData(uint32_t id, absl::Span<const uint8_t> data) {
  AppStream* s = Find(id);
  if (s == nullptr) return 0;          // the link holds it
  return s->pump->OnStreamData(data);  // 0 until an application attached
}

void SessionActor::OnStreamFin(uint32_t id) {
  if (AppStream* s = Find(id)) s->pump->OnStreamFin();
}

void SessionActor::OnStreamWritable(uint32_t id) {
  if (AppStream* s = Find(id)) s->pump->OnStreamWritable();
}

void SessionActor::OnStreamClosed(uint32_t id) {
  AppStream* s = Find(id);
  if (s != nullptr) EndStream(*s, "both sides finished the stream", /*tell_link=*/false);
}

void SessionActor::OnPeerClosed() {
  if (finished_ || closing_ || draining_) return;  // ending already, for its own reason
  closed_by_peer_ = true;
  Drain("closed by the peer");
}

void SessionActor::OnLinkClosed(const absl::Status& why) { Finish(why); }

// ---- raw pumps -------------------------------------------------------------------

void SessionActor::OnRawSessionEvent(uint32_t bits) {
  if (finished_) return;
  AppStream* s = Find(0);
  if ((bits & kSessionWritable) != 0) RawToSession();
  if (finished_) return;
  if ((s = Find(0)) != nullptr && (bits & (kSessionReadable | kSessionGone)) != 0) RawToApp(*s);
  if (!finished_ && (bits & kSessionGone) != 0) Finish(doorbell_->why());
}

void SessionActor::RawToApp(AppStream& s) {
  if (!s.fd.valid() || finished_) return;  // no application yet: the session keeps the bytes
  for (int i = 0; i <= kReadsPerEvent; ++i) {
    // What the application did not take last time goes first.
    if (s.has_message_to_app) {
      const ssize_t n = ::send(s.fd.get(), s.message_to_app.data(), s.message_to_app.size(),
                               MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) {
        if (WouldBlock(errno) || errno == EINTR) break;
        EndStream(s, ErrnoStatus("the application's connection failed").ToString(), true);
        return;
      }
      s.counters->received.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      s.has_message_to_app = false;
    }
    bool blocked = false;
    while (!s.to_app.empty()) {
      const absl::Span<const uint8_t> front = s.to_app.Front();
      const ssize_t n = ::send(s.fd.get(), front.data(), front.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (WouldBlock(errno)) {
          blocked = true;
          break;
        }
        EndStream(s, ErrnoStatus("the application's connection failed").ToString(), true);
        return;
      }
      s.counters->received.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      s.to_app.Consume(static_cast<size_t>(n));
    }
    if (blocked || raw_close_called_) break;
    if (i == kReadsPerEvent) {
      doorbell_->Ring(kSessionReadable);  // more may wait: later, after other work
      break;
    }
    // Then the next read of the session.
    const bool message = max_message_ > 0;
    absl::Span<uint8_t> buffer = message ? MessageBuffer() : absl::MakeSpan(io_->scratch);
    absl::StatusOr<size_t> got = session_->TryRead(buffer);
    if (!got.ok()) {
      if (!absl::IsDeadlineExceeded(got.status())) Finish(got.status());
      return;
    }
    const size_t size = *got;
    const ssize_t n = ::send(s.fd.get(), buffer.data(), size, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && !WouldBlock(errno) && errno != EINTR) {
      EndStream(s,
                errno == EMSGSIZE ? absl::StrCat("a KCP message of ", size,
                                                 " bytes is larger than the data socket can carry")
                                  : ErrnoStatus("the application's connection failed").ToString(),
                true);
      return;
    }
    const size_t sent = n < 0 ? 0 : static_cast<size_t>(n);
    s.counters->received.fetch_add(sent, std::memory_order_relaxed);
    if (message) {
      if (n < 0) {  // keep the whole message for later
        s.message_to_app.assign(buffer.begin(), buffer.begin() + size);
        s.has_message_to_app = true;
        break;
      }
    } else if (sent < size) {
      s.to_app.Append(absl::MakeConstSpan(buffer.data() + sent, size - sent));
      break;
    }
  }
  if (Find(0) != nullptr) UpdateInterest(s);
}

bool SessionActor::FlushRawToSession(absl::Status* failure) {
  while (!raw_to_session_.empty()) {
    absl::StatusOr<size_t> n = session_->TryWrite(raw_to_session_.Front());
    if (!n.ok()) {
      if (!absl::IsDeadlineExceeded(n.status())) *failure = n.status();
      return false;
    }
    raw_to_session_.Consume(*n);
    if (*n == 0) return false;
  }
  if (raw_has_message_) {
    absl::StatusOr<size_t> n = session_->TryWrite(raw_message_to_session_);
    if (!n.ok()) {
      if (!absl::IsDeadlineExceeded(n.status())) *failure = n.status();
      return false;
    }
    raw_has_message_ = false;
  }
  return true;
}

void SessionActor::RawToSession() {
  absl::Status failure;
  const bool flushed = FlushRawToSession(&failure);
  if (!failure.ok()) {
    Finish(failure);
    return;
  }
  if (flushed && closing_) {
    RawClose();
    return;
  }
  AppStream* s = Find(0);
  if (s == nullptr) return;
  if (flushed && s->hung_up) {
    RawFromApp(*s);  // the rest of what it wrote before it left
    return;
  }
  UpdateInterest(*s);
}

void SessionActor::RawFromApp(AppStream& s) {
  const bool message = max_message_ > 0;
  for (int i = 0; s.hung_up || i < kReadsPerEvent; ++i) {
    absl::Status failure;
    if (!FlushRawToSession(&failure)) {
      if (!failure.ok()) {
        Finish(failure);
      } else {
        UpdateInterest(s);  // on_writable resumes
      }
      return;
    }
    absl::Span<uint8_t> buffer = message ? MessageBuffer() : absl::MakeSpan(io_->scratch);
    // MSG_TRUNC: a SOCK_SEQPACKET message longer than the buffer reports
    // its real length (and is refused below).
    const ssize_t n = ::recv(s.fd.get(), buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (WouldBlock(errno)) return;
      EndStream(s, ErrnoStatus("the application's connection failed").ToString(), true);
      return;
    }
    if (n == 0) {  // end-of-file: raw KCP cannot carry it; stop reading
      s.app_eof = true;
      if (HungUp(s.fd.get())) {
        EndStream(s, "the application closed its connection", true);
        return;
      }
      SetState(s, kcpp::v1::Stream::HALF_CLOSED);
      UpdateInterest(s);
      return;
    }
    const size_t size = static_cast<size_t>(n);
    if (message && size > max_message_) {
      EndStream(s,
                absl::StrCat("the application sent a message of ", size,
                             " bytes; KCP messages of this session hold at most 255 fragments "
                             "(under ",
                             max_message_, " bytes)"),
                true);
      return;
    }
    // Counted as read from the application: from here on kcpd delivers it.
    s.counters->sent.fetch_add(size, std::memory_order_relaxed);
    const absl::Span<const uint8_t> data = absl::MakeConstSpan(buffer.data(), size);
    absl::StatusOr<size_t> taken = session_->TryWrite(data);
    if (!taken.ok()) {
      if (absl::IsInvalidArgument(taken.status())) {
        EndStream(s, std::string(taken.status().message()), true);
        return;
      }
      if (!absl::IsDeadlineExceeded(taken.status())) {
        Finish(taken.status());
        return;
      }
      taken = 0;
    }
    if (message) {
      if (*taken == 0) {
        raw_message_to_session_.assign(data.begin(), data.end());
        raw_has_message_ = true;
      }
    } else if (*taken < size) {
      raw_to_session_.Append(data.subspan(*taken));
    }
    if (!raw_to_session_.empty() || raw_has_message_) {
      UpdateInterest(s);  // stop reading until the session takes it (on_writable)
      return;
    }
  }
}

void SessionActor::RawClose() {
  if (raw_close_called_ || finished_ || link_ != nullptr) return;
  closing_ = true;
  if (close_reason_.empty()) close_reason_ = "the stream closed";
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    record_->state = kcpp::v1::Session::CLOSING;
  }
  // What was read from the application goes first (for up to close_linger).
  absl::Status failure;
  if (!FlushRawToSession(&failure)) {
    if (!failure.ok()) {
      Finish(failure);
      return;
    }
    if (!raw_close_waiting_) {
      raw_close_waiting_ = true;
      io_->loop->ScheduleTimer(
          timer_, io_->loop->now_ms() + std::max(1, session_->options().close_linger_ms));
    }
    return;  // RawToSession calls again; the timer gives up
  }
  raw_close_called_ = true;
  io_->loop->CancelTimer(timer_);
  session_->Close();  // flushes; on_closed -> Finish
}

void SessionActor::OnTimer(int64_t) {
  if (raw_close_called_ || finished_) return;
  raw_close_called_ = true;
  session_->Close();
}

}  // namespace kcpp::service::internal
