#include "transport/engine.h"

#include <atomic>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "transport/internal/chunked_byte_queue.h"
#include "transport/internal/listener_core.h"
#include "transport/internal/session_access.h"
#include "transport/internal/session_core.h"
#include "transport/internal/session_shared.h"
#include "transport/internal/udp_endpoint.h"
#include "transport/internal/worker.h"

namespace kcpp::transport {
namespace {

using internal::Worker;

// PBKDF2 with 4096 rounds costs about a millisecond; a server dialling or
// listening many times with the same passphrase derives it once. Ciphers
// are immutable and shareable across sessions and threads.
absl::StatusOr<std::shared_ptr<const crypt::PacketCipher>> CipherFor(const SessionOptions& o) {
  static std::mutex mu;
  static auto* cache =
      new absl::flat_hash_map<std::string, std::shared_ptr<const crypt::PacketCipher>>();
  const std::string cache_key = absl::StrCat(o.crypt, "\n", o.key);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find(cache_key);
    if (it != cache->end()) return it->second;
  }
  absl::StatusOr<std::unique_ptr<crypt::PacketCipher>> c =
      crypt::NewKcptunPacketCipher(o.crypt, crypt::DeriveKcptunKey(o.key));
  if (!c.ok()) return c.status();
  std::shared_ptr<const crypt::PacketCipher> shared = *std::move(c);
  std::lock_guard<std::mutex> lock(mu);
  if (cache->size() >= 64) cache->clear();  // bounded: a few keys per process is the norm
  cache->emplace(cache_key, shared);
  return shared;
}

UdpSocket::Options SocketOptions(const SessionOptions& o, bool reuse_port) {
  UdpSocket::Options s;
  s.reuse_port = reuse_port;
  s.receive_buffer_bytes = o.EffectiveSocketBufferBytes();
  s.send_buffer_bytes = s.receive_buffer_bytes;
  s.dscp = o.dscp;
  s.allow_gso = true;
  s.allow_gro = true;
  return s;
}

uint32_t RandomConv() {
  thread_local absl::BitGen gen;
  return absl::Uniform<uint32_t>(gen);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& options) {
  int n = options.loops;
  if (n < 0) return absl::InvalidArgumentError(absl::StrCat("loops must be >= 0, got ", n));
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  if (options.busy_poll_us < 0 || options.busy_poll_us > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("busy_poll_us must be 0..1000, got ", options.busy_poll_us));
  }
  std::vector<std::shared_ptr<Worker>> loops;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<std::shared_ptr<Worker>> loop =
        Worker::Create(absl::StrCat(options.name, "-", i), i, options.busy_poll_us);
    if (!loop.ok()) return loop.status();
    loops.push_back(*std::move(loop));
  }
  return std::unique_ptr<Engine>(new Engine(std::move(loops)));
}

Engine::Engine(std::vector<std::shared_ptr<Worker>> loops) : loops_(std::move(loops)) {}

Engine::~Engine() {
  for (auto& loop : loops_) loop->Shutdown();
}

int Engine::loop_count() const { return static_cast<int>(loops_.size()); }

EventLoop& Engine::event_loop(int index) { return loops_.at(index)->event_loop(); }

absl::StatusOr<std::unique_ptr<Session>> Engine::Dial(absl::string_view remote,
                                                      const SessionOptions& options,
                                                      uint32_t conv) {
  absl::Status valid = options.Validate();
  if (!valid.ok()) return valid;
  absl::StatusOr<SocketAddress> to = SocketAddress::Parse(remote);
  if (!to.ok()) return to.status();
  absl::StatusOr<std::shared_ptr<const crypt::PacketCipher>> cipher = CipherFor(options);
  if (!cipher.ok()) return cipher.status();
  if (conv == 0) conv = RandomConv();

  static std::atomic<uint32_t> next_loop{0};
  const std::shared_ptr<Worker>& loop = loops_[next_loop.fetch_add(1) % loops_.size()];
  absl::Status status = absl::UnavailableError("the engine shut down");
  std::shared_ptr<internal::SessionShared> shared;
  loop->RunSync([&] {
    absl::StatusOr<std::unique_ptr<UdpSocket>> socket =
        UdpSocket::Bind(*SocketAddress::Parse(to->is_ipv6() ? "[::]:0" : "0.0.0.0:0"),
                        SocketOptions(options, false));
    if (!socket.ok()) {
      status = socket.status();
      return;
    }
    const SocketAddress local = (*socket)->local_address();
    const uint64_t id = Worker::NextId();
    auto s = std::make_shared<internal::SessionShared>(id, loop, options, conv, local, *to,
                                                       /*accepted=*/false);
    absl::StatusOr<std::unique_ptr<internal::SessionCore>> core =
        internal::SessionCore::Create(loop.get(), s, *cipher, nullptr, nullptr);
    if (!core.ok()) {
      status = core.status();
      return;
    }
    absl::StatusOr<std::unique_ptr<internal::UdpEndpoint>> endpoint =
        internal::UdpEndpoint::Create(loop.get(), *std::move(socket), core->get());
    if (!endpoint.ok()) {
      status = endpoint.status();
      return;
    }
    (*core)->AdoptEndpoint(*std::move(endpoint));
    (*core)->Start(loop->now_ms());
    loop->AddObject(id, *std::move(core));
    shared = std::move(s);
    status = absl::OkStatus();
  });
  if (!status.ok()) return status;
  return internal::SessionAccess::Make(std::move(shared));
}

