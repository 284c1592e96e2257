#include "kcpd/testing/fake_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/errno_status.h"
#include "base/log.h"
#include "kcpd/internal/proto_time.h"
#include "kcpd/internal/request_validation.h"
#include "kcpd/internal/resource_names.h"

namespace kcpp::service {

using kcpp::v1::SessionEvent;

namespace {

constexpr size_t kStreamBuffer = 64 << 10;
constexpr size_t kPacketBuffer = 256 << 10;  // one SOCK_SEQPACKET message

absl::Status Unavailable() { return absl::UnavailableError("kcpd is shutting down"); }

bool SamePortAnyAddress(const transport::SocketAddress& listener,
                        const transport::SocketAddress& remote) {
  const std::string any = listener.is_ipv6() ? "[::]" : "0.0.0.0";
  return listener.port() == remote.port() && listener.is_ipv6() == remote.is_ipv6() &&
         listener.ToString() == absl::StrCat(any, ":", listener.port());
}

}  // namespace

FakeBackend::FakeBackend() : random_(std::random_device{}()) {
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  pump_ = std::thread([this] { PumpLoop(); });
}

FakeBackend::~FakeBackend() { Shutdown(absl::Now()); }

void FakeBackend::SetEventSink(SessionEventSink* sink) {
  std::lock_guard<std::mutex> lock(mu_);
  sink_ = sink;
}

void FakeBackend::Wake() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
}

// ---- Protos and events ----------------------------------------------------

kcpp::v1::Listener FakeBackend::ListenerProto(const Listener& l) const {
  kcpp::v1::Listener p;
  p.set_name(internal::ListenerName(l.id));
  p.set_address(l.config.address.ToString());
  p.set_bound_address(l.bound.ToString());
  internal::SessionConfigToProto(l.config.session, p.mutable_session_options());
  p.set_accept_backlog(static_cast<uint32_t>(l.config.transport.accept_backlog));
  p.set_max_sessions(static_cast<uint32_t>(l.config.transport.max_sessions));
  internal::TimeToProto(l.create_time, p.mutable_create_time());
  p.set_sessions_accepted(l.accepted);
  uint32_t active = 0;
  for (const auto& [id, s] : sessions_) {
    if (s.listener_id == l.id) ++active;
  }
  p.set_active_sessions(active);
  return p;
}

kcpp::v1::Stream FakeBackend::StreamProto(const Session& s, const Stream& st) const {
  kcpp::v1::Stream p;
  p.set_name(internal::StreamName({s.id, st.id}));
  if (!st.app.valid()) {
    p.set_state(kcpp::v1::Stream::AWAITING_ATTACH);
  } else if (st.app_eof || st.eof_forwarded) {
    p.set_state(kcpp::v1::Stream::HALF_CLOSED);
  } else {
    p.set_state(kcpp::v1::Stream::ATTACHED);
  }
  p.set_accepted(st.accepted);
  p.set_bytes_sent(st.bytes_sent);
  p.set_bytes_received(st.bytes_received);
  internal::TimeToProto(st.create_time, p.mutable_create_time());
  return p;
}

kcpp::v1::Session FakeBackend::SessionProto(const Session& s, bool with_streams) const {
  kcpp::v1::Session p;
  p.set_name(internal::SessionName(s.id));
  if (!s.listener_id.empty()) p.set_listener(internal::ListenerName(s.listener_id));
  p.set_local_address(s.local.ToString());
  p.set_remote_address(s.remote.ToString());
  p.set_conv(s.conv);
  p.set_state(kcpp::v1::Session::ACTIVE);
  internal::SessionConfigToProto(s.config, p.mutable_options());
  uint64_t sent = s.closed_bytes_sent;
  uint64_t received = s.closed_bytes_received;
  for (const auto& [id, st] : s.streams) {
    sent += st.bytes_sent;
    received += st.bytes_received;
    if (with_streams) *p.add_streams() = StreamProto(s, st);
  }
  p.mutable_counters()->set_bytes_sent(sent);
  p.mutable_counters()->set_bytes_received(received);
  internal::TimeToProto(s.create_time, p.mutable_create_time());
  p.set_stream_count(static_cast<uint32_t>(s.streams.size()));
  return p;
}

