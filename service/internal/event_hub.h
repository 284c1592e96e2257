// EventHub: fans session events out to watchers (WatchSessionEvents), each
// with its own filter, bounded queue and optional periodic STATS samples.
//
//   EventHub hub({}, [&](const WatchFilter& f) { return SampleSessions(f); });
//   auto sub = hub.Subscribe(filter, [&] { reactor->TryWrite(); });
//   hub.Publish(event);                          // from the backend's sink
//   while (auto e = sub->Pop()) Send(*e);         // in the watcher
//   if (auto end = sub->Finished()) Finish(*end);
//   hub.Unsubscribe(sub);
//
// Memory is bounded: a watcher whose queue holds max_queued_events
// lifecycle events gets no more; once it has drained them it is finished
// with RESOURCE_EXHAUSTED (it should re-list and watch again). STATS samples
// never queue up: a new sample replaces what is left of the previous one.
// Close() finishes every watcher (kcpd shutting down).
//
// Thread-safe. `wake` callbacks run without any hub lock held, on the
// publishing or the sampling thread, and must not block.
#ifndef KCPP_SERVICE_INTERNAL_EVENT_HUB_H_
#define KCPP_SERVICE_INTERNAL_EVENT_HUB_H_

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

class EventHub {
 public:
  struct Options {
    size_t max_queued_events = 4096;
  };
  // Sessions matching a filter, sampled for STATS events. Called without
  // hub locks held, on the hub's sampling thread.
  using StatsSource = std::function<std::vector<kcpp::v1::Session>(const WatchFilter&)>;

  class Subscription {
   public:
    // The next event, or nullopt if none is waiting now.
    std::optional<kcpp::v1::SessionEvent> Pop();
    // Set once the watch must end and everything before the end was popped.
    std::optional<absl::Status> Finished();

   private:
    friend class EventHub;
    Subscription(WatchFilter filter, std::function<void()> wake, size_t capacity)
        : filter_(std::move(filter)), wake_(std::move(wake)), capacity_(capacity) {}
    // Return true if the watcher should be woken.
    bool Push(const kcpp::v1::SessionEvent& event);
    bool SetSamples(std::vector<kcpp::v1::Session> sessions, absl::Time time);
    bool End(absl::Status why);

    const WatchFilter filter_;
    const std::function<void()> wake_;
    const size_t capacity_;
    absl::Time next_sample_ = absl::InfiniteFuture();  // guarded by the hub's mutex

    std::mutex mu_;
    std::deque<kcpp::v1::SessionEvent> events_;  // guarded by mu_
    std::deque<kcpp::v1::Session> samples_;      // guarded by mu_
    absl::Time sample_time_;                     // guarded by mu_
    std::optional<absl::Status> end_;            // guarded by mu_
  };

  EventHub(Options options, StatsSource stats_source);
  // Ends every watch (as Close) and stops the sampling thread.
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // A new watcher. After Close() the subscription is finished at once.
  std::shared_ptr<Subscription> Subscribe(WatchFilter filter, std::function<void()> wake);
  void Unsubscribe(const std::shared_ptr<Subscription>& subscription);
  // Queues `event` for every watcher whose filter matches.
  void Publish(const kcpp::v1::SessionEvent& event);
  // Ends every watch with `why`; later subscriptions end at once too.
  void Close(absl::Status why);
  size_t watchers() const;

 private:
  void SampleLoop();

  const Options options_;
  const StatsSource stats_source_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Subscription>> subscriptions_;  // guarded by mu_
  std::optional<absl::Status> closed_;                        // guarded by mu_
  bool stop_ = false;                                         // guarded by mu_
  uint64_t generation_ = 0;          // guarded by mu_; bumped when the sampler must re-plan
  std::condition_variable changed_;  // stop_ or generation_ changed
  std::thread sampler_;
};

}  // namespace kcpp::service::internal

#endif  // KCPP_SERVICE_INTERNAL_EVENT_HUB_H_
