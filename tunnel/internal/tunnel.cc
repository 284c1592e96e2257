#include "tunnel/internal/tunnel.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/errno_status.h"
#include "base/latch.h"
#include "base/unique_fd.h"
#include "mux/stream_pump.h"

namespace kcpp::service::tunnel {
namespace internal {
namespace {

constexpr int kLogError = 0;
constexpr int kLogWarning = 1;
constexpr int kLogInfo = 2;
constexpr size_t kScratchSize = 65536;
// Accepts per readiness event of the listening socket.
constexpr int kAcceptsPerEvent = 64;

}  // namespace

class Link;

// One TCP (or Unix) connection carried as one smux stream: connects it (the
// server's target) and then hands both directions to a StreamPump. Lives on
// its link's loop.
class Pump final : public transport::EventLoop::FdHandler, private StreamPump::Owner {
 public:
  Pump(Link* link, MuxLink::StreamId id, UniqueFd fd, bool connecting, std::string peer);
  ~Pump() override;

  // Starts watching the socket: until it connects, or pumping.
  void Start();
  // MuxLink::Handler events of the stream.
  size_t OnStreamData(absl::Span<const uint8_t> data) { return stream_.OnStreamData(data); }
  void OnStreamFin() { stream_.OnStreamFin(); }
  void OnStreamWritable() { stream_.OnStreamWritable(); }
  // Closes the socket without touching the stream (the link dealt with it).
  void Kill();

  void OnReadable() override;
  void OnWritable() override;

  MuxLink::StreamId id() const { return id_; }
  bool dead() const { return dead_; }
  TunnelStreamInfo Info(uint64_t session_number, int64_t now_ms) const;

 private:
  // StreamPump::Owner.
  absl::Status SetSocketInterest(SocketInterest interest) override;
  void OnBytesMoved(size_t to_stream, size_t to_socket) override;
  void OnPumpEnded(PumpEnd end, const absl::Status& why) override;
  // Ends the stream at once (the connect failed): FIN to the peer, socket
  // closed.
  void Abort(const absl::Status& why);

  Link* const link_;
  const MuxLink::StreamId id_;
  UniqueFd fd_;
  const std::string peer_;
  const int64_t created_ms_;
  bool connecting_;
  bool registered_ = false;
  bool dead_ = false;
  StreamPump stream_;
};

// One KCP session of a tunnel with its smux link and streams.
class Link final : public MuxLink::Handler {
 public:
  Link(Shard* shard, uint64_t number) : shard_(shard), number_(number) {}
  ~Link() override;

  absl::Status Open(std::shared_ptr<transport::Session> session, smux::Role role);

  MuxLink* mux() { return mux_.get(); }
  Shard* shard() { return shard_; }
  uint64_t number() const { return number_; }
  // Takes new streams: open, and its peer has not closed it.
  bool usable() const {
    return mux_ != nullptr && !mux_->closing() && !mux_->peer_closed() && !closed_;
  }
  size_t stream_count() const { return pumps_.size(); }

  // Client: carries an accepted TCP connection on a new stream (takes `*fd`
  // on success).
  absl::Status AdoptConnection(UniqueFd* fd);
  // The pump of `id` is finished: forget it (its socket is closed).
  void RemovePump(MuxLink::StreamId id);
  // Client autoexpire: takes no new streams from now on.
  void MarkExpired();
  // Client scavenger: close the session (and its streams) at `at_ms`.
  void ScavengeAt(int64_t at_ms);
  bool expired() const { return expired_; }
  int64_t scavenge_at_ms() const { return scavenge_at_ms_; }
  // Closes every socket and the link (FIN on every stream, then the session
  // flushes and closes).
  void CloseAll();

  void Describe(int64_t now_ms, bool with_streams, TunnelSnapshot* out,
                std::vector<std::shared_ptr<transport::Session>>* sessions) const;

  // MuxLink::Handler.
  bool OnStreamOpened(MuxLink::StreamId id) override;
  size_t OnStreamData(MuxLink::StreamId id, absl::Span<const uint8_t> data) override;
  void OnStreamFin(MuxLink::StreamId id) override;
  void OnStreamWritable(MuxLink::StreamId id) override;
  void OnStreamClosed(MuxLink::StreamId id) override;
  void OnPeerClosed() override;
  void OnLinkClosed(const absl::Status& why) override;

 private:
  // After the peer's close notice: closes the link once every stream here
  // has delivered what arrived (its pumps are gone), so it ends now as
  // closed instead of at the smux keepalive timeout as dead.
  void CloseIfPeerClosedAndIdle();

  Pump* Find(MuxLink::StreamId id) {
    auto it = pumps_.find(id);
    return it == pumps_.end() ? nullptr : it->second.get();
  }