void FakeBackend::Emit(SessionEvent::Type type, const Session& s, const Stream* st,
                       absl::string_view reason) {
  if (sink_ == nullptr) return;
  SessionEvent e;
  e.set_type(type);
  *e.mutable_session() = SessionProto(s, /*with_streams=*/false);
  if (type == SessionEvent::SESSION_CLOSED || type == SessionEvent::SESSION_CLOSED_BY_PEER ||
      type == SessionEvent::SESSION_PEER_DEAD) {
    e.mutable_session()->set_state(type == SessionEvent::SESSION_PEER_DEAD
                                       ? kcpp::v1::Session::PEER_DEAD
                                       : kcpp::v1::Session::CLOSED);
  }
  if (st != nullptr) {
    *e.mutable_stream() = StreamProto(s, *st);
    if (type == SessionEvent::STREAM_CLOSED)
      e.mutable_stream()->set_state(kcpp::v1::Stream::CLOSED);
  }
  internal::TimeToProto(absl::Now(), e.mutable_time());
  e.set_reason(std::string(reason));
  sink_->OnEvent(e);
}

FakeBackend::Session* FakeBackend::FindSession(uint64_t id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second;
}

FakeBackend::Stream* FakeBackend::Peer(const Session& s, uint32_t stream_id) {
  Session* peer = FindSession(s.peer);
  if (peer == nullptr) return nullptr;
  auto it = peer->streams.find(stream_id);
  return it == peer->streams.end() ? nullptr : &it->second;
}

FakeBackend::Stream& FakeBackend::AddStream(Session& s, uint32_t id) {
  Stream& st = s.streams[id];
  st.id = id;
  st.create_time = absl::Now();
  st.seqpacket = s.config.message_mode();
  if (Session* peer = FindSession(s.peer)) {
    Stream& twin = peer->streams[id];
    twin.id = id;
    twin.accepted = true;
    twin.create_time = st.create_time;
    twin.seqpacket = peer->config.message_mode();
    Emit(SessionEvent::STREAM_ACCEPTED, *peer, &twin, "");
  }
  return st;
}

// ---- Listeners --------------------------------------------------------------

absl::StatusOr<kcpp::v1::Listener> FakeBackend::CreateListener(absl::string_view listener_id,
                                                               const ListenerConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return Unavailable();
  if (listeners_.count(std::string(listener_id)) != 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("listener ", internal::ListenerName(listener_id), " already exists"));
  }
  transport::SocketAddress bound = config.address;
  if (bound.port() == 0) {
    const std::string host = config.address.ToString();
    const std::string ip = host.substr(0, host.rfind(':'));
    bound = *transport::SocketAddress::Parse(absl::StrCat(ip, ":", next_listener_port_++));
  }
  for (const auto& [id, l] : listeners_) {
    if (l.bound == bound) {
      return absl::AlreadyExistsError(absl::StrCat(
          "address ", bound.ToString(), " is already used by ", internal::ListenerName(id)));
    }
  }
  Listener& l = listeners_[std::string(listener_id)];
  l.id = std::string(listener_id);
  l.config = config;
  l.bound = bound;
  l.create_time = absl::Now();
  return ListenerProto(l);
}

absl::StatusOr<kcpp::v1::Listener> FakeBackend::GetListener(absl::string_view listener_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = listeners_.find(std::string(listener_id));
  if (it == listeners_.end()) {
    return internal::ListenerNotFound(listener_id);
  }
  return ListenerProto(it->second);
}

std::vector<kcpp::v1::Listener> FakeBackend::ListListeners() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<kcpp::v1::Listener> out;
  for (const auto& [id, l] : listeners_) out.push_back(ListenerProto(l));
  return out;
}

