#include "kcpd/transport_backend.h"

#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/log.h"
#include "kcpd/internal/resource_names.h"

namespace kcpp::service {

using internal::BackendState;
using internal::IoThread;
using internal::SessionActor;
using internal::SessionRecord;
using kcpp::v1::SessionEvent;

namespace {

absl::Status ShuttingDown() { return absl::UnavailableError("kcpd is shutting down"); }

absl::Status NoSession(uint64_t id) { return internal::SessionNotFound(id); }

bool IsUnspecified(const transport::SocketAddress& a) {
  return absl::StartsWith(a.ToString(), "0.0.0.0:") || absl::StartsWith(a.ToString(), "[::]:");
}

// Two listeners on the same port and overlapping addresses: SO_REUSEPORT
// would let both bind and split the peers between them.
bool Overlaps(const transport::SocketAddress& a, const transport::SocketAddress& b) {
  if (a.port() == 0 || b.port() == 0 || a.port() != b.port()) return false;
  return a == b || IsUnspecified(a) || IsUnspecified(b);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TransportBackend>> TransportBackend::Create(
    const TransportBackendOptions& options) {
  if (options.loops < 0 || options.io_threads < 0) {
    return absl::InvalidArgumentError("loops and io_threads must be >= 0");
  }
  transport::EngineOptions eo;
  eo.loops = options.loops;
  eo.busy_poll_us = options.busy_poll_us;
  eo.name = "kcpd";
  absl::StatusOr<std::unique_ptr<transport::Engine>> engine = transport::Engine::Create(eo);
  if (!engine.ok()) return engine.status();
  // Data planes on the engine's loops unless kcpd was given threads of its
  // own: a session's callbacks and its pumps then share a thread, which
  // saves two thread hand-offs per burst in each direction (bench/README.md
  // "sidecar").
  const bool colocated = options.io_threads == 0;
  const int n = colocated ? (*engine)->loop_count() : options.io_threads;
  std::vector<std::unique_ptr<IoThread>> io;
  for (int i = 0; i < n; ++i) {
    auto t = std::make_unique<IoThread>();
    if (colocated) {
      t->loop = &(*engine)->event_loop(i);
    } else {
      absl::StatusOr<std::unique_ptr<transport::EventLoop>> loop =
          transport::EventLoop::Create(absl::StrCat("kcpd-io-", i));
      if (!loop.ok()) return loop.status();
      t->owned_loop = *std::move(loop);
      t->loop = t->owned_loop.get();
      t->loop->Start();
    }
    io.push_back(std::move(t));
  }
  return std::unique_ptr<TransportBackend>(new TransportBackend(*std::move(engine), std::move(io)));
}

TransportBackend::TransportBackend(std::unique_ptr<transport::Engine> engine,
                                   std::vector<std::unique_ptr<IoThread>> io)
    : engine_(std::move(engine)), io_(std::move(io)) {}

TransportBackend::~TransportBackend() { Shutdown(absl::Now()); }

void TransportBackend::SetEventSink(SessionEventSink* sink) {
  std::lock_guard<std::mutex> lock(state_.mu);
  state_.sink = sink;
}

int TransportBackend::IoFor(const transport::Session& session) {
  // On the engine's loops (no loop of kcpd's own): the session's own loop.
  if (io_.front()->owned_loop == nullptr) return session.loop_index();
  return static_cast<int>(next_io_.fetch_add(1, std::memory_order_relaxed) % io_.size());
}

void TransportBackend::PostTo(int io, absl::AnyInvocable<void()> fn) {
  std::shared_lock<std::shared_mutex> running(io_mu_);
  if (!stopped_) io_[io]->loop->Post(std::move(fn));
}

void TransportBackend::RunOn(int io, absl::AnyInvocable<void()> fn) {
  std::shared_lock<std::shared_mutex> running(io_mu_);
  if (stopped_) return;
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  io_[io]->loop->Post([&] {
    fn();
    std::lock_guard<std::mutex> l(m);
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> l(m);
  cv.wait(l, [&] { return done; });
}

absl::Status TransportBackend::StartSession(IoThread& io, std::shared_ptr<SessionRecord> record,
                                            bool dialled) {
  absl::StatusOr<std::unique_ptr<SessionActor>> actor =
      SessionActor::Create(&state_, &io, record, dialled);
  if (!actor.ok()) {
    std::lock_guard<std::mutex> lock(state_.mu);
    state_.EndSession(record->id, BackendState::SessionEnd::kClosed,
                      absl::StrCat("could not start the session: ", actor.status().message()),
                      nullptr);
    return actor.status();
  }
  io.actors[record->id] = *std::move(actor);
  return absl::OkStatus();
}

kcpp::v1::Session TransportBackend::Describe(const std::shared_ptr<SessionRecord>& record,
                                             bool with_streams) {
  // Taken without the lock: it runs on the session's transport loop.
  absl::StatusOr<transport::SessionInfo> info = record->session->GetInfo();
  std::lock_guard<std::mutex> lock(state_.mu);
  return state_.SessionProto(*record, with_streams, info.ok() ? &*info : nullptr);
}

void TransportBackend::PostClose(const std::shared_ptr<SessionRecord>& record, std::string reason) {
  IoThread* io = io_[record->io].get();
  const uint64_t id = record->id;
  PostTo(record->io, [io, id, reason = std::move(reason)] {
    auto it = io->actors.find(id);
    if (it != io->actors.end()) it->second->Close(reason);
  });
}

// ---- Listeners ------------------------------------------------------------------

absl::Status TransportBackend::CheckListenerFree(const std::string& id,
                                                 const transport::SocketAddress& address) {
  if (state_.shut_down) return ShuttingDown();
  if (state_.listeners.count(id) != 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("listener ", internal::ListenerName(id), " already exists"));
  }
  for (const auto& [other_id, other] : state_.listeners) {
    if (Overlaps(other.bound, address)) {
      return absl::AlreadyExistsError(absl::StrCat("address ", address.ToString(), " overlaps ",
                                                   other.bound.ToString(), " of ",
                                                   internal::ListenerName(other_id)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<kcpp::v1::Listener> TransportBackend::CreateListener(absl::string_view listener_id,
                                                                    const ListenerConfig& config) {
  const std::string id(listener_id);
  {
    std::lock_guard<std::mutex> lock(state_.mu);
    if (absl::Status free = CheckListenerFree(id, config.address); !free.ok()) return free;
  }
  transport::ListenerOptions lo = config.transport;
  lo.session = config.session.transport;
  // Without the lock: Listen waits for every loop, and the loops take it.
  absl::StatusOr<std::unique_ptr<transport::Listener>> l =
      engine_->Listen(config.address.ToString(), lo);
  if (!l.ok()) {
    const absl::Status& s = l.status();
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(absl::StrCat("address ", config.address.ToString(),
                                                   " is in use by another program (", s.message(),
                                                   ")"));
    }
    if (absl::StrContains(s.message(), std::strerror(EADDRNOTAVAIL))) {
      return absl::InvalidArgumentError(absl::StrCat("listener.address ", config.address.ToString(),
                                                     " is not an address of this host (",
                                                     s.message(), ")"));
    }
    if (absl::IsPermissionDenied(s)) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot bind ", config.address.ToString(), " (", s.message(),
                       "): ports below 1024 need CAP_NET_BIND_SERVICE"));
    }
    return s;
  }
  std::lock_guard<std::mutex> lock(state_.mu);
  // A concurrent CreateListener (or Shutdown) may have come first.
  if (absl::Status free = CheckListenerFree(id, config.address); !free.ok()) {
    (*l)->Close(/*close_sessions=*/true);  // does not wait: it posts to the loops
    return free;
  }
  internal::ListenerRecord& r = state_.listeners[id];
  r.id = id;
  r.config = config;
  r.bound = (*l)->local_address();
  r.create_time = absl::Now();
  r.listener = *std::move(l);
  // Runs on a transport loop thread (or here, for sessions that waited):
  // it only posts to the session's I/O thread, carrying what it needs.
  r.listener->SetAcceptCallback(
      [this, id, session_config = config.session](std::unique_ptr<transport::Session> s) {
        std::shared_ptr<transport::Session> shared(std::move(s));
        const int io = IoFor(*shared);
        PostTo(io, [this, id, session_config, shared, io] {
          auto record = std::make_shared<SessionRecord>();
          record->listener_id = id;
          record->config = session_config;
          record->local = shared->local_address();
          record->remote = shared->remote_address();
          record->conv = shared->conv();
          record->create_time = absl::Now();
          record->session = shared;
          record->io = io;
          {
            std::lock_guard<std::mutex> lock(state_.mu);
            if (state_.shut_down) return;  // the session closes with `shared`
            record->id = state_.next_session_id++;
            state_.sessions[record->id] = record;
            auto it = state_.listeners.find(id);
            if (it != state_.listeners.end()) ++it->second.accepted;
            ++state_.sessions_accepted;
            state_.Emit(SessionEvent::SESSION_ACCEPTED, *record, nullptr, "");
          }
          StartSession(*io_[io], record, /*dialled=*/false).IgnoreError();
        });
      });
  return state_.ListenerProto(r);
}

absl::StatusOr<kcpp::v1::Listener> TransportBackend::GetListener(absl::string_view listener_id) {
  std::lock_guard<std::mutex> lock(state_.mu);
  auto it = state_.listeners.find(std::string(listener_id));
  if (it == state_.listeners.end()) {
    return internal::ListenerNotFound(listener_id);
  }
  return state_.ListenerProto(it->second);
}

std::vector<kcpp::v1::Listener> TransportBackend::ListListeners() {
  std::lock_guard<std::mutex> lock(state_.mu);
  std::vector<kcpp::v1::Listener> out;
  for (const auto& [id, l] : state_.listeners) out.push_back(state_.ListenerProto(l));
  return out;
}

absl::Status TransportBackend::DeleteListener(absl::string_view listener_id, bool close_sessions) {
  std::unique_ptr<transport::Listener> listener;
  std::vector<std::shared_ptr<SessionRecord>> to_close;
  {
    std::lock_guard<std::mutex> lock(state_.mu);
    if (state_.shut_down) return ShuttingDown();
    auto it = state_.listeners.find(std::string(listener_id));
    if (it == state_.listeners.end()) {
      return internal::ListenerNotFound(listener_id);
    }
    listener = std::move(it->second.listener);
    state_.listeners.erase(it);
    if (close_sessions) {
      for (const auto& [id, s] : state_.sessions) {
        if (s->listener_id == listener_id) to_close.push_back(s);
      }
    }
  }
  listener->Close(/*close_sessions=*/false);  // sessions end through their actors
  listener.reset();
  for (const auto& s : to_close) PostClose(s, "its listener was deleted");
  return absl::OkStatus();
}

// ---- Sessions -------------------------------------------------------------------

absl::StatusOr<SessionBackend::Dialled> TransportBackend::Dial(
    const transport::SocketAddress& remote, const SessionConfig& config, uint32_t conv) {
  {
    std::lock_guard<std::mutex> lock(state_.mu);
    if (state_.shut_down) return ShuttingDown();
  }
  absl::StatusOr<std::unique_ptr<transport::Session>> s =
      engine_->Dial(remote.ToString(), config.transport, conv);
  if (!s.ok()) {
    if (absl::IsInvalidArgument(s.status())) return s.status();
    return absl::UnavailableError(
        absl::StrCat("could not dial ", remote.ToString(), ": ", s.status().message()));
  }
  auto record = std::make_shared<SessionRecord>();
  record->config = config;
  record->session = std::shared_ptr<transport::Session>(*std::move(s));
  record->local = record->session->local_address();
  record->remote = remote;
  record->conv = record->session->conv();
  record->create_time = absl::Now();
  record->io = IoFor(*record->session);
  absl::Status status = ShuttingDown();
  uint32_t first_stream = 0;
  RunOn(record->io, [&] {
    {
      std::lock_guard<std::mutex> lock(state_.mu);
      if (state_.shut_down) return;
      record->id = state_.next_session_id++;
      state_.sessions[record->id] = record;
      ++state_.sessions_dialed;
      state_.Emit(SessionEvent::SESSION_DIALED, *record, nullptr, "");
    }
    IoThread& io = *io_[record->io];
    status = StartSession(io, record, /*dialled=*/true);
    if (status.ok()) first_stream = io.actors[record->id]->first_stream();
  });
  if (!status.ok()) return status;
  Dialled d;
  d.session = Describe(record, /*with_streams=*/false);
  std::lock_guard<std::mutex> lock(state_.mu);
  auto it = record->streams.find(first_stream);
  if (it == record->streams.end()) {
    return absl::UnavailableError("the session closed at once");
  }
  d.stream = BackendState::StreamProto(*record, it->second);
  return d;
}

absl::StatusOr<kcpp::v1::Stream> TransportBackend::OpenStream(uint64_t session_id) {
  std::shared_ptr<SessionRecord> record;
  {
    std::lock_guard<std::mutex> lock(state_.mu);
    if (state_.shut_down) return ShuttingDown();
    record = state_.FindSession(session_id);
    if (record == nullptr) return NoSession(session_id);
    if (record->config.framing != Framing::kSmux) {
      return absl::FailedPreconditionError(
          absl::StrCat(internal::SessionName(session_id),
                       " uses FRAMING_RAW: it carries exactly one stream; dial another session"));
    }
  }
  absl::StatusOr<uint32_t> id = NoSession(session_id);
  RunOn(record->io, [&] {
    IoThread& io = *io_[record->io];
    auto it = io.actors.find(session_id);
    if (it != io.actors.end()) id = it->second->OpenStream();
  });
  if (!id.ok()) return id.status();
  std::lock_guard<std::mutex> lock(state_.mu);
  auto it = record->streams.find(*id);
  if (it == record->streams.end()) return absl::UnavailableError("the stream closed at once");
  return BackendState::StreamProto(*record, it->second);
}

absl::StatusOr<kcpp::v1::Session> TransportBackend::GetSession(uint64_t session_id,
                                                               bool with_streams) {
  std::shared_ptr<SessionRecord> record;
  {
    std::lock_guard<std::mutex> lock(state_.mu);
    record = state_.FindSession(session_id);
    if (record == nullptr) return NoSession(session_id);
  }
  return Describe(record, with_streams);
}

SessionPage TransportBackend::ListSessions(uint64_t after_id, int limit,
                                           absl::string_view listener_id, bool with_streams) {
  std::vector<std::shared_ptr<SessionRecord>> records;
  SessionPage page;
  {
    std::lock_guard<std::mutex> lock(state_.mu);
    for (auto it = state_.sessions.upper_bound(after_id); it != state_.sessions.end(); ++it) {
      if (!listener_id.empty() && it->second->listener_id != listener_id) continue;
      if (static_cast<int>(records.size()) == limit) {
        page.more = true;
        break;
      }
      records.push_back(it->second);
    }
  }
  for (const auto& r : records) page.sessions.push_back(Describe(r, with_streams));
  return page;
}

absl::StatusOr<kcpp::v1::Session> TransportBackend::TuneSession(uint64_t session_id,
                                                                const SessionTuning& tuning) {
  std::shared_ptr<SessionRecord> record;
  {
    std::lock_guard<std::mutex> lock(state_.mu);
    if (state_.shut_down) return ShuttingDown();
    record = state_.FindSession(session_id);
    if (record == nullptr) return NoSession(session_id);
    if (tuning.dscp.has_value() && !record->listener_id.empty()) {
      return absl::FailedPreconditionError(
          "dscp cannot change on an accepted session: it shares its listener's socket");
    }
  }
  absl::Status s = record->session->Tune(tuning);
  if (!s.ok()) {
    if (absl::IsUnavailable(s)) return NoSession(session_id);
    return s;
  }
  {
    std::lock_guard<std::mutex> lock(state_.mu);
    ApplyTuning(tuning, record->config.transport);
  }
  return Describe(record, /*with_streams=*/false);
}

absl::Status TransportBackend::CloseSession(uint64_t session_id) {
  std::shared_ptr<SessionRecord> record;
  {
    std::lock_guard<std::mutex> lock(state_.mu);
    if (state_.shut_down) return ShuttingDown();
    record = state_.FindSession(session_id);
    if (record == nullptr) return NoSession(session_id);
  }
  PostClose(record, "closed by CloseSession");
  return absl::OkStatus();
}

absl::Status TransportBackend::CloseStream(StreamRef ref, absl::string_view reason) {
  std::shared_ptr<SessionRecord> record;
  {
    std::lock_guard<std::mutex> lock(state_.mu);
    if (state_.shut_down) return ShuttingDown();
    record = state_.FindSession(ref.session_id);
    if (record == nullptr || record->streams.count(ref.stream_id) == 0) {
      return internal::StreamNotFound(ref);
    }
  }
  IoThread* io = io_[record->io].get();
  PostTo(record->io, [io, ref, reason = std::string(reason)] {
    auto it = io->actors.find(ref.session_id);
    if (it != io->actors.end()) it->second->CloseStream(ref.stream_id, reason);
  });
  return absl::OkStatus();
}

absl::Status TransportBackend::AttachStream(StreamRef ref, UniqueFd connection) {
  std::shared_ptr<SessionRecord> record;
  {
    std::lock_guard<std::mutex> lock(state_.mu);
    if (state_.shut_down) return ShuttingDown();
    record = state_.FindSession(ref.session_id);
    if (record == nullptr || record->streams.count(ref.stream_id) == 0) {
      return internal::StreamNotFound(ref);
    }
  }
  absl::Status status = internal::StreamNotFound(ref);
  RunOn(record->io, [&] {
    IoThread& io = *io_[record->io];
    auto it = io.actors.find(ref.session_id);
    if (it != io.actors.end()) status = it->second->Attach(ref.stream_id, std::move(connection));
  });
  return status;
}

absl::Status TransportBackend::CheckOobAttachable(uint64_t session_id) {
  std::lock_guard<std::mutex> lock(state_.mu);
  if (state_.shut_down) return ShuttingDown();
  std::shared_ptr<SessionRecord> record = state_.FindSession(session_id);
  if (record == nullptr) return NoSession(session_id);
  const transport::SessionOptions& t = record->config.transport;
  if (t.data_shards <= 0 || t.parity_shards <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        internal::SessionName(session_id),
        " has no FEC: OOB datagrams need data_shards and parity_shards > 0 on both ends, as in "
        "kcp-go (which sends and accepts OOB only with FEC on); dial or listen with FEC"));
  }
  if (record->oob->attached()) {
    return absl::AlreadyExistsError(
        absl::StrCat(internal::SessionName(session_id),
                     " already has an application attached to its OOB datagrams (at most one; "
                     "it detaches by closing its connection)"));
  }
  return absl::OkStatus();
}

absl::Status TransportBackend::AttachOob(uint64_t session_id, UniqueFd connection) {
  // The application waits for its answer: OK from the port once attached,
  // ERR from here or the actor otherwise.
  if (absl::Status s = CheckOobAttachable(session_id); !s.ok()) {
    internal::OobPort::Refuse(connection, s);
    return s;
  }
  std::shared_ptr<SessionRecord> record;
  {
    std::lock_guard<std::mutex> lock(state_.mu);
    record = state_.FindSession(session_id);
  }
  absl::Status status = NoSession(session_id);
  if (record != nullptr) {
    RunOn(record->io, [&] {
      IoThread& io = *io_[record->io];
      auto it = io.actors.find(session_id);
      if (it != io.actors.end()) status = it->second->AttachOob(std::move(connection));
    });
  }
  if (connection.valid()) internal::OobPort::Refuse(connection, status);  // never reached an actor
  return status;
}

// ---- Process --------------------------------------------------------------------

kcpp::v1::Stats TransportBackend::GetStats() {
  kcpp::v1::Stats stats;
  const transport::EngineStats e =
      engine_ != nullptr ? engine_->GetStats() : transport::EngineStats{};
  internal::CountersToProto(e.counters, stats.mutable_counters());
  std::lock_guard<std::mutex> lock(state_.mu);
  uint64_t sent = state_.gone_bytes_sent;
  uint64_t received = state_.gone_bytes_received;
  uint32_t streams = 0;
  for (const auto& [id, s] : state_.sessions) {
    sent += s->gone_bytes_sent;
    received += s->gone_bytes_received;
    for (const auto& [sid, st] : s->streams) {
      sent += st.counters->sent.load(std::memory_order_relaxed);
      received += st.counters->received.load(std::memory_order_relaxed);
    }
    streams += static_cast<uint32_t>(s->streams.size());
  }
  stats.mutable_counters()->set_bytes_sent(sent);
  stats.mutable_counters()->set_bytes_received(received);
  internal::OobPort::Counts oob = state_.gone_oob;
  for (const auto& [id, s] : state_.sessions) oob += s->oob->counts();
  internal::OobCountsToProto(oob, stats.mutable_oob());
  stats.set_active_sessions(static_cast<uint32_t>(state_.sessions.size()));
  stats.set_active_streams(streams);
  stats.set_listeners(static_cast<uint32_t>(state_.listeners.size()));
  stats.set_sessions_dialed(state_.sessions_dialed);
  stats.set_sessions_accepted(state_.sessions_accepted);
  stats.set_sessions_closed(state_.sessions_closed);
  stats.set_peers_dead(state_.peers_dead);
  stats.set_event_loops(e.loops);
  stats.set_busy_polls(e.busy_polls);
  stats.set_busy_poll_hits(e.busy_poll_hits);
  stats.set_pool_bytes(e.pool_bytes);
  stats.set_pool_allocations(e.pool_allocations);
  stats.set_queue_chunk_allocations(e.queue_chunk_allocations);
  return stats;
}

void TransportBackend::Shutdown(absl::Time deadline) {
  std::map<std::string, internal::ListenerRecord> listeners;
  {
    std::lock_guard<std::mutex> lock(state_.mu);
    if (state_.shut_down) return;
    state_.shut_down = true;
    listeners.swap(state_.listeners);
  }
  for (auto& [id, l] : listeners) l.listener->Close(/*close_sessions=*/false);
  listeners.clear();
  // Every session finishes its streams (FIN after what was read from the
  // applications), flushes and closes...
  for (size_t i = 0; i < io_.size(); ++i) {
    RunOn(static_cast<int>(i), [io = io_[i].get()] {
      for (auto& [id, actor] : io->actors) actor->Drain();
    });
  }
  // ...until it is gone or the deadline passes.
  size_t left;
  {
    std::unique_lock<std::mutex> lock(state_.mu);
    state_.session_ended.wait_until(lock, absl::ToChronoTime(deadline),
                                    [this] { return state_.sessions.empty(); });
    left = state_.sessions.size();
  }
  if (left > 0) {
    Log(LogLevel::kWarning,
                  absl::StrCat(left,
                               " session(s) still had unacknowledged data or open streams "
                               "at the shutdown deadline; dropping them"));
  }
  for (size_t i = 0; i < io_.size(); ++i) {
    RunOn(static_cast<int>(i), [io = io_[i].get()] {
      for (auto& [id, actor] : io->actors) {
        actor->Abort("kcpd is shutting down (the shutdown timeout passed)");
      }
    });
  }
  // No event after this: the actors are gone, then the transport (and the
  // loops the actors ran on, if they were its), then kcpd's own threads.
  for (size_t i = 0; i < io_.size(); ++i) {
    RunOn(static_cast<int>(i), [io = io_[i].get()] { io->actors.clear(); });
  }
  {
    std::unique_lock<std::shared_mutex> stopping(io_mu_);
    stopped_ = true;
  }
  engine_.reset();
  for (auto& io : io_) {
    if (io->owned_loop != nullptr) io->owned_loop->Stop();
  }
}

}  // namespace kcpp::service
