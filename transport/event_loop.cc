#include "transport/event_loop.h"

#include <errno.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/errno_status.h"

namespace kcpp::transport {

int64_t EventLoop::MonotonicUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int64_t EventLoop::MonotonicMs() { return MonotonicUs() / 1000; }

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create(std::string name) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return ErrnoStatus("epoll_create1");
  const int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    const int err = errno;
    close(ep);
    return ErrnoStatus("eventfd", err);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // nullptr marks the wake fd
  if (epoll_ctl(ep, EPOLL_CTL_ADD, wake, &ev) != 0) {
    const int err = errno;
    close(ep);
    close(wake);
    return ErrnoStatus("epoll_ctl(eventfd)", err);
  }
  return std::unique_ptr<EventLoop>(new EventLoop(std::move(name), ep, wake));
}

EventLoop::EventLoop(std::string name, int epoll_fd, int wake_fd)
    : name_(std::move(name)), epoll_fd_(epoll_fd), wake_fd_(wake_fd) {
  now_ms_ = MonotonicMs();
}

EventLoop::~EventLoop() {
  Stop();
  close(wake_fd_);
  close(epoll_fd_);
}

void EventLoop::Start() {
  thread_ = std::thread([this] {
    thread_id_.store(std::this_thread::get_id());
    Run();
  });
}

void EventLoop::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  Wake();
  thread_.join();
  thread_id_.store(std::thread::id());
}

void EventLoop::Post(absl::AnyInvocable<void()> task) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_empty = tasks_.empty();
    tasks_.push_back(std::move(task));
  }
  // From the loop thread no wake-up is needed (and none is paid for): Run
  // does not sleep while posted_here_ is set.
  if (IsLoopThread()) {
    posted_here_ = true;
  } else if (was_empty) {
    Wake();
  }
}

void EventLoop::Wake() {
  const uint64_t one = 1;
  // A full eventfd counter (EAGAIN) still wakes the loop: nothing to do.
  (void)!write(wake_fd_, &one, sizeof(one));
}

absl::Status EventLoop::WatchFd(int fd, FdHandler* handler, bool writable) {
  epoll_event ev{};
  ev.events = uint32_t{EPOLLIN} | (writable ? uint32_t{EPOLLOUT} : 0u);
  ev.data.ptr = handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return ErrnoStatus(absl::StrCat("epoll_ctl(ADD ", fd, ")"), errno);
  }
  return absl::OkStatus();
}

absl::Status EventLoop::SetWritable(int fd, FdHandler* handler, bool writable) {
  epoll_event ev{};
  ev.events = uint32_t{EPOLLIN} | (writable ? uint32_t{EPOLLOUT} : 0u);
  ev.data.ptr = handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
    return ErrnoStatus(absl::StrCat("epoll_ctl(MOD ", fd, ")"), errno);
  }
  return absl::OkStatus();
}

absl::Status EventLoop::SetInterest(int fd, FdHandler* handler, bool readable, bool writable) {
  epoll_event ev{};
  ev.events = (readable ? uint32_t{EPOLLIN} : 0u) | (writable ? uint32_t{EPOLLOUT} : 0u);
  ev.data.ptr = handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
    return ErrnoStatus(absl::StrCat("epoll_ctl(MOD ", fd, ")"), errno);
  }
  return absl::OkStatus();
}

void EventLoop::UnwatchFd(int fd) { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

EventLoop::TimerId EventLoop::CreateTimer(TimerHandler* handler) {
  const TimerId id = timers_.Create();
  if (id >= timer_handlers_.size()) timer_handlers_.resize(id + 1, nullptr);
  timer_handlers_[id] = handler;
  return id;
}

void EventLoop::ReleaseTimer(TimerId id) {
  timers_.Release(id);
  timer_handlers_[id] = nullptr;
}

void EventLoop::RunTasks() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_.swap(tasks_);
  }
  posted_here_ = false;  // what the loop thread posted is in running_ now
  for (auto& task : running_) task();
  running_.clear();
}

int EventLoop::BusyPoll(epoll_event* events, int max_events, int timeout_ms) {
  const int64_t start = MonotonicUs();
  int64_t budget = busy_poll_.budget_us();
  if (timeout_ms > 0 && budget > int64_t{timeout_ms} * 1000) budget = int64_t{timeout_ms} * 1000;
  busy_polls_.fetch_add(1, std::memory_order_relaxed);
  int n = 0;
  while ((n = epoll_wait(epoll_fd_, events, max_events, 0)) == 0 && !stopping_.load() &&
         MonotonicUs() - start < budget) {
    sched_yield();
  }
  if (n < 0) n = 0;  // EINTR: the blocking wait follows
  busy_poll_.Record(n > 0);
  if (n > 0) busy_poll_hits_.fetch_add(1, std::memory_order_relaxed);
  return n;
}

void EventLoop::Run() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  bool handled_events = false;  // the last iteration's epoll_wait returned events
  while (true) {
    now_ms_ = MonotonicMs();
    const int64_t next = timers_.NextDeadline();
    int timeout = -1;
    if (next != internal::TimerQueue::kNever) {
      const int64_t wait = next - now_ms_;
      timeout = wait <= 0 ? 0 : (wait > 60000 ? 60000 : static_cast<int>(wait));
    }
    if (posted_here_) timeout = 0;  // posted from this thread after RunTasks took its batch
    int n = 0;
    if (timeout != 0 && handled_events && busy_poll_.ShouldPoll()) {
      n = BusyPoll(events, kMaxEvents, timeout);
    }
    if (n == 0) n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
    handled_events = n > 0;
    iterations_.fetch_add(1, std::memory_order_relaxed);
    now_ms_ = MonotonicMs();  // the one reading this iteration's work uses
    for (int i = 0; i < n; ++i) {
      auto* handler = static_cast<FdHandler*>(events[i].data.ptr);
      if (handler == nullptr) {
        uint64_t drained;
        (void)!read(wake_fd_, &drained, sizeof(drained));
        continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) handler->OnReadable();
      if (events[i].events & EPOLLOUT) handler->OnWritable();
    }
    TimerId id;
    while (timers_.PopExpired(now_ms_, &id)) {
      if (TimerHandler* h = timer_handlers_[id]) h->OnTimer(now_ms_);
    }
    RunTasks();
    if (iteration_end_) iteration_end_();
    if (stopping_.load()) {
      RunTasks();
      if (iteration_end_) iteration_end_();
      return;
    }
  }
}

}  // namespace kcpp::transport