  Shard* const shard_;
  const uint64_t number_;
  int64_t created_ms_ = 0;
  std::unique_ptr<MuxLink> mux_;
  absl::flat_hash_map<MuxLink::StreamId, std::unique_ptr<Pump>> pumps_;
  bool expired_ = false;
  int64_t scavenge_at_ms_ = 0;
  bool closed_ = false;
};

// A tunnel's state on one loop.
class Shard final : public transport::EventLoop::FdHandler,
                    public transport::EventLoop::TimerHandler {
 public:
  Shard(Tunnel* tunnel, transport::EventLoop* loop, size_t index)
      : tunnel_(tunnel), loop_(loop), index_(index), scratch_(new uint8_t[kScratchSize]) {}
  ~Shard() override;

  Tunnel* tunnel() { return tunnel_; }
  transport::EventLoop* loop() { return loop_; }
  bool stopped() const { return stopped_; }
  uint8_t* scratch() { return scratch_.get(); }
  int64_t now_ms() const { return loop_->now_ms(); }

  // Client, shard 0: watch the TCP listener.
  absl::Status StartAccepting(UniqueFd listen_fd);
  // Client: an accepted connection for session slot `slot` (of this shard).
  void AdoptClientConnection(UniqueFd fd, int slot);
  // Server: a session accepted by the KCP listener.
  void AdoptServerSession(std::shared_ptr<transport::Session> session);
  // Destroys `object` after the current loop iteration.
  void Bury(std::unique_ptr<Pump> pump);
  void Bury(std::unique_ptr<Link> link);
  // The link closed (OnLinkClosed): forget it.
  void LinkClosed(Link* link, const absl::Status& why);
  // A link wants the scavenger timer at `at_ms`.
  void ArmScavenger(int64_t at_ms);

  // Stops accepting and closes every socket and link (first round of
  // Tunnel::Stop); Destroy (second round, a turn later) frees them.
  void Stop();
  void Destroy();
  void Describe(bool with_streams, TunnelSnapshot* out,
                std::vector<std::shared_ptr<transport::Session>>* sessions) const;

  // FdHandler (the client's TCP listener).
  void OnReadable() override;
  // TimerHandler (client scavenger).
  void OnTimer(int64_t now_ms) override;

 private:
  struct Slot {
    Link* link = nullptr;
    int64_t expiry_ms = 0;
  };
  Link* NewClientLink();
  void CollectGraves();

  Tunnel* const tunnel_;
  transport::EventLoop* const loop_;
  const size_t index_;
  std::unique_ptr<uint8_t[]> scratch_;
  bool stopped_ = false;
  UniqueFd listen_fd_;
  uint64_t next_slot_ = 0;  // shard 0: round-robin over the tunnel's slots
  absl::flat_hash_map<int, Slot> slots_;
  std::vector<std::unique_ptr<Link>> links_;
  std::vector<std::unique_ptr<Pump>> dead_pumps_;
  std::vector<std::unique_ptr<Link>> dead_links_;
  bool graves_scheduled_ = false;
  bool has_timer_ = false;
  transport::EventLoop::TimerId timer_ = 0;
  int64_t timer_at_ = -1;
};

// ---- Pump -----------------------------------------------------------------

Pump::Pump(Link* link, MuxLink::StreamId id, UniqueFd fd, bool connecting, std::string peer)
    : link_(link),
      id_(id),
      fd_(std::move(fd)),
      peer_(std::move(peer)),
      created_ms_(link->shard()->now_ms()),
      connecting_(connecting),
      stream_(link->mux(), id, this, absl::MakeSpan(link->shard()->scratch(), kScratchSize)) {}

Pump::~Pump() { Kill(); }

void Pump::Start() {
  if (!connecting_) {
    stream_.Start(fd_.get());
    return;
  }
  // Until it connects: writability (or an error) says how it went.
  absl::Status s = SetSocketInterest({/*watch=*/true, /*read=*/false, /*write=*/true});
  if (!s.ok()) Abort(s);
}

absl::Status Pump::SetSocketInterest(SocketInterest interest) {
  transport::EventLoop* loop = link_->shard()->loop();
  if (!interest.watch) {
    if (registered_) loop->UnwatchFd(fd_.get());
    registered_ = false;
    return absl::OkStatus();
  }
  if (!registered_) {
    if (absl::Status s = loop->WatchFd(fd_.get(), this, interest.write); !s.ok()) return s;
    registered_ = true;
    if (interest.read) return absl::OkStatus();
  }
  return loop->SetInterest(fd_.get(), this, interest.read, interest.write);
}

void Pump::OnReadable() {
  if (dead_) return;
  if (connecting_) {  // a failed connect reports an error / hang-up
    OnWritable();
    return;
  }
  stream_.OnSocketReadable();
}

void Pump::OnWritable() {
  if (dead_) return;
  if (!connecting_) {
    stream_.OnSocketWritable();
    return;
  }
  absl::Status s = FinishConnect(fd_.get());
  if (!s.ok()) {
    link_->shard()->tunnel()->counters().target_connect_failures.fetch_add(
        1, std::memory_order_relaxed);
    Abort(absl::Status(s.code(), absl::StrCat("target ", peer_, ": ", s.message())));
    return;
  }
  link_->shard()->tunnel()->counters().target_connects.fetch_add(1, std::memory_order_relaxed);
  connecting_ = false;
  TuneStreamSocket(fd_.get());
  stream_.Start(fd_.get());  // what the link held meanwhile (and a FIN), then reads
}

void Pump::OnBytesMoved(size_t to_stream, size_t to_socket) {
  Tunnel::Counters& counters = link_->shard()->tunnel()->counters();
  if (to_stream > 0) counters.bytes_to_kcp.fetch_add(to_stream, std::memory_order_relaxed);
  if (to_socket > 0) counters.bytes_from_kcp.fetch_add(to_socket, std::memory_order_relaxed);
}

void Pump::OnPumpEnded(PumpEnd, const absl::Status& why) {
  // The stream is closed already (FIN to the peer).
  Tunnel* tunnel = link_->shard()->tunnel();
  if (!tunnel->config().quiet) {
    tunnel->Log(kLogInfo, absl::StrCat("tunnel ", tunnel->id(), ": stream ", link_->number(), "/",
                                       id_, " (", peer_, ") aborted: ", why.message()));
  }
  link_->RemovePump(id_);  // buries this pump
}

void Pump::Abort(const absl::Status& why) {
  if (dead_) return;
  Tunnel* tunnel = link_->shard()->tunnel();
  if (!tunnel->config().quiet) {
    tunnel->Log(kLogInfo, absl::StrCat("tunnel ", tunnel->id(), ": stream ", link_->number(), "/",
                                       id_, " (", peer_, ") aborted: ", why.message()));
  }
  (void)link_->mux()->CloseStream(id_);
  link_->RemovePump(id_);  // buries this pump
}

void Pump::Kill() {
  if (dead_) return;
  dead_ = true;
  stream_.Stop();
  if (registered_) link_->shard()->loop()->UnwatchFd(fd_.get());
  registered_ = false;
  fd_.reset();
}

TunnelStreamInfo Pump::Info(uint64_t session_number, int64_t now_ms) const {
  TunnelStreamInfo i;
  i.session_number = session_number;
  i.stream_id = id_;
  i.tcp_peer = peer_;
  i.bytes_to_kcp = stream_.bytes_to_stream();
  i.bytes_from_kcp = stream_.bytes_to_socket();
  i.connecting = connecting_;
  i.tcp_eof = stream_.socket_eof();
  i.stream_fin = stream_.fin_delivered();
  i.age = absl::Milliseconds(now_ms - created_ms_);
  return i;
}

// ---- Link -----------------------------------------------------------------

Link::~Link() {
  for (auto& [id, pump] : pumps_) pump->Kill();
  pumps_.clear();
  mux_.reset();
}

absl::Status Link::Open(std::shared_ptr<transport::Session> session, smux::Role role) {
  created_ms_ = shard_->now_ms();
  Tunnel* tunnel = shard_->tunnel();
  absl::StatusOr<std::unique_ptr<MuxLink>> mux =
      MuxLink::Create(shard_->loop(), std::move(session), role, tunnel->mux_options(), this);
  if (!mux.ok()) return mux.status();
  mux_ = *std::move(mux);
  tunnel->counters().sessions_created.fetch_add(1, std::memory_order_relaxed);
  tunnel->counters().live_sessions.fetch_add(1, std::memory_order_relaxed);
  const transport::Session& s = mux_->session();
  tunnel->Log(kLogInfo, absl::StrCat("tunnel ", tunnel->id(), ": session ", number_, " ",
                                     role == smux::Role::kClient ? "to " : "from ",
                                     s.remote_address().ToString(), " (conv ", s.conv(), ")"));
  return absl::OkStatus();
}

absl::Status Link::AdoptConnection(UniqueFd* fd) {
  Tunnel* tunnel = shard_->tunnel();
  if (static_cast<int>(pumps_.size()) >= tunnel->env().max_streams_per_session) {
    return absl::UnavailableError("too many streams on the session");
  }
  absl::StatusOr<MuxLink::StreamId> id = mux_->OpenStream();
  if (!id.ok()) return id.status();
  std::string peer = PeerAddressOf(fd->get());
  auto pump = std::make_unique<Pump>(this, *id, std::move(*fd), /*connecting=*/false, peer);
  Pump* p = pump.get();
  pumps_[*id] = std::move(pump);
  tunnel->counters().streams_opened.fetch_add(1, std::memory_order_relaxed);
  if (!tunnel->config().quiet) {
    tunnel->Log(kLogInfo, absl::StrCat("tunnel ", tunnel->id(), ": stream opened in: ", peer,
                                       " out: session ", number_, " stream ", *id));
  }
  p->Start();
  return absl::OkStatus();
}

bool Link::OnStreamOpened(MuxLink::StreamId id) {
  Tunnel* tunnel = shard_->tunnel();
  if (shard_->stopped() || tunnel->config().role != TunnelRole::kServer ||
      static_cast<int>(pumps_.size()) >= tunnel->env().max_streams_per_session) {
    return false;
  }
  bool in_progress = false;
  absl::StatusOr<UniqueFd> fd = StartConnect(tunnel->target(), &in_progress);
  if (!fd.ok()) {
    tunnel->counters().target_connect_failures.fetch_add(1, std::memory_order_relaxed);
    tunnel->Log(kLogWarning, absl::StrCat("tunnel ", tunnel->id(), ": stream ", number_, "/", id,
                                          ": ", fd.status().message()));
    return false;  // the link answers with FIN
  }
  if (!in_progress) {
    tunnel->counters().target_connects.fetch_add(1, std::memory_order_relaxed);
    TuneStreamSocket(fd->get());
  }
  auto pump = std::make_unique<Pump>(this, id, *std::move(fd), in_progress, tunnel->target().text);
  Pump* p = pump.get();
  pumps_[id] = std::move(pump);
  tunnel->counters().streams_opened.fetch_add(1, std::memory_order_relaxed);
  if (!tunnel->config().quiet) {
    tunnel->Log(kLogInfo, absl::StrCat("tunnel ", tunnel->id(), ": stream opened in: session ",
                                       number_, " stream ", id, " out: ", tunnel->target().text));
  }
  p->Start();
  return true;
}

size_t Link::OnStreamData(MuxLink::StreamId id, absl::Span<const uint8_t> data) {
  Pump* p = Find(id);
  if (p == nullptr) return data.size();
  return p->OnStreamData(data);
}

void Link::OnStreamFin(MuxLink::StreamId id) {
  if (Pump* p = Find(id)) p->OnStreamFin();
}

void Link::OnStreamWritable(MuxLink::StreamId id) {
  if (Pump* p = Find(id)) p->OnStreamWritable();
}

void Link::OnStreamClosed(MuxLink::StreamId id) { RemovePump(id); }

void Link::OnPeerClosed() { CloseIfPeerClosedAndIdle(); }

void Link::CloseIfPeerClosedAndIdle() {
  if (mux_ != nullptr && mux_->peer_closed() && !mux_->closing() && pumps_.empty()) {
    mux_->Close();
  }
}

void Link::RemovePump(MuxLink::StreamId id) {
  auto it = pumps_.find(id);
  if (it == pumps_.end()) return;
  std::unique_ptr<Pump> pump = std::move(it->second);
  pumps_.erase(it);
  pump->Kill();
  Tunnel* tunnel = shard_->tunnel();
  tunnel->counters().streams_closed.fetch_add(1, std::memory_order_relaxed);
  if (!tunnel->config().quiet) {
    tunnel->Log(kLogInfo, absl::StrCat("tunnel ", tunnel->id(), ": stream closed: session ",
                                       number_, " stream ", id));
  }
  shard_->Bury(std::move(pump));
  CloseIfPeerClosedAndIdle();
}

void Link::OnLinkClosed(const absl::Status& why) {
  if (closed_) return;
  closed_ = true;
  Tunnel* tunnel = shard_->tunnel();
  for (auto& [id, pump] : pumps_) {
    pump->Kill();
    tunnel->counters().streams_closed.fetch_add(1, std::memory_order_relaxed);
  }
  pumps_.clear();
  tunnel->counters().sessions_closed.fetch_add(1, std::memory_order_relaxed);
  tunnel->counters().live_sessions.fetch_sub(1, std::memory_order_relaxed);
  if (!why.ok()) tunnel->counters().sessions_dead.fetch_add(1, std::memory_order_relaxed);
  tunnel->Log(why.ok() ? kLogInfo : kLogWarning,
              absl::StrCat("tunnel ", tunnel->id(), ": session ", number_, " closed",
                           why.ok() ? "" : ": ", why.message()));
  shard_->LinkClosed(this, why);  // buries this link
}

void Link::MarkExpired() {
  if (expired_) return;
  expired_ = true;
  shard_->tunnel()->counters().sessions_expired.fetch_add(1, std::memory_order_relaxed);
}

void Link::ScavengeAt(int64_t at_ms) {
  if (scavenge_at_ms_ != 0 && scavenge_at_ms_ <= at_ms) return;
  scavenge_at_ms_ = at_ms;
  shard_->ArmScavenger(at_ms);
}

void Link::CloseAll() {
  for (auto& [id, pump] : pumps_) pump->Kill();
  if (mux_ != nullptr && !mux_->closing()) mux_->Close();
}

void Link::Describe(int64_t now_ms, bool with_streams, TunnelSnapshot* out,
                    std::vector<std::shared_ptr<transport::Session>>* sessions) const {
  TunnelSessionInfo info;
  info.number = number_;
  info.streams = static_cast<uint32_t>(pumps_.size());
  info.expired = expired_;
  info.age = absl::Milliseconds(now_ms - created_ms_);
  if (mux_ != nullptr) {
    const MuxLinkStats stats = mux_->stats();
    info.smux_bytes_received = stats.smux.bytes_received;
    info.smux_bytes_sent = stats.smux.bytes_sent;
    info.wire_bytes_read = stats.session_bytes_read;
    info.wire_bytes_written = stats.session_bytes_written;
    sessions->push_back(mux_->shared_session());
  } else {
    sessions->push_back(nullptr);
  }
  out->sessions.push_back(std::move(info));
  if (with_streams) {
    for (const auto& [id, pump] : pumps_) out->streams.push_back(pump->Info(number_, now_ms));
  }
}

// ---- Shard ----------------------------------------------------------------

Shard::~Shard() = default;

absl::Status Shard::StartAccepting(UniqueFd listen_fd) {
  listen_fd_ = std::move(listen_fd);
  return loop_->WatchFd(listen_fd_.get(), this);
}

void Shard::OnReadable() {
  if (stopped_ || !listen_fd_.valid()) return;
  Tunnel* tunnel = tunnel_;
  const int slots = tunnel->config().conn;
  for (int i = 0; i < kAcceptsPerEvent; ++i) {
    const int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        tunnel->Log(kLogError, absl::StrCat("tunnel ", tunnel->id(),
                                            ": accept: ", ErrnoStatus("accept", errno).message()));
      }
      return;
    }
    tunnel->counters().tcp_accepted.fetch_add(1, std::memory_order_relaxed);
    TuneStreamSocket(fd);
    const int slot = static_cast<int>(next_slot_++ % static_cast<uint64_t>(slots));
    const size_t shard = static_cast<size_t>(slot) % tunnel->shard_count();
    if (shard == index_) {
      AdoptClientConnection(UniqueFd(fd), slot);
    } else {
      auto owned = std::make_shared<UniqueFd>(fd);
      tunnel->PostToShard(
          shard, [owned, slot](Shard& s) { s.AdoptClientConnection(std::move(*owned), slot); });
    }
  }
}

