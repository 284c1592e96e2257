#include "transport/internal/listener_core.h"

#include <utility>

#include "transport/internal/session_access.h"
#include "transport/internal/session_core.h"
#include "transport/internal/session_shared.h"

namespace kcpp::transport::internal {

// ---- ListenerState --------------------------------------------------------

bool ListenerState::ReserveBacklog() {
  // Compare-and-swap: two loops creating sessions at once cannot both take
  // the last place (a flood test saw 9 sessions waiting in a backlog of 8).
  const int64_t max = options_.accept_backlog;
  int64_t held = backlog_held_.load(std::memory_order_relaxed);
  do {
    if (held >= max) return false;
  } while (!backlog_held_.compare_exchange_weak(held, held + 1, std::memory_order_relaxed));
  return true;
}

void ListenerState::Deliver(std::unique_ptr<Session> session) {
  std::shared_ptr<absl::AnyInvocable<void(std::unique_ptr<Session>)>> callback;
  {
    std::lock_guard<std::mutex> lock(mu_);
    callback = on_accept_;
    if (!callback) {
      queue_.push_back(std::move(session));  // keeps its place until Accept
      pending_.store(queue_.size(), std::memory_order_relaxed);
      cv_.notify_one();
      return;
    }
  }
  ReleaseBacklog();
  stats_.sessions_accepted.fetch_add(1, std::memory_order_relaxed);
  (*callback)(std::move(session));
}

absl::StatusOr<std::unique_ptr<Session>> ListenerState::Accept(absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  auto ready = [&] { return !queue_.empty() || closed_.load(); };
  if (deadline == absl::InfiniteFuture()) {
    cv_.wait(lock, ready);
  } else {
    cv_.wait_until(lock, absl::ToChronoTime(deadline), ready);
  }
  if (closed_.load()) return absl::UnavailableError("listener closed");
  if (queue_.empty()) {
    return absl::DeadlineExceededError(
        deadline == absl::InfinitePast() ? "no session waiting" : "accept deadline exceeded");
  }
  std::unique_ptr<Session> s = std::move(queue_.front());
  queue_.pop_front();
  pending_.store(queue_.size(), std::memory_order_relaxed);
  ReleaseBacklog();
  stats_.sessions_accepted.fetch_add(1, std::memory_order_relaxed);
  return s;
}

void ListenerState::SetAcceptCallback(
    absl::AnyInvocable<void(std::unique_ptr<Session>)> on_accept) {
  auto callback =
      std::make_shared<absl::AnyInvocable<void(std::unique_ptr<Session>)>>(std::move(on_accept));
  std::deque<std::unique_ptr<Session>> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    on_accept_ = callback;
    waiting.swap(queue_);
    pending_.store(0, std::memory_order_relaxed);
    backlog_held_.fetch_sub(static_cast<int64_t>(waiting.size()), std::memory_order_relaxed);
  }
  for (auto& s : waiting) {
    stats_.sessions_accepted.fetch_add(1, std::memory_order_relaxed);
    (*callback)(std::move(s));
  }
}

void ListenerState::Close(bool close_sessions) {
  std::deque<std::unique_ptr<Session>> unaccepted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_.exchange(true)) return;
    unaccepted.swap(queue_);
    pending_.store(0, std::memory_order_relaxed);
    backlog_held_.fetch_sub(static_cast<int64_t>(unaccepted.size()), std::memory_order_relaxed);
    on_accept_.reset();
    cv_.notify_all();
  }
  unaccepted.clear();  // their handles close them
  for (size_t i = 0; i < loops_.size(); ++i) {
    Worker* loop = loops_[i].get();
    const uint64_t id = socket_ids_[i];
    loop->Post([loop, id, close_sessions] {
      if (auto* part = static_cast<ListenerSocket*>(loop->FindObject(id))) {
        part->StopAccepting(close_sessions);
      }
    });
  }
}

void ListenerState::RegisterConv(uint32_t conv, ConvHome home) {
  std::lock_guard<std::mutex> lock(conv_mu_);
  auto [it, inserted] = convs_.try_emplace(conv, ConvEntry{home, 0});
  ++it->second.sessions;
}

void ListenerState::UnregisterConv(uint32_t conv, uint64_t session_id) {
  std::lock_guard<std::mutex> lock(conv_mu_);
  auto it = convs_.find(conv);
  if (it == convs_.end()) return;
  if (--it->second.sessions == 0) convs_.erase(it);
}

