#include "transport/internal/worker.h"

#include <algorithm>
#include <condition_variable>
#include <utility>

#include "transport/internal/udp_endpoint.h"

namespace kcpp::transport::internal {
namespace {

constexpr size_t kSmallSlotBytes = 2048;  // > kcp-go's 1500-byte limit: detects oversize
constexpr size_t kSmallSlots = UdpSocket::kMaxBatch;
constexpr size_t kGroSlotBytes = 65536;
constexpr size_t kGroSlots = 16;
// Free KCP payload blocks a loop keeps for reuse (~750 KiB); the rest go
// back to the allocator once a second.
constexpr size_t kKeepFreeSegmentBlocks = 512;
constexpr int64_t kHousekeepingMs = 1000;
// Free FEC shard memory a loop keeps for reuse between iterations.
constexpr size_t kFecPoolKeepBytes = 1 << 20;

void MakeSlots(std::vector<uint8_t>* arena, std::vector<ReceiveSlot>* slots, size_t count,
               size_t bytes) {
  arena->resize(count * bytes);
  slots->resize(count);
  for (size_t i = 0; i < count; ++i) {
    (*slots)[i].buffer = absl::MakeSpan(arena->data() + i * bytes, bytes);
  }
}

}  // namespace

uint64_t Worker::NextId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

absl::StatusOr<std::shared_ptr<Worker>> Worker::Create(std::string name, int index,
                                                       int64_t busy_poll_us) {
  absl::StatusOr<std::unique_ptr<EventLoop>> ev = EventLoop::Create(std::move(name));
  if (!ev.ok()) return ev.status();
  (*ev)->SetBusyPoll(busy_poll_us);
  std::shared_ptr<Worker> loop(new Worker(*std::move(ev), index));
  loop->event_loop_->Start();
  return loop;
}

Worker::Worker(std::unique_ptr<EventLoop> event_loop, int index)
    : index_(index), event_loop_(std::move(event_loop)) {
  MakeSlots(&small_arena_, &small_slots_, kSmallSlots, kSmallSlotBytes);
  event_loop_->SetIterationEndHook([this] { EndOfIteration(); });
  housekeeping_timer_ = event_loop_->CreateTimer(&housekeeping_);
  event_loop_->ScheduleTimer(housekeeping_timer_, EventLoop::MonotonicMs() + kHousekeepingMs);
}

void Worker::Housekeeping::OnTimer(int64_t now_ms) {
  loop_->segment_pool_.Trim(kKeepFreeSegmentBlocks);
  loop_->event_loop_->ScheduleTimer(loop_->housekeeping_timer_, now_ms + kHousekeepingMs);
}

Worker::~Worker() { Shutdown(); }

void Worker::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (shut_down_) return;
  }
  // Tear down on the loop thread, then refuse further work and join.
  RunSync([this] { TearDown(); });
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    shut_down_ = true;
  }
  event_loop_->Stop();
}

void Worker::TearDown() {
  // Sessions first: they reference their listener's sockets.
  std::vector<uint64_t> ids;
  for (const auto& [id, object] : objects_) ids.push_back(id);
  std::sort(ids.begin(), ids.end(), [&](uint64_t a, uint64_t b) {
    // Higher ids were created later; sessions of a listener come after it.
    return a > b;
  });
  for (uint64_t id : ids) {
    auto it = objects_.find(id);
    it->second->OnShutdown();
  }
  for (uint64_t id : ids) {
    auto it = objects_.find(id);
    retired_ += it->second->FinalCounters();
    objects_.erase(it);
  }
  graveyard_.clear();
}

bool Worker::Post(absl::AnyInvocable<void()> task) {
  std::lock_guard<std::mutex> lock(state_mu_);
  if (shut_down_) return false;
  event_loop_->Post(std::move(task));
  return true;
}

bool Worker::RunSync(absl::AnyInvocable<void()> task) {
  if (IsLoopThread()) {
    task();
    return true;
  }
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  const bool posted = Post([&] {
    task();
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_all();
  });
  if (!posted) return false;
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  return true;
}

void Worker::Kick(uint64_t id) {
  if (IsLoopThread()) {
    local_kicks_.push_back(id);
    return;
  }
  bool wake;
  {
    std::lock_guard<std::mutex> lock(kick_mu_);
    wake = kicked_.empty();
    kicked_.push_back(id);
  }
  if (wake) Post([this] { ServiceKicked(); });
}

void Worker::ServiceKicked() {
  {
    std::lock_guard<std::mutex> lock(kick_mu_);
    kicked_work_.swap(kicked_);
  }
  const int64_t now = now_ms();
  for (uint64_t id : kicked_work_) {
    if (LoopObject* o = FindObject(id)) o->OnKick(now);
  }
  kicked_work_.clear();
}

absl::Span<ReceiveSlot> Worker::receive_slots(bool gro) {
  if (!gro) return absl::MakeSpan(small_slots_);
  if (gro_slots_.empty()) MakeSlots(&gro_arena_, &gro_slots_, kGroSlots, kGroSlotBytes);
  return absl::MakeSpan(gro_slots_);
}

void Worker::MarkDirty(UdpEndpoint* endpoint) {
  endpoint->dirty_ = true;
  dirty_.push_back(endpoint);
}

void Worker::ForgetEndpoint(UdpEndpoint* endpoint) {
  if (!endpoint->dirty_) return;
  dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), endpoint), dirty_.end());
  endpoint->dirty_ = false;
}

void Worker::EndOfIteration() {
  // Kicks from the loop thread and end-of-iteration work, which may cause
  // more of each (a callback writes, the write kicks); bounded rounds, the
  // rest in the next iteration (which a posted no-op makes sure comes).
  const int64_t now = now_ms();
  for (int round = 0; round < 8 && (!local_kicks_.empty() || !iteration_end_.empty()); ++round) {
    end_work_.swap(local_kicks_);
    for (uint64_t id : end_work_) {
      if (LoopObject* o = FindObject(id)) o->OnKick(now);
    }
    end_work_.clear();
    end_work_.swap(iteration_end_);
    for (uint64_t id : end_work_) {
      if (LoopObject* o = FindObject(id)) o->OnIterationEnd(now);
    }
    end_work_.clear();
  }
  if (!local_kicks_.empty() || !iteration_end_.empty()) event_loop_->Post([] {});
  // Flushing can't add endpoints: it only sends.
  for (UdpEndpoint* e : dirty_) {
    e->dirty_ = false;
    e->Flush();
  }
  dirty_.clear();
  graveyard_.clear();
  fec_pool_.Trim(kFecPoolKeepBytes);
}

void Worker::AddObject(uint64_t id, std::unique_ptr<LoopObject> object) {
  objects_.emplace(id, std::move(object));
}

void Worker::RemoveObject(uint64_t id) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return;
  retired_ += it->second->FinalCounters();
  graveyard_.push_back(std::move(it->second));
  objects_.erase(it);
}

LoopObject* Worker::FindObject(uint64_t id) {
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : it->second.get();
}

Counters Worker::TotalCounters() const {
  Counters c = retired_;
  for (const auto& [id, object] : objects_) c += object->LiveCounters();
  return c;
}

}  // namespace kcpp::transport::internal