Link* Shard::NewClientLink() {
  Tunnel* tunnel = tunnel_;
  if (tunnel->counters().live_sessions.load(std::memory_order_relaxed) >=
      tunnel->env().max_sessions) {
    tunnel->Log(kLogWarning, absl::StrCat("tunnel ", tunnel->id(), ": ", tunnel->env().max_sessions,
                                          " sessions: refusing more"));
    return nullptr;
  }
  const std::vector<std::string>& remotes = tunnel->remote_addresses();
  static thread_local absl::BitGen gen;
  const std::string& remote =
      remotes.size() == 1 ? remotes[0] : remotes[absl::Uniform<size_t>(gen, 0, remotes.size())];
  absl::StatusOr<std::unique_ptr<transport::Session>> session =
      tunnel->env().engine->Dial(remote, tunnel->session_options());
  if (!session.ok()) {
    tunnel->Log(kLogError, absl::StrCat("tunnel ", tunnel->id(), ": dial ", remote, ": ",
                                        session.status().message()));
    return nullptr;
  }
  auto link = std::make_unique<Link>(this, tunnel->NextSessionNumber());
  absl::Status s =
      link->Open(std::shared_ptr<transport::Session>(std::move(*session)), smux::Role::kClient);
  if (!s.ok()) {
    tunnel->Log(kLogError,
                absl::StrCat("tunnel ", tunnel->id(), ": session to ", remote, ": ", s.message()));
    return nullptr;
  }
  links_.push_back(std::move(link));
  return links_.back().get();
}

