// Worker: one event-loop thread of an Engine and everything it owns — the
// epoll loop, the packet buffer pool, receive buffers, the list of UDP
// endpoints with output to flush at the end of the iteration, and the
// sessions living on it.
//
// Sessions are addressed by a process-unique id; application threads wake a
// session with Kick(id), which queues the id and wakes the loop (no
// allocation, no reference to a session that may already be gone).
#ifndef KCPP_TRANSPORT_INTERNAL_WORKER_H_
#define KCPP_TRANSPORT_INTERNAL_WORKER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "fec/shard_pool.h"
#include "kcp/segment_pool.h"
#include "transport/counters.h"
#include "transport/event_loop.h"
#include "transport/internal/buffer_pool.h"
#include "transport/udp_socket.h"

namespace kcpp::transport::internal {

class UdpEndpoint;

// Something that lives on one loop (a session, a listener's socket on this
// loop) and is created, driven and destroyed only there.
class LoopObject {
 public:
  virtual ~LoopObject() = default;
  // An application thread asked for attention (Worker::Kick).
  virtual void OnKick(int64_t now_ms) {}
  // Asked for with Worker::AtIterationEnd: runs after the iteration's events,
  // timers and tasks, before its output is flushed.
  virtual void OnIterationEnd(int64_t now_ms) {}
  // The engine is shutting down; the object is destroyed right after.
  virtual void OnShutdown() {}
  // Counters to keep once the object is gone (sessions).
  virtual Counters FinalCounters() const { return {}; }
  virtual Counters LiveCounters() const { return {}; }
};

class Worker {
 public:
  // `busy_poll_us`: EventLoop::SetBusyPoll.
  static absl::StatusOr<std::shared_ptr<Worker>> Create(std::string name, int index,
                                                        int64_t busy_poll_us = 0);
  // Shutdown(), then frees the thread's resources.
  ~Worker();
  // Tears down every object on the loop (OnShutdown, then destroyed) and
  // joins the thread. Afterwards Post/RunSync/Kick do nothing and return
  // false. Idempotent; not from the loop thread.
  void Shutdown();

  int index() const { return index_; }
  EventLoop& event_loop() { return *event_loop_; }
  bool IsLoopThread() const { return event_loop_->IsLoopThread(); }
  int64_t now_ms() const { return event_loop_->now_ms(); }

  // Any thread: runs `task` on the loop. False if the loop is shut down.
  bool Post(absl::AnyInvocable<void()> task);
  // Any thread: runs `task` on the loop and waits for it (inline when called
  // on the loop thread). False, without running it, if shut down.
  bool RunSync(absl::AnyInvocable<void()> task);
  // Any thread: asks the loop to call OnKick of object `id` soon (no
  // allocation; an id that is gone by then is ignored). From the loop thread
  // itself (a callback writing), no syscall: OnKick runs at the end of the
  // iteration, so what it sends leaves with the iteration's other output.
  void Kick(uint64_t id);

  // ---- loop thread ----
  BufferPool& pool() { return pool_; }
  // KCP payload storage shared by the loop's sessions.
  kcp::SegmentPool& segment_pool() { return segment_pool_; }
  // FEC shard storage, scratch and Reed-Solomon codecs shared by the loop's
  // sessions; trimmed at the end of every iteration.
  fec::ShardPool& fec_pool() { return fec_pool_; }
  // Scratch space for one operation at a time (e.g. a read out of KCP).
  std::vector<uint8_t>& scratch() { return scratch_; }
  // Session bookkeeping for EngineStats (loop thread).
  struct SessionTally {
    uint64_t active_opens = 0;
    uint64_t passive_opens = 0;
    uint32_t current = 0;
    uint32_t max = 0;
  };
  SessionTally& tally() { return tally_; }
  // Receive slots over loop-owned buffers: small (2 KiB) slots, or 64 KiB
  // ones for sockets with UDP GRO.
  absl::Span<ReceiveSlot> receive_slots(bool gro);
  void MarkDirty(UdpEndpoint* endpoint);
  // Calls OnIterationEnd of object `id` at the end of this iteration (once,
  // however often asked).
  void AtIterationEnd(uint64_t id) { iteration_end_.push_back(id); }
  void ForgetEndpoint(UdpEndpoint* endpoint);

  void AddObject(uint64_t id, std::unique_ptr<LoopObject> object);
  // Destroys object `id` at the end of the current iteration (never under a
  // caller's feet), keeping its final counters.
  void RemoveObject(uint64_t id);
  LoopObject* FindObject(uint64_t id);
  size_t object_count() const { return objects_.size(); }
  // Counters of every session on this loop, live and gone.
  Counters TotalCounters() const;
  void AddSendQueueDrops(uint64_t n) { retired_.send_drops += n; }

  // Process-unique ids for loop objects.
  static uint64_t NextId();

 private:
  Worker(std::unique_ptr<EventLoop> event_loop, int index);
  // Once a second: give idle KCP payload blocks back to the allocator.
  class Housekeeping : public EventLoop::TimerHandler {
   public:
    explicit Housekeeping(Worker* loop) : loop_(loop) {}
    void OnTimer(int64_t now_ms) override;

   private:
    Worker* loop_;
  };
  void EndOfIteration();
  void ServiceKicked();
  void TearDown();

  const int index_;
  std::unique_ptr<EventLoop> event_loop_;
  BufferPool pool_;
  kcp::SegmentPool segment_pool_;
  fec::ShardPool fec_pool_;
  std::vector<uint8_t> scratch_;
  SessionTally tally_;
  Housekeeping housekeeping_{this};
  EventLoop::TimerId housekeeping_timer_;

  std::vector<uint8_t> small_arena_;
  std::vector<ReceiveSlot> small_slots_;
  std::vector<uint8_t> gro_arena_;
  std::vector<ReceiveSlot> gro_slots_;

  std::vector<UdpEndpoint*> dirty_;

  std::mutex kick_mu_;
  std::vector<uint64_t> kicked_;         // guarded by kick_mu_
  std::vector<uint64_t> kicked_work_;    // loop thread
  std::vector<uint64_t> local_kicks_;    // loop thread: kicks from the loop thread
  std::vector<uint64_t> iteration_end_;  // loop thread
  std::vector<uint64_t> end_work_;       // loop thread

  absl::flat_hash_map<uint64_t, std::unique_ptr<LoopObject>> objects_;
  std::vector<std::unique_ptr<LoopObject>> graveyard_;  // destroyed at the end of the iteration
  Counters retired_;

  std::mutex state_mu_;
  bool shut_down_ = false;  // guarded by state_mu_
};

}  // namespace kcpp::transport::internal

#endif  // KCPP_TRANSPORT_INTERNAL_WORKER_H_
