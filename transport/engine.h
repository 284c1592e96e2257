// Engine: the fixed set of event-loop threads that run every kcpp session of
// a process (docs/architecture.md "Threads and time"), and the factory of
// sessions (Dial) and listeners (Listen).
//
//   KCPP_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create({}));
//   auto session = engine->Dial("127.0.0.1:4000", SessionOptions{});
//   auto listener = engine->Listen("0.0.0.0:4000", ListenerOptions{});
//
// Each loop owns an epoll set, a timer heap and a packet buffer pool; a
// session is driven only at its next KCP deadline, so idle sessions cost
// nothing but memory. Destroying the engine fails every session and listener
// it still runs (their handles then return Unavailable) and joins the loops.
//
// Thread safety: all methods from any thread.
#ifndef KCPP_TRANSPORT_ENGINE_H_
#define KCPP_TRANSPORT_ENGINE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "transport/counters.h"
#include "transport/event_loop.h"
#include "transport/listener.h"
#include "transport/options.h"
#include "transport/session.h"

namespace kcpp::transport {

namespace internal {
class Worker;
}  // namespace internal

struct EngineOptions {
  // Event-loop threads; 0 = one per CPU core.
  int loops = 0;
  // Thread names are "<name>-<index>" (visible in top -H, perf, gdb).
  std::string name = "kcpp";
  // Busy polling, in microseconds: after handling datagrams, a loop polls
  // for up to this long before it sleeps (yielding the CPU to any other
  // runnable thread between polls), as long as at least 3 in 4 such polls
  // catch the next datagram — replies that come fast then skip a thread
  // wake-up, which costs tens of microseconds on a virtual machine
  // (bench/README.md "transport" has what it saves). Where polls keep missing
  // (many sessions each sending now and then), a loop only tries once every
  // 128 sleeps, so sparse traffic costs the same CPU as without polling.
  // 0 never polls. At most 1000.
  int busy_poll_us = 50;
};

// Process-wide numbers (kcp-go's DefaultSnmp, §5.9).
struct EngineStats {
  Counters counters;           // every session, live and gone
  uint64_t active_opens = 0;   // sessions dialled
  uint64_t passive_opens = 0;  // sessions created by listeners
  uint32_t current_sessions = 0;
  uint32_t max_sessions = 0;  // high-water mark (sum of the loops' own)
  uint32_t loops = 0;
  uint64_t busy_polls = 0;      // polls before sleeping (EngineOptions::busy_poll_us)
  uint64_t busy_poll_hits = 0;  // of which caught a datagram or task
  // Memory of the loops' pools — packet buffers, KCP payload blocks, FEC
  // shards and scratch — in use or kept for reuse, in bytes.
  uint64_t pool_bytes = 0;
  // How often those pools went to the allocator. Never per packet: a warm
  // engine adds to it only when the data in flight reaches a new peak, or
  // after a loop's once-a-second housekeeping gave KCP payload blocks back
  // (it keeps 512 free per loop).
  uint64_t pool_allocations = 0;
  // 4 KiB chunks the session queues (Write's outbound and Read's inbound
  // bytes) took from the allocator, likewise only at a new peak of queued
  // bytes. Process-wide: every engine's sessions share that chunk pool, so
  // two engines of one process report the same figure.
  uint64_t queue_chunk_allocations = 0;
};

class Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Create(const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Opens a session to `remote` ("ip:port" or "[v6]:port"; numeric, no DNS)
  // from an ephemeral local port. `conv` 0 draws a random conversation id
  // (kcp-go: 4 random bytes, §5.1). There is no handshake: the call returns
  // at once; the first datagram creates the peer's session.
  absl::StatusOr<std::unique_ptr<Session>> Dial(absl::string_view remote,
                                                const SessionOptions& options, uint32_t conv = 0);
  // Binds `address` (port 0 picks one) on every loop with SO_REUSEPORT.
  absl::StatusOr<std::unique_ptr<Listener>> Listen(absl::string_view address,
                                                   const ListenerOptions& options);

  int loop_count() const;
  // Loop `index` (0 .. loop_count() - 1) itself, for an owner that runs its
  // own non-blocking I/O (sockets, timers, tasks) on the thread of the
  // sessions it serves, so that a session's callbacks and that I/O need no
  // thread hand-off (kcpd's data plane does this: Session::loop_index says
  // where a session lives). Use its "loop thread" methods only from a
  // callback, handler, timer or task on that loop, Post from anywhere, and
  // only while the engine lives. The engine starts and stops it: never call
  // Start or Stop.
  EventLoop& event_loop(int index);
  // Totals over every loop, taken on the loops.
  EngineStats GetStats() const;

 private:
  explicit Engine(std::vector<std::shared_ptr<internal::Worker>> loops);
  std::vector<std::shared_ptr<internal::Worker>> loops_;
};

}  // namespace kcpp::transport

#endif  // KCPP_TRANSPORT_ENGINE_H_