void Shard::AdoptClientConnection(UniqueFd fd, int slot) {
  Tunnel* tunnel = tunnel_;
  if (stopped_) return;  // fd closes
  const KcptunConfig& config = tunnel->config();
  Slot& s = slots_[slot];
  const int64_t now = now_ms();
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool expired = config.autoexpire > 0 && now >= s.expiry_ms;
    if (s.link == nullptr || !s.link->usable() || expired) {
      if (s.link != nullptr && s.link->usable() && expired) s.link->MarkExpired();
      s.link = NewClientLink();
      if (s.link == nullptr) break;
      s.expiry_ms = now + int64_t{config.autoexpire} * 1000;
      if (config.autoexpire > 0) {
        // kcptun's scavenger: a session takes new streams for autoexpire
        // seconds, keeps them scavengettl seconds more, then closes,
        // whether or not a newer session replaced it meanwhile.
        s.link->ScavengeAt(s.expiry_ms + int64_t{config.scavengettl} * 1000);
      }
    }
    absl::Status st = s.link->AdoptConnection(&fd);
    if (st.ok()) return;
    if (st.code() != absl::StatusCode::kResourceExhausted || !fd.valid()) {
      tunnel->Log(kLogWarning,
                  absl::StrCat("tunnel ", tunnel->id(), ": new stream: ", st.message()));
      break;
    }
    // smux's stream ids ran out (go away): a fresh session; the old one
    // keeps its streams for scavengettl seconds.
    s.link->MarkExpired();
    s.link->ScavengeAt(now + int64_t{config.scavengettl} * 1000);
    s.link = nullptr;
  }
  tunnel->counters().tcp_refused.fetch_add(1, std::memory_order_relaxed);
}

