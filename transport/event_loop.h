// EventLoop: one thread, one epoll set, one timer heap, one clock reading per
// iteration. kcpp runs a fixed number of these per process, whatever the
// number of sessions (docs/architecture.md "Threads and time").
//
//   auto loop = EventLoop::Create("kcpp-loop-0");
//   (*loop)->Start();
//   (*loop)->Post([&] { /* runs on the loop thread */ });
//   (*loop)->Stop();   // runs queued tasks, joins the thread
//
// Methods marked "loop thread" may only be called from the loop's own thread
// (from a handler, a timer or a posted task); Post, Start and Stop from any
// thread. Synchronisation uses std::mutex so ThreadSanitizer sees it (the
// system Abseil is not instrumented).
#ifndef KCPP_TRANSPORT_EVENT_LOOP_H_
#define KCPP_TRANSPORT_EVENT_LOOP_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "transport/internal/busy_poll.h"
#include "transport/internal/timer_queue.h"

struct epoll_event;  // <sys/epoll.h>

namespace kcpp::transport {

class EventLoop {
 public:
  // Receives readiness of one file descriptor.
  class FdHandler {
   public:
    virtual ~FdHandler() = default;
    virtual void OnReadable() = 0;
    virtual void OnWritable() {}
  };

  // Receives a timer expiry; `now_ms` is the loop's clock for this iteration.
  class TimerHandler {
   public:
    virtual ~TimerHandler() = default;
    virtual void OnTimer(int64_t now_ms) = 0;
  };

  using TimerId = internal::TimerQueue::Id;

  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(std::string name);
  ~EventLoop();  // Stop()s if running

  // Starts the loop thread. Call once.
  void Start();
  // Runs every task posted so far, then stops and joins the thread.
  void Stop();

  // Runs `task` on the loop thread, in posting order. Any thread; from the
  // loop thread itself it costs no syscall (the task runs in this iteration
  // or the next, which then does not sleep).
  void Post(absl::AnyInvocable<void()> task);

  bool IsLoopThread() const { return std::this_thread::get_id() == thread_id_.load(); }

  // The loop's clock (CLOCK_MONOTONIC, ms), read once per iteration. Loop thread.
  int64_t now_ms() const { return now_ms_; }
  // Read CLOCK_MONOTONIC in ms / µs.
  static int64_t MonotonicMs();
  static int64_t MonotonicUs();

  // Loop thread: watches `fd` for readability (and writability if asked).
  // Events already collected in the current iteration may still reach a
  // handler after UnwatchFd: destroy handlers from a posted task, which runs
  // after the iteration's events.
  absl::Status WatchFd(int fd, FdHandler* handler, bool writable = false);
  absl::Status SetWritable(int fd, FdHandler* handler, bool writable);
  // Loop thread: sets both interests of a watched fd. With neither, only a
  // hang-up or error is reported (through OnReadable), which lets a reader
  // that is applying back-pressure, or that saw end-of-file, stop polling a
  // level-triggered readable fd without losing sight of the peer closing it.
  absl::Status SetInterest(int fd, FdHandler* handler, bool readable, bool writable);
  void UnwatchFd(int fd);

  // Loop thread: timers. A timer fires once per Schedule.
  //
  // Ownership: the loop does not own `handler`; it calls it until
  // ReleaseTimer(id). The owner releases its timer before the handler dies
  // (in its destructor, or in the teardown that precedes it); after
  // ReleaseTimer the handler is never called, even if the timer was due in
  // this iteration, so it may be destroyed at once. Timers need no
  // descriptors: they keep firing with the process at RLIMIT_NOFILE.
  TimerId CreateTimer(TimerHandler* handler);
  void ScheduleTimer(TimerId id, int64_t deadline_ms) { timers_.Schedule(id, deadline_ms); }
  void CancelTimer(TimerId id) { timers_.Cancel(id); }
  void ReleaseTimer(TimerId id);
  size_t scheduled_timers() const { return timers_.scheduled(); }

  // Loop thread (or before Start): `hook` runs at the end of every iteration,
  // after events, timers and tasks — where batched output is flushed, so that
  // everything one iteration produced leaves in as few syscalls as possible.
  void SetIterationEndHook(absl::AnyInvocable<void()> hook) { iteration_end_ = std::move(hook); }

  // Before Start: after an iteration that handled events, poll for up to
  // `budget_us` microseconds before sleeping, as long as such polls keep
  // catching the next event (internal::BusyPollPolicy; 0, the default, never
  // polls). See EngineOptions::busy_poll_us.
  void SetBusyPoll(int64_t budget_us) { busy_poll_ = internal::BusyPollPolicy(budget_us); }

  // Iterations run so far (for tests and stats).
  uint64_t iterations() const { return iterations_.load(std::memory_order_relaxed); }
  // Busy polls done, and those that caught an event (for stats).
  uint64_t busy_polls() const { return busy_polls_.load(std::memory_order_relaxed); }
  uint64_t busy_poll_hits() const { return busy_poll_hits_.load(std::memory_order_relaxed); }

 private:
  EventLoop(std::string name, int epoll_fd, int wake_fd);
  void Run();
  void RunTasks();
  void Wake();
  // Polls the epoll set without sleeping for up to the busy-poll budget (or
  // until `timeout_ms`, the loop's next timer, if sooner); returns epoll's
  // count (0: nothing came).
  int BusyPoll(::epoll_event* events, int max_events, int timeout_ms);

  const std::string name_;
  const int epoll_fd_;
  const int wake_fd_;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> iterations_{0};
  std::atomic<uint64_t> busy_polls_{0};
  std::atomic<uint64_t> busy_poll_hits_{0};
  internal::BusyPollPolicy busy_poll_;  // loop thread
  int64_t now_ms_ = 0;

  std::mutex mu_;
  std::vector<absl::AnyInvocable<void()>> tasks_;    // guarded by mu_
  std::vector<absl::AnyInvocable<void()>> running_;  // loop thread only
  bool posted_here_ = false;  // loop thread only: Post from it since RunTasks' swap

  internal::TimerQueue timers_;
  std::vector<TimerHandler*> timer_handlers_;  // by TimerId
  absl::AnyInvocable<void()> iteration_end_;
};

}  // namespace kcpp::transport

#endif  // KCPP_TRANSPORT_EVENT_LOOP_H_