bool ListenerState::FindConv(uint32_t conv, ConvHome* home) const {
  std::lock_guard<std::mutex> lock(conv_mu_);
  auto it = convs_.find(conv);
  if (it == convs_.end() || it->second.sessions != 1) return false;
  *home = it->second.home;
  return true;
}

ListenerStats ListenerState::GetStats() const {
  ListenerStats s;
  s.sessions_created = stats_.sessions_created.load();
  s.sessions_accepted = stats_.sessions_accepted.load();
  s.sessions_replaced = stats_.sessions_replaced.load();
  s.sessions_moved = stats_.sessions_moved.load();
  s.live_sessions = static_cast<uint32_t>(std::max<int64_t>(0, stats_.live_sessions.load()));
  s.pending_accept = static_cast<uint32_t>(pending());
  s.dropped_checksum = stats_.dropped_checksum.load();
  s.dropped_no_conv = stats_.dropped_no_conv.load();
  s.dropped_mid_conversation = stats_.dropped_mid_conversation.load();
  s.dropped_conv_mismatch = stats_.dropped_conv_mismatch.load();
  s.dropped_backlog_full = stats_.dropped_backlog_full.load();
  s.dropped_session_limit = stats_.dropped_session_limit.load();
  s.dropped_truncated = stats_.dropped_truncated.load();
  s.dropped_replay = stats_.dropped_replay.load();
  return s;
}

// ---- ListenerSocket ----------------------------------------------------------

absl::StatusOr<std::unique_ptr<ListenerSocket>> ListenerSocket::Create(
    std::shared_ptr<Worker> loop, uint64_t id, std::shared_ptr<ListenerState> shared,
    std::unique_ptr<UdpSocket> socket) {
  std::unique_ptr<ListenerSocket> part(new ListenerSocket(std::move(loop), id, std::move(shared)));
  absl::StatusOr<std::unique_ptr<UdpEndpoint>> ep =
      UdpEndpoint::Create(part->loop_.get(), std::move(socket), part.get());
  if (!ep.ok()) return ep.status();
  part->endpoint_ = *std::move(ep);
  return part;
}

ListenerSocket::ListenerSocket(std::shared_ptr<Worker> loop, uint64_t id,
                               std::shared_ptr<ListenerState> shared)
    : loop_(std::move(loop)),
      id_(id),
      shared_(std::move(shared)),
      table_({static_cast<size_t>(shared_->options().max_sessions),
              static_cast<size_t>(shared_->options().accept_backlog)}) {}

ListenerSocket::~ListenerSocket() = default;

void ListenerSocket::OnOversizedDatagram(const SocketAddress&) {
  shared_->stats().dropped_truncated.fetch_add(1, std::memory_order_relaxed);
}