void Shard::AdoptServerSession(std::shared_ptr<transport::Session> session) {
  if (stopped_) {
    session->Close();
    return;
  }
  Tunnel* tunnel = tunnel_;
  if (tunnel->counters().live_sessions.load(std::memory_order_relaxed) >=
      tunnel->env().max_sessions) {
    tunnel->Log(kLogWarning,
                absl::StrCat("tunnel ", tunnel->id(), ": ", tunnel->env().max_sessions,
                             " sessions: refusing ", session->remote_address().ToString()));
    session->Close();
    return;
  }
  auto link = std::make_unique<Link>(this, tunnel->NextSessionNumber());
  absl::Status s = link->Open(std::move(session), smux::Role::kServer);
  if (!s.ok()) {
    tunnel->Log(kLogError, absl::StrCat("tunnel ", tunnel->id(), ": session: ", s.message()));
    return;
  }
  links_.push_back(std::move(link));
}

void Shard::Bury(std::unique_ptr<Pump> pump) {
  dead_pumps_.push_back(std::move(pump));
  CollectGraves();
}

void Shard::Bury(std::unique_ptr<Link> link) {
  dead_links_.push_back(std::move(link));
  CollectGraves();
}

void Shard::CollectGraves() {
  if (graves_scheduled_) return;
  graves_scheduled_ = true;
  // After this iteration's events: a handler may still be named in them.
  tunnel_->PostToShard(index_, [](Shard& s) {
    s.graves_scheduled_ = false;
    s.dead_pumps_.clear();
    s.dead_links_.clear();
  });
}