absl::StatusOr<std::unique_ptr<Listener>> Engine::Listen(absl::string_view address,
                                                         const ListenerOptions& options) {
  absl::Status valid = options.Validate();
  if (!valid.ok()) return valid;
  absl::StatusOr<SocketAddress> at = SocketAddress::Parse(address);
  if (!at.ok()) return at.status();
  absl::StatusOr<std::shared_ptr<const crypt::PacketCipher>> cipher = CipherFor(options.session);
  if (!cipher.ok()) return cipher.status();

  // One SO_REUSEPORT socket per loop; the first picks the port if 0 was asked.
  std::vector<std::unique_ptr<UdpSocket>> sockets;
  SocketAddress bind_to = *at;
  for (size_t i = 0; i < loops_.size(); ++i) {
    absl::StatusOr<std::unique_ptr<UdpSocket>> s =
        UdpSocket::Bind(bind_to, SocketOptions(options.session, /*reuse_port=*/true));
    if (!s.ok()) return s.status();
    if (i == 0) bind_to = (*s)->local_address();
    sockets.push_back(*std::move(s));
  }
  auto shared = std::make_shared<internal::ListenerState>(options, *cipher, bind_to);
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < loops_.size(); ++i) {
    const std::shared_ptr<Worker>& loop = loops_[i];
    const uint64_t id = Worker::NextId();
    absl::Status status = absl::UnavailableError("the engine shut down");
    loop->RunSync([&] {
      absl::StatusOr<std::unique_ptr<internal::ListenerSocket>> part =
          internal::ListenerSocket::Create(loop, id, shared, std::move(sockets[i]));
      if (!part.ok()) {
        status = part.status();
        return;
      }
      loop->AddObject(id, *std::move(part));
      status = absl::OkStatus();
    });
    if (!status.ok()) {
      shared->SetSockets(std::vector<std::shared_ptr<Worker>>(loops_.begin(), loops_.begin() + i),
                         ids);
      shared->Close(false);
      return status;
    }
    ids.push_back(id);
  }
  shared->SetSockets(loops_, std::move(ids));
  return std::unique_ptr<Listener>(new Listener(std::move(shared)));
}

EngineStats Engine::GetStats() const {
  EngineStats s;
  s.loops = static_cast<uint32_t>(loops_.size());
  for (const auto& loop : loops_) {
    loop->RunSync([&] {
      s.counters += loop->TotalCounters();
      const Worker::SessionTally& t = loop->tally();
      s.active_opens += t.active_opens;
      s.passive_opens += t.passive_opens;
      s.current_sessions += t.current;
      s.max_sessions += t.max;
      s.busy_polls += loop->event_loop().busy_polls();
      s.busy_poll_hits += loop->event_loop().busy_poll_hits();
      s.pool_bytes += loop->pool().bytes_reserved() + loop->segment_pool().bytes_reserved() +
                      loop->fec_pool().bytes_reserved();
      s.pool_allocations += loop->pool().allocations() + loop->segment_pool().allocations() +
                            loop->fec_pool().allocations();
    });
  }
  s.queue_chunk_allocations = internal::ChunkPool::Default().allocations();
  return s;
}

}  // namespace kcpp::transport