void ListenerSocket::OnDatagram(absl::Span<uint8_t> datagram, const SocketAddress& from,
                                int64_t now_ms) {
  // Decrypt first: kcp-go demultiplexes on the plaintext (§5.2 step 1).
  const crypt::OpenResult opened = shared_->cipher()->Open(datagram);
  if (!opened.ok()) {
    shared_->stats().dropped_checksum.fetch_add(1, std::memory_order_relaxed);
    if (SessionCore** core = table_.Find(from)) (*core)->OnChecksumError();
    return;
  }
  const PacketIdentity identity = Identify(opened.payload);
  // Replay protection (§11.10): the nonce, still in clear at offset 0, is
  // the sender's stamp; the AEAD has just authenticated it.
  crypt::ReplayStamp stamp_storage;
  const crypt::ReplayStamp* stamp = nullptr;
  if (shared_->options().session.replay_protection) {
    stamp_storage = crypt::ReplayStamp::Load(datagram.data());
    stamp = &stamp_storage;
  }
  // A known conv from an unknown address: the peer moved, unless this is the
  // first datagram of a new conversation (PUSH sn 0), which makes a new
  // session as in kcp-go (two clients may draw the same conv).
  if (identity.has_conv && !identity.StartsConversation() &&
      shared_->options().follow_address_changes && table_.Find(from) == nullptr &&
      ForwardToMovedSession(identity, opened.payload, from, datagram.size(), now_ms, stamp)) {
    return;
  }
  // A refused conversation gets in again only by starting over (segment 0).
  if (!refused_.empty() && identity.has_conv && !identity.StartsConversation() &&
      table_.Find(from) == nullptr && refused_.contains(Refused{from, identity.conv})) {
    shared_->stats().dropped_mid_conversation.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const size_t pending = shared_->pending();
  DemuxAction action = table_.Decide(from, identity, pending);
  if ((action == DemuxAction::kCreate || action == DemuxAction::kReplace) && !accepting_) {
    action = DemuxAction::kDropNoConv;  // closed listeners create nothing
  }
  // A replayed datagram must not create a session: only segment 0 (a later
  // PUSH with una 0 could be a replay from a conversation whose creating
  // datagram is forgotten; a peer whose segment 0 was lost sends it again),
  // stamped near our clock, after this listener began (a restart), and not
  // from a conversation that created a session already (from any address).
  if ((action == DemuxAction::kCreate || action == DemuxAction::kReplace) && stamp != nullptr &&
      (!identity.StartsConversation() ||
       !shared_->creation_guard().Admit(identity.conv, *stamp, WallClockMs()))) {
    shared_->stats().dropped_replay.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // accept_backlog and max_sessions hold across loops: places are reserved
  // before the session exists (a replacement inherits its predecessor's
  // max_sessions place, and needs a backlog place as a new session does).
  if ((action == DemuxAction::kCreate || action == DemuxAction::kReplace) &&
      !shared_->ReserveBacklog()) {
    action = DemuxAction::kDropBacklogFull;
  }
  if (action == DemuxAction::kCreate && !ReservePlace()) {
    shared_->ReleaseBacklog();
    action = DemuxAction::kDropSessionLimit;
  }
  ListenerState::AtomicStats& stats = shared_->stats();
  switch (action) {
    case DemuxAction::kFeed: {
      SessionCore* core = *table_.Find(from);
      if (stamp != nullptr && !core->AdmitStamp(*stamp)) return;  // counted by the session
      core->OnPayload(opened.payload, datagram.size(), now_ms);
      return;
    }
    case DemuxAction::kReplace: {
      // The peer restarted with a new conversation from the same address
      // (sn == 0): the old session is over (kcp-go closes it, §5.2 step 5).
      SessionCore* old = *table_.Find(from);
      table_.Erase(from);
      stats.sessions_replaced.fetch_add(1, std::memory_order_relaxed);
      handing_over_ = old;
      old->Replace();
      handing_over_ = nullptr;
      CreateSession(from, identity.conv, opened.payload, datagram.size(), now_ms, stamp);
      return;
    }
    case DemuxAction::kCreate:
      CreateSession(from, identity.conv, opened.payload, datagram.size(), now_ms, stamp);
      return;
    case DemuxAction::kDropNoConv:
      stats.dropped_no_conv.fetch_add(1, std::memory_order_relaxed);
      return;
    case DemuxAction::kDropMidConversation:
      stats.dropped_mid_conversation.fetch_add(1, std::memory_order_relaxed);
      return;
    case DemuxAction::kDropConvMismatch:
      stats.dropped_conv_mismatch.fetch_add(1, std::memory_order_relaxed);
      return;
    case DemuxAction::kDropBacklogFull:
      stats.dropped_backlog_full.fetch_add(1, std::memory_order_relaxed);
      return;
    case DemuxAction::kDropSessionLimit:
      stats.dropped_session_limit.fetch_add(1, std::memory_order_relaxed);
      return;
  }
}

void ListenerSocket::CreateSession(const SocketAddress& from, uint32_t conv,
                                   absl::Span<uint8_t> payload, size_t wire_bytes, int64_t now_ms,
                                   const crypt::ReplayStamp* stamp) {
  const uint64_t id = Worker::NextId();
  auto shared = std::make_shared<SessionShared>(id, loop_, shared_->options().session, conv,
                                                shared_->local(), from, /*accepted=*/true);
  absl::StatusOr<std::unique_ptr<SessionCore>> core =
      SessionCore::Create(loop_.get(), shared, shared_->cipher(), endpoint_.get(), this);
  if (!core.ok()) {  // options were validated by Listen; cannot happen
    shared_->stats().live_sessions.fetch_sub(1, std::memory_order_relaxed);
    shared_->ReleaseBacklog();
    return;
  }
  SessionCore* raw = core->get();
  raw->Start(now_ms);
  // The creating datagram opens the session's window over its peer's counter.
  if (stamp != nullptr) raw->AdmitStamp(*stamp);
  loop_->AddObject(id, *std::move(core));
  table_.Insert(from, conv, raw);
  shared_->RegisterConv(conv, {loop_.get(), id});
  shared_->stats().sessions_created.fetch_add(1, std::memory_order_relaxed);
  // Options are in force before the first datagram is processed.
  raw->OnPayload(payload, wire_bytes, now_ms);
  shared_->Deliver(SessionAccess::Make(std::move(shared)));
}

bool ListenerSocket::ForwardToMovedSession(const PacketIdentity& id, absl::Span<uint8_t> payload,
                                           const SocketAddress& from, size_t wire_bytes,
                                           int64_t now_ms, const crypt::ReplayStamp* stamp) {
  ListenerState::ConvHome home;
  if (!shared_->FindConv(id.conv, &home)) return false;
  if (home.loop == loop_.get()) {
    auto* core = static_cast<SessionCore*>(loop_->FindObject(home.session_id));
    if (core == nullptr) return false;
    core->OnPayloadFromNewAddress(payload, from, wire_bytes, now_ms, stamp);
    return true;
  }
  // The kernel hashed the new address to this loop's socket: hand a copy to
  // the session's loop (a rare path; the copy is the price).
  Worker* home_loop = home.loop;
  // The window lives on the session's loop, so the stamp travels too.
  const bool stamped = stamp != nullptr;
  const crypt::ReplayStamp stamp_copy = stamped ? *stamp : crypt::ReplayStamp{};
  home_loop->Post([home_loop, id = home.session_id,
                   bytes = std::vector<uint8_t>(payload.begin(), payload.end()), from, wire_bytes,
                   stamped, stamp_copy]() mutable {
    auto* core = static_cast<SessionCore*>(home_loop->FindObject(id));
    if (core != nullptr) {
      core->OnPayloadFromNewAddress(absl::MakeSpan(bytes), from, wire_bytes, home_loop->now_ms(),
                                    stamped ? &stamp_copy : nullptr);
    }
  });
  return true;
}

void ListenerSocket::OnSessionMoved(SessionCore* core, const SocketAddress& old) {
  SessionCore** current = table_.Find(old);
  if (current != nullptr && *current == core) table_.Erase(old);
  // Datagrams from the new address that reach this loop's socket go straight
  // to the session; those the kernel sends to another loop are forwarded.
  if (table_.Find(core->remote()) == nullptr) table_.Insert(core->remote(), core->conv(), core);
  shared_->stats().sessions_moved.fetch_add(1, std::memory_order_relaxed);
}

void ListenerSocket::OnSessionFinished(SessionCore* core) {
  if (core->began_elsewhere()) {
    Refused key{core->remote(), core->conv()};
    if (refused_.insert(key).second) {
      refused_order_.push_back(key);
      if (refused_order_.size() > kMaxRefused) {
        refused_.erase(refused_order_.front());
        refused_order_.pop_front();
      }
    }
  }
  shared_->UnregisterConv(core->conv(), core->id());
  SessionCore** current = table_.Find(core->remote());
  if (current != nullptr && *current == core) table_.Erase(core->remote());
  // A replaced session hands its place to its successor (OnDatagram).
  if (core != handing_over_) shared_->stats().live_sessions.fetch_sub(1, std::memory_order_relaxed);
  MaybeRemoveSelf();
}

bool ListenerSocket::ReservePlace() {
  // Compare-and-swap, not add-then-undo: the count never reads above
  // max_sessions, even for an instant (GetStats from another thread; a
  // flood test caught live_sessions 17 of 16 while two loops raced).
  std::atomic<int64_t>& live = shared_->stats().live_sessions;
  const int64_t max = shared_->options().max_sessions;
  int64_t current = live.load(std::memory_order_relaxed);
  do {
    if (current >= max) return false;
  } while (!live.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
  return true;
}

void ListenerSocket::StopAccepting(bool close_sessions) {
  accepting_ = false;
  if (close_sessions) {
    std::vector<SessionCore*> live;
    table_.ForEach([&](const SocketAddress&, SessionCore* c) { live.push_back(c); });
    for (SessionCore* c : live) c->CloseFromListener();
  }
  MaybeRemoveSelf();
}

void ListenerSocket::MaybeRemoveSelf() {
  if (accepting_ || removing_ || table_.size() > 0) return;
  removing_ = true;
  loop_->RemoveObject(id_);
}

}  // namespace kcpp::transport::internal