void Shard::LinkClosed(Link* link, const absl::Status& why) {
  for (auto& [slot, s] : slots_) {
    if (s.link == link) s.link = nullptr;
  }
  auto it = std::find_if(links_.begin(), links_.end(),
                         [link](const std::unique_ptr<Link>& l) { return l.get() == link; });
  if (it == links_.end()) return;
  std::unique_ptr<Link> owned = std::move(*it);
  links_.erase(it);
  Bury(std::move(owned));
}

void Shard::ArmScavenger(int64_t at_ms) {
  if (!has_timer_) {
    timer_ = loop_->CreateTimer(this);
    has_timer_ = true;
  }
  if (timer_at_ >= 0 && timer_at_ <= at_ms) return;
  timer_at_ = at_ms;
  loop_->ScheduleTimer(timer_, at_ms);
}

void Shard::OnTimer(int64_t now_ms) {
  timer_at_ = -1;
  if (stopped_) return;
  int64_t next = -1;
  // Closing a link may call back into LinkClosed only later (from a task),
  // so iterating links_ here is safe.
  for (const std::unique_ptr<Link>& link : links_) {
    if (link->scavenge_at_ms() == 0 || !link->usable()) continue;
    if (link->scavenge_at_ms() <= now_ms) {
      tunnel_->Log(kLogInfo,
                   absl::StrCat("tunnel ", tunnel_->id(), ": session ", link->number(),
                                " closed by the scavenger (", link->stream_count(), " streams)"));
      link->CloseAll();
    } else if (next < 0 || link->scavenge_at_ms() < next) {
      next = link->scavenge_at_ms();
    }
  }
  if (next >= 0) ArmScavenger(next);
}

void Shard::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (listen_fd_.valid()) {
    loop_->UnwatchFd(listen_fd_.get());
    listen_fd_.reset();
  }
  for (const std::unique_ptr<Link>& link : links_) link->CloseAll();
  slots_.clear();
  if (has_timer_) {
    loop_->CancelTimer(timer_);
    loop_->ReleaseTimer(timer_);
    has_timer_ = false;
  }
}