absl::Status FakeBackend::DeleteListener(absl::string_view listener_id, bool close_sessions) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return Unavailable();
  auto it = listeners_.find(std::string(listener_id));
  if (it == listeners_.end()) {
    return internal::ListenerNotFound(listener_id);
  }
  listeners_.erase(it);
  if (close_sessions) {
    std::vector<uint64_t> ids;
    for (const auto& [id, s] : sessions_) {
      if (s.listener_id == listener_id) ids.push_back(id);
    }
    for (uint64_t id : ids) {
      EndSession(id, "its listener was deleted", SessionEvent::SESSION_CLOSED, /*propagate=*/true);
    }
  }
  Wake();
  return absl::OkStatus();
}

// ---- Sessions ---------------------------------------------------------------

absl::StatusOr<SessionBackend::Dialled> FakeBackend::Dial(const transport::SocketAddress& remote,
                                                          const SessionConfig& config,
                                                          uint32_t conv) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return Unavailable();
  if (conv == 0) conv = static_cast<uint32_t>(random_());
  Session& s = sessions_[next_session_id_];
  s.id = next_session_id_++;
  s.config = config;
  s.local = *transport::SocketAddress::Parse(
      absl::StrCat(remote.is_ipv6() ? "[::1]" : "127.0.0.1", ":", next_local_port_++));
  s.remote = remote;
  s.conv = conv;
  s.create_time = absl::Now();
  s.next_stream_id = 3;  // smux: the dialling side opens odd ids from 3 (docs/protocol.md §6.2)
  totals_.set_sessions_dialed(totals_.sessions_dialed() + 1);
  Emit(SessionEvent::SESSION_DIALED, s, nullptr, "");

  for (auto& [id, l] : listeners_) {
    if (!(l.bound == remote || SamePortAnyAddress(l.bound, remote))) continue;
    uint32_t active = 0;
    for (const auto& [sid, other] : sessions_) {
      if (other.listener_id == id) ++active;
    }
    if (active >= static_cast<uint32_t>(l.config.transport.max_sessions)) break;
    Session& peer = sessions_[next_session_id_];
    peer.id = next_session_id_++;
    peer.listener_id = id;
    peer.config = l.config.session;
    peer.local = l.bound;
    peer.remote = s.local;
    peer.conv = conv;
    peer.create_time = s.create_time;
    peer.next_stream_id = 2;  // the accepting side opens even ids
    peer.peer = s.id;
    s.peer = peer.id;
    ++l.accepted;
    totals_.set_sessions_accepted(totals_.sessions_accepted() + 1);
    Emit(SessionEvent::SESSION_ACCEPTED, peer, nullptr, "");
    break;
  }

  // (std::map nodes do not move: `s` is still valid.)
  const uint32_t first = s.config.framing == Framing::kRaw ? 0 : s.next_stream_id;
  if (s.config.framing == Framing::kSmux) s.next_stream_id += 2;
  Stream& st = AddStream(s, first);
  Dialled out;
  out.session = SessionProto(s, false);
  out.stream = StreamProto(s, st);
  return out;
}

absl::StatusOr<kcpp::v1::Stream> FakeBackend::OpenStream(uint64_t session_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return Unavailable();
  Session* s = FindSession(session_id);
  if (s == nullptr) {
    return internal::SessionNotFound(session_id);
  }
  if (s->config.framing != Framing::kSmux) {
    return absl::FailedPreconditionError(
        absl::StrCat(internal::SessionName(session_id),
                     " uses FRAMING_RAW: it carries exactly one stream; dial another session"));
  }
  if (s->next_stream_id > 0xFFFFFFF0u) {
    return absl::ResourceExhaustedError("this session has used up smux's stream ids");
  }
  const uint32_t id = s->next_stream_id;
  s->next_stream_id += 2;
  Stream& st = AddStream(*s, id);
  return StreamProto(*s, st);
}

