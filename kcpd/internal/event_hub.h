// EventHub: fans session events out to watchers (WatchSessionEvents), each
// with its own filter, bounded queue and optional periodic STATS samples.
//
//   EventHub hub({}, [&](const WatchFilter& f) { return SampleSessions(f); });
//   absl::StatusOr<std::shared_ptr<EventHub::Subscription>> sub =
//       hub.Subscribe(filter, uid, [&] { reactor->TryWrite(); });
//   hub.Publish(event);                          // from the backend's sink
//   while (EventPtr e = sub->PopShared()) Send(*e);  // in the watcher
//   if (auto end = sub->Finished()) Finish(*end);
//   hub.Unsubscribe(*sub);
//
// Memory is bounded, whoever watches and however slowly:
//   * at most max_watchers watchers, max_watchers_per_uid per uid; Subscribe
//     refuses one more with RESOURCE_EXHAUSTED naming the cap;
//   * an event is copied once, into an immutable shared EventPtr that every
//     watcher's queue references (24 bytes per queued event per watcher);
//   * a watcher whose queue would exceed max_queued_events events or
//     max_queued_bytes bytes (counting each event it references in full),
//     or that read none of two STATS samples before the next was due, is
//     ended with RESOURCE_EXHAUSTED at once and what it had queued is
//     released: a watcher that never reads holds nothing in the hub.
// So the hub holds at most max_watchers * max_queued_bytes of events (less
// when watchers share them: unfiltered watchers all reference the same
// ones), plus one STATS sample per watcher. Close() finishes every watcher
// (kcpd shutting down).
//
// Thread-safe. `wake` callbacks run without any hub lock held, on the
// publishing or the sampling thread, and must not block.
#ifndef KCPP_KCPD_INTERNAL_EVENT_HUB_H_
#define KCPP_KCPD_INTERNAL_EVENT_HUB_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/kcpp/v1/kcpd.pb.h"

namespace kcpp::service::internal {

// Which events a watcher wants (WatchSessionEventsRequest, validated).
struct WatchFilter {
  std::string listener;  // listener name, or empty for all
  std::string session;   // session name, or empty for all
  uint32_t types = 0;    // bit (1 << SessionEvent::Type) per wanted type
  absl::Duration stats_interval = absl::ZeroDuration();  // zero: no STATS

  bool Wants(kcpp::v1::SessionEvent::Type type) const { return (types >> type) & 1; }
  bool Matches(const kcpp::v1::Session& session) const;
};

// Validates a watch request: names, event types, stats_interval 100ms..1h.
absl::StatusOr<WatchFilter> WatchFilterFromRequest(
    const kcpp::v1::WatchSessionEventsRequest& request);

// One event as every watcher sees it: immutable and shared.
using EventPtr = std::shared_ptr<const kcpp::v1::SessionEvent>;

class EventHub {
 public:
  struct Options {
    size_t max_queued_events = 4096;
    size_t max_queued_bytes = 1 << 20;
    size_t max_watchers = 128;
    size_t max_watchers_per_uid = 16;
  };
  // What the hub holds now and what it refused (kcpd.proto Stats).
  struct Counters {
    size_t watchers = 0;
    uint64_t refused = 0;       // Subscribe over a cap
    uint64_t ended_behind = 0;  // watchers ended for falling behind
    uint64_t queued_events = 0;  // summed over watchers
    int64_t event_bytes = 0;     // events and samples alive, each once
  };
  // Sessions matching a filter, sampled for STATS events. Called without
  // hub locks held, on the hub's sampling thread.
  using StatsSource = std::function<std::vector<kcpp::v1::Session>(const WatchFilter&)>;

  // Bytes of events and samples alive (shared with the events' deleters,
  // which may run after the hub is gone: a gRPC write still holds one).
  struct Accounting {
    std::atomic<int64_t> bytes{0};
    std::atomic<int64_t> queued_events{0};
  };