void Shard::Destroy() {
  links_.clear();
  dead_links_.clear();
  dead_pumps_.clear();
}

void Shard::Describe(bool with_streams, TunnelSnapshot* out,
                     std::vector<std::shared_ptr<transport::Session>>* sessions) const {
  for (const std::unique_ptr<Link>& link : links_) {
    link->Describe(now_ms(), with_streams, out, sessions);
  }
}

}  // namespace internal

// ---- Tunnel ---------------------------------------------------------------

using internal::Shard;

Tunnel::Tunnel(std::string id, KcptunConfig config, TunnelEnvironment env)
    : id_(std::move(id)),
      config_(std::move(config)),
      env_(std::move(env)),
      create_time_(absl::Now()) {}

Tunnel::~Tunnel() = default;

void Tunnel::Log(int level, const std::string& message) const {
  if (env_.log) env_.log(level, message);
}

void Tunnel::PostToShard(size_t shard, std::function<void(Shard&)> task) {
  std::shared_ptr<Tunnel> self = shared_from_this();
  env_.loops[shard]->Post([self, shard, task = std::move(task)] { task(*self->shards_[shard]); });
}

absl::StatusOr<std::shared_ptr<Tunnel>> Tunnel::Start(std::string id, KcptunConfig config,
                                                      TunnelEnvironment env) {
  if (env.loops.empty() || env.engine == nullptr) {
    return absl::InvalidArgumentError("a tunnel needs an engine and at least one loop");
  }
  std::shared_ptr<Tunnel> t(new Tunnel(std::move(id), std::move(config), std::move(env)));
  t->session_options_ = ToSessionOptions(t->config_);
  if (absl::Status s = t->session_options_.Validate(); !s.ok()) return s;
  t->mux_options_.smux = ToSmuxConfig(t->config_);
  t->mux_options_.snappy = !t->config_.nocomp;
  for (size_t i = 0; i < t->env_.loops.size(); ++i) {
    t->shards_.push_back(std::make_unique<Shard>(t.get(), t->env_.loops[i], i));
  }
  absl::Status s = t->config_.role == TunnelRole::kClient ? t->StartClient() : t->StartServer();
  if (!s.ok()) {
    t->Stop();
    return s;
  }
  std::string settings;
  for (const auto& [name, value] : DescribeKcptunConfig(t->config_)) {
    absl::StrAppend(&settings, settings.empty() ? "" : " ", name, "=", value);
  }
  t->Log(
      internal::kLogInfo,
      absl::StrCat("tunnel ", t->id_, ": ", TunnelRoleName(t->config_.role), " listening on ",
                   absl::StrJoin(t->listen_addresses_, ","), " -> ",
                   t->config_.role == TunnelRole::kClient ? absl::StrJoin(t->remote_addresses_, ",")
                                                          : t->target_.text,
                   " (", settings, ")"));
  return t;
}

absl::Status Tunnel::StartClient() {
  absl::StatusOr<std::vector<std::string>> remotes =
      internal::ResolveUdpAddresses(config_.remoteaddr, /*passive=*/false);
  if (!remotes.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("remoteaddr: ", remotes.status().message()));
  }
  remote_addresses_ = *std::move(remotes);
  absl::StatusOr<internal::StreamEndpoint> local =
      internal::ResolveStreamEndpoint(config_.localaddr, /*passive=*/true, /*allow_unix=*/false);
  if (!local.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("localaddr: ", local.status().message()));
  }
  absl::StatusOr<UniqueFd> fd = internal::ListenStream(*local);
  if (!fd.ok()) {
    return absl::Status(fd.status().code(), absl::StrCat("localaddr: ", fd.status().message()));
  }
  listen_addresses_ = {internal::LocalAddressOf(fd->get())};
  // The listener is watched on shard 0's loop.
  auto owned = std::make_shared<UniqueFd>(*std::move(fd));
  absl::Status result;
  Latch done(1);
  PostToShard(0, [&, owned](Shard& s) {
    result = s.StartAccepting(std::move(*owned));
    done.CountDown();
  });
  done.Wait();
  return result;
}