absl::StatusOr<kcpp::v1::Session> FakeBackend::GetSession(uint64_t session_id, bool with_streams) {
  std::lock_guard<std::mutex> lock(mu_);
  Session* s = FindSession(session_id);
  if (s == nullptr) {
    return internal::SessionNotFound(session_id);
  }
  return SessionProto(*s, with_streams);
}

SessionPage FakeBackend::ListSessions(uint64_t after_id, int limit, absl::string_view listener_id,
                                      bool with_streams) {
  std::lock_guard<std::mutex> lock(mu_);
  SessionPage page;
  for (auto it = sessions_.upper_bound(after_id); it != sessions_.end(); ++it) {
    if (!listener_id.empty() && it->second.listener_id != listener_id) continue;
    if (static_cast<int>(page.sessions.size()) == limit) {
      page.more = true;
      break;
    }
    page.sessions.push_back(SessionProto(it->second, with_streams));
  }
  return page;
}

absl::StatusOr<kcpp::v1::Session> FakeBackend::TuneSession(uint64_t session_id,
                                                           const SessionTuning& tuning) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return Unavailable();
  Session* s = FindSession(session_id);
  if (s == nullptr) {
    return internal::SessionNotFound(session_id);
  }
  if (tuning.dscp.has_value() && !s->listener_id.empty()) {
    return absl::FailedPreconditionError(
        "dscp cannot change on an accepted session: it shares its listener's socket");
  }
  ApplyTuning(tuning, s->config.transport);
  return SessionProto(*s, false);
}

absl::Status FakeBackend::CloseSession(uint64_t session_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return Unavailable();
  if (FindSession(session_id) == nullptr) {
    return internal::SessionNotFound(session_id);
  }
  EndSession(session_id, "closed by CloseSession", SessionEvent::SESSION_CLOSED,
             /*propagate=*/true);
  Wake();
  return absl::OkStatus();
}

absl::Status FakeBackend::CloseStream(StreamRef ref, absl::string_view reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return Unavailable();
  Session* s = FindSession(ref.session_id);
  if (s == nullptr || s->streams.count(ref.stream_id) == 0) {
    return internal::StreamNotFound(ref);
  }
  EndStream(*s, ref.stream_id, reason, /*propagate=*/true);
  Wake();
  return absl::OkStatus();
}

void FakeBackend::EndStream(Session& s, uint32_t id, absl::string_view reason, bool propagate) {
  auto it = s.streams.find(id);
  if (it == s.streams.end()) return;
  Stream& st = it->second;
  Session* peer_session = FindSession(s.peer);
  Stream* peer = Peer(s, id);
  if (propagate && peer != nullptr && peer->app.valid()) {
    // What this side's application already wrote still reaches the peer's
    // application (best effort: what fits its socket now), then end-of-file.
    while (st.buffered > 0) {
      const ssize_t n = ::send(peer->app.get(), st.buffer.data() + st.offset, st.buffered,
                               MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n <= 0) break;
      st.offset += static_cast<size_t>(n);
      st.buffered -= static_cast<size_t>(n);
      peer->bytes_received += static_cast<uint64_t>(n);
    }
    ::shutdown(peer->app.get(), SHUT_WR);
  }
  Emit(SessionEvent::STREAM_CLOSED, s, &st, reason);
  s.closed_bytes_sent += st.bytes_sent;
  s.closed_bytes_received += st.bytes_received;
  totals_.mutable_counters()->set_bytes_sent(totals_.counters().bytes_sent() + st.bytes_sent);
  totals_.mutable_counters()->set_bytes_received(totals_.counters().bytes_received() +
                                                 st.bytes_received);
  s.streams.erase(it);  // closes the application's connection
  const uint64_t session_id = s.id;
  const bool raw = s.config.framing == Framing::kRaw;
  if (propagate && peer_session != nullptr && peer != nullptr) {
    EndStream(*peer_session, id, "the peer closed the stream", /*propagate=*/false);
  }
  // A raw session is its one stream (unless the session is ending anyway).
  if (raw && !s.ending) {
    EndSession(session_id, reason,
               propagate ? SessionEvent::SESSION_CLOSED : SessionEvent::SESSION_PEER_DEAD,
               /*propagate=*/propagate);
  }
}