  class Subscription {
   public:
    ~Subscription();
    // The next event (shared with the other watchers: no copy), or nullptr
    // if none is waiting now.
    EventPtr PopShared();
    // The same, as a copy of its own (tests), or nullopt.
    std::optional<kcpp::v1::SessionEvent> Pop();
    // Set once the watch must end and everything before the end was popped.
    std::optional<absl::Status> Finished();

   private:
    friend class EventHub;
    Subscription(WatchFilter filter, std::function<void()> wake, uint64_t uid_key,
                 const Options& options, std::shared_ptr<Accounting> accounting)
        : filter_(std::move(filter)),
          wake_(std::move(wake)),
          uid_key_(uid_key),
          options_(options),
          accounting_(std::move(accounting)) {}
    // Return true if the watcher should be woken; *fell_behind is set when
    // this push ended the watch.
    bool Push(const EventPtr& event, size_t bytes, bool* fell_behind);
    bool SetSamples(std::vector<kcpp::v1::Session> sessions, absl::Time time,
                    bool* fell_behind);
    bool End(absl::Status why);
    // With mu_ held: ends the watch and releases what it had queued.
    void EndLocked(absl::Status why);
    void ClearSamplesLocked();

    const WatchFilter filter_;
    const std::function<void()> wake_;
    const uint64_t uid_key_;
    const Options options_;
    const std::shared_ptr<Accounting> accounting_;
    absl::Time next_sample_ = absl::InfiniteFuture();  // guarded by the hub's mutex

    std::mutex mu_;
    struct Queued {
      EventPtr event;
      size_t bytes;
    };
    std::deque<Queued> events_;              // guarded by mu_
    size_t queued_bytes_ = 0;                // guarded by mu_
    std::deque<kcpp::v1::Session> samples_;  // guarded by mu_
    int64_t sample_bytes_ = 0;               // guarded by mu_
    bool sample_touched_ = true;             // guarded by mu_; a sample was popped since set
    int untouched_samples_ = 0;              // guarded by mu_; samples replaced unread
    absl::Time sample_time_;                 // guarded by mu_
    std::optional<absl::Status> end_;        // guarded by mu_
  };

  EventHub(Options options, StatsSource stats_source);
  // Ends every watch (as Close) and stops the sampling thread.
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // A new watcher for the caller with `uid` (nullopt: unknown, e.g. an
  // in-process channel; those share one count). RESOURCE_EXHAUSTED over
  // max_watchers or max_watchers_per_uid. After Close() the subscription is
  // finished at once.
  absl::StatusOr<std::shared_ptr<Subscription>> Subscribe(WatchFilter filter,
                                                          std::optional<uint32_t> uid,
                                                          std::function<void()> wake);
  void Unsubscribe(const std::shared_ptr<Subscription>& subscription);
  // Queues `event` for every watcher whose filter matches (one shared copy).
  void Publish(const kcpp::v1::SessionEvent& event);
  // Ends every watch with `why`; later subscriptions end at once too.
  void Close(absl::Status why);
  size_t watchers() const;
  Counters counters() const;

 private:
  void SampleLoop();

  const Options options_;
  const StatsSource stats_source_;
  const std::shared_ptr<Accounting> accounting_ = std::make_shared<Accounting>();
  std::atomic<uint64_t> ended_behind_{0};
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Subscription>> subscriptions_;  // guarded by mu_
  absl::flat_hash_map<uint64_t, size_t> per_uid_;             // guarded by mu_
  uint64_t refused_ = 0;                                      // guarded by mu_
  std::optional<absl::Status> closed_;                        // guarded by mu_
  bool stop_ = false;                                         // guarded by mu_
  uint64_t generation_ = 0;          // guarded by mu_; bumped when the sampler must re-plan
  std::condition_variable changed_;  // stop_ or generation_ changed
  std::thread sampler_;
};

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_EVENT_HUB_H_