absl::Status Tunnel::StartServer() {
  absl::StatusOr<internal::StreamEndpoint> target =
      internal::ResolveStreamEndpoint(config_.target, /*passive=*/false, /*allow_unix=*/true);
  if (!target.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("target: ", target.status().message()));
  }
  target_ = *std::move(target);
  absl::StatusOr<std::vector<std::string>> listens =
      internal::ResolveUdpAddresses(config_.listen, /*passive=*/true);
  if (!listens.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("listen: ", listens.status().message()));
  }
  transport::ListenerOptions lo;
  lo.session = session_options_;
  for (const std::string& address : *listens) {
    absl::StatusOr<std::unique_ptr<transport::Listener>> l = env_.engine->Listen(address, lo);
    if (!l.ok()) {
      return absl::Status(l.status().code(),
                          absl::StrCat("listen ", address, ": ", l.status().message()));
    }
    std::weak_ptr<Tunnel> weak = weak_from_this();
    (*l)->SetAcceptCallback([weak](std::unique_ptr<transport::Session> session) {
      std::shared_ptr<Tunnel> self = weak.lock();
      if (self == nullptr) return;  // the session closes
      const size_t shard = self->next_server_shard_.fetch_add(1) % self->shards_.size();
      auto shared = std::shared_ptr<transport::Session>(std::move(session));
      self->PostToShard(shard, [shared](Shard& s) { s.AdoptServerSession(shared); });
    });
    listen_addresses_.push_back((*l)->local_address().ToString());
    listeners_.push_back(*std::move(l));
  }
  return absl::OkStatus();
}

void Tunnel::Stop() {
  if (stopped_.exchange(true)) return;
  for (const std::unique_ptr<transport::Listener>& l : listeners_) l->Close();
  Latch done(static_cast<int>(shards_.size()));
  for (size_t i = 0; i < shards_.size(); ++i) {
    PostToShard(i, [&done](Shard& s) {
      s.Stop();
      done.CountDown();
    });
  }
  done.Wait();
  // A second round: links closed above are destroyed after their last turn.
  Latch buried(static_cast<int>(shards_.size()));
  for (size_t i = 0; i < shards_.size(); ++i) {
    PostToShard(i, [&buried](Shard& s) {
      s.Destroy();
      buried.CountDown();
    });
  }
  buried.Wait();
  Log(internal::kLogInfo, absl::StrCat("tunnel ", id_, ": stopped"));
}

TunnelSnapshot Tunnel::Snapshot(bool with_streams) {
  TunnelSnapshot out;
  out.id = id_;
  out.config = config_;
  out.listen_addresses = listen_addresses_;
  out.remote_addresses = config_.role == TunnelRole::kClient
                             ? remote_addresses_
                             : std::vector<std::string>{target_.text};
  out.create_time = create_time_;
  std::vector<std::shared_ptr<transport::Session>> sessions;
  if (!stopped_) {
    std::vector<TunnelSnapshot> parts(shards_.size());
    std::vector<std::vector<std::shared_ptr<transport::Session>>> part_sessions(shards_.size());
    Latch done(static_cast<int>(shards_.size()));
    for (size_t i = 0; i < shards_.size(); ++i) {
      PostToShard(i, [&, i](Shard& s) {
        s.Describe(with_streams, &parts[i], &part_sessions[i]);
        done.CountDown();
      });
    }
    done.Wait();
    for (size_t i = 0; i < shards_.size(); ++i) {
      for (TunnelSessionInfo& info : parts[i].sessions) out.sessions.push_back(std::move(info));
      for (TunnelStreamInfo& info : parts[i].streams) out.streams.push_back(std::move(info));
      for (auto& s : part_sessions[i]) sessions.push_back(std::move(s));
    }
  }
  // Transport state is read on the engine's loops, outside ours.
  for (size_t i = 0; i < out.sessions.size(); ++i) {
    if (sessions[i] == nullptr) continue;
    absl::StatusOr<transport::SessionInfo> info = sessions[i]->GetInfo();
    if (info.ok()) out.sessions[i].session = *std::move(info);
  }
  std::sort(
      out.sessions.begin(), out.sessions.end(),
      [](const TunnelSessionInfo& a, const TunnelSessionInfo& b) { return a.number < b.number; });
  std::sort(out.streams.begin(), out.streams.end(),
            [](const TunnelStreamInfo& a, const TunnelStreamInfo& b) {
              return std::tie(a.session_number, a.stream_id) <
                     std::tie(b.session_number, b.stream_id);
            });
  const Counters& c = counters_;
  TunnelCounters& o = out.counters;
  o.tcp_accepted = c.tcp_accepted.load();
  o.tcp_refused = c.tcp_refused.load();
  o.target_connects = c.target_connects.load();
  o.target_connect_failures = c.target_connect_failures.load();
  o.streams_opened = c.streams_opened.load();
  o.streams_closed = c.streams_closed.load();
  o.bytes_to_kcp = c.bytes_to_kcp.load();
  o.bytes_from_kcp = c.bytes_from_kcp.load();
  o.sessions_created = c.sessions_created.load();
  o.sessions_closed = c.sessions_closed.load();
  o.sessions_expired = c.sessions_expired.load();
  o.sessions_dead = c.sessions_dead.load();
  return out;
}

}  // namespace kcpp::service::tunnel