void FakeBackend::EndSession(uint64_t id, absl::string_view reason, SessionEvent::Type end,
                             bool propagate) {
  Session* s = FindSession(id);
  if (s == nullptr) return;
  // End the streams first (each with its STREAM_CLOSED); `ending` keeps the
  // raw-session rule in EndStream from recursing back here.
  s->ending = true;
  std::vector<uint32_t> ids;
  for (const auto& [sid, st] : s->streams) ids.push_back(sid);
  for (uint32_t sid : ids) EndStream(*s, sid, reason, propagate);
  Emit(end, *s, nullptr, reason);
  totals_.set_sessions_closed(totals_.sessions_closed() + 1);
  if (end == SessionEvent::SESSION_PEER_DEAD) totals_.set_peers_dead(totals_.peers_dead() + 1);
  const uint64_t peer = s->peer;
  sessions_.erase(id);
  if (Session* p = FindSession(peer)) p->peer = 0;
  if (Session* p = FindSession(peer); propagate && p != nullptr) {
    // As the transport backend: a smux peer hears of the close (kcpd's
    // close notice), a raw one finds its peer dead (reported at once here).
    if (p->config.framing == Framing::kSmux) {
      EndSession(peer, "closed by the peer", SessionEvent::SESSION_CLOSED_BY_PEER,
                 /*propagate=*/false);
    } else {
      EndSession(peer, "the peer session closed (fake backend: reported at once)",
                 SessionEvent::SESSION_PEER_DEAD, /*propagate=*/false);
    }
  }
}

// ---- Data plane -------------------------------------------------------------

absl::Status FakeBackend::AttachStream(StreamRef ref, UniqueFd connection) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return Unavailable();
  Session* s = FindSession(ref.session_id);
  if (s == nullptr || s->streams.count(ref.stream_id) == 0) {
    return internal::StreamNotFound(ref);
  }
  Stream& st = s->streams[ref.stream_id];
  if (st.app.valid()) {
    return absl::FailedPreconditionError(
        absl::StrCat(internal::StreamName(ref), " already has an application attached"));
  }
  const int flags = ::fcntl(connection.get(), F_GETFL);
  if (flags < 0 || ::fcntl(connection.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return ErrnoStatus("fcntl(O_NONBLOCK)");
  }
  st.app = std::move(connection);
  st.buffer.resize(st.seqpacket ? kPacketBuffer : kStreamBuffer);
  Wake();
  return absl::OkStatus();
}

void FakeBackend::PumpStream(Session& s, Stream& st) {
  const uint64_t session_id = s.id;
  const uint32_t stream_id = st.id;
  // Read from this side's application while there is room.
  if (st.app.valid() && !st.app_eof && st.buffered == 0) {
    const ssize_t n = ::recv(st.app.get(), st.buffer.data(), st.buffer.size(), MSG_DONTWAIT);
    if (n > 0) {
      st.offset = 0;
      st.buffered = static_cast<size_t>(n);
      st.bytes_sent += static_cast<uint64_t>(n);
    } else if (n == 0) {
      st.app_eof = true;
    } else if (errno != EAGAIN && errno != EINTR) {
      EndStream(s, stream_id, "the application's connection failed", /*propagate=*/true);
      return;
    }
  }
  Stream* peer = Peer(s, stream_id);
  if (peer != nullptr && peer->app.valid() && st.buffered > 0) {
    const ssize_t n = ::send(peer->app.get(), st.buffer.data() + st.offset, st.buffered,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      st.offset += static_cast<size_t>(n);
      st.buffered -= static_cast<size_t>(n);
      peer->bytes_received += static_cast<uint64_t>(n);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      Session* ps = FindSession(s.peer);
      EndStream(*ps, stream_id, "the application's connection failed", /*propagate=*/true);
      return;
    }
  }
  if (st.app_eof && st.buffered == 0 && !st.eof_forwarded) {
    if (peer == nullptr) {
      // Nobody at the other end will ever read: the stream is over.
      EndStream(s, stream_id, "the application closed its connection", /*propagate=*/true);
      return;
    }
    if (peer->app.valid()) {
      ::shutdown(peer->app.get(), SHUT_WR);
      st.eof_forwarded = true;
    }
  }
  if (st.eof_forwarded && peer != nullptr && peer->eof_forwarded) {
    Session* s2 = FindSession(session_id);
    if (s2 != nullptr) {
      EndStream(*s2, stream_id, "both applications closed the stream", /*propagate=*/true);
    }
  }
}

void FakeBackend::PumpLoop() {
  std::vector<pollfd> fds;
  std::vector<StreamRef> refs;
  while (true) {
    fds.clear();
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shut_down_) return;
      for (auto& [id, s] : sessions_) {
        for (auto& [sid, st] : s.streams) {
          if (!st.app.valid()) continue;
          short events = 0;
          if (!st.app_eof && st.buffered == 0) events |= POLLIN;
          const Stream* peer = Peer(s, sid);
          if (peer != nullptr && peer->buffered > 0) events |= POLLOUT;
          // Nothing to wait for on this side (an fd that hung up would
          // report POLLHUP forever): leave it out until that changes.
          if (events != 0) fds.push_back({st.app.get(), events, 0});
        }
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
      Log(LogLevel::kError, ErrnoStatus("fake backend: poll").ToString());
      return;
    }
    if (fds[0].revents != 0) {
      uint64_t count;
      (void)!::read(wake_fd_.get(), &count, sizeof(count));
    }
    // Every attached stream makes what progress it can (non-blocking I/O);
    // this also forwards EOFs and data that waited for a peer to attach.
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return;
    refs.clear();
    for (const auto& [id, s] : sessions_) {
      for (const auto& [sid, st] : s.streams) {
        if (st.app.valid()) refs.push_back({id, sid});
      }
    }
    for (const StreamRef& ref : refs) {
      Session* s = FindSession(ref.session_id);
      if (s == nullptr || s->streams.count(ref.stream_id) == 0) continue;
      PumpStream(*s, s->streams[ref.stream_id]);
    }
  }
}

// ---- Process ----------------------------------------------------------------

kcpp::v1::Stats FakeBackend::GetStats() {
  std::lock_guard<std::mutex> lock(mu_);
  kcpp::v1::Stats stats = totals_;
  uint32_t streams = 0;
  for (const auto& [id, s] : sessions_) {
    streams += static_cast<uint32_t>(s.streams.size());
    uint64_t sent = 0, received = 0;
    for (const auto& [sid, st] : s.streams) {
      sent += st.bytes_sent;
      received += st.bytes_received;
    }
    stats.mutable_counters()->set_bytes_sent(stats.counters().bytes_sent() + sent);
    stats.mutable_counters()->set_bytes_received(stats.counters().bytes_received() + received);
  }
  stats.set_active_sessions(static_cast<uint32_t>(sessions_.size()));
  stats.set_active_streams(streams);
  stats.set_listeners(static_cast<uint32_t>(listeners_.size()));
  stats.set_event_loops(1);
  return stats;
}

void FakeBackend::Shutdown(absl::Time /*deadline*/) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  Wake();
  if (pump_.joinable()) pump_.join();
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.clear();
  while (!sessions_.empty()) {
    EndSession(sessions_.begin()->first, "kcpd is shutting down", SessionEvent::SESSION_CLOSED,
               /*propagate=*/false);
  }
}

}  // namespace kcpp::service
