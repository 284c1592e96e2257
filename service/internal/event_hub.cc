#include "service/internal/event_hub.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "service/internal/proto_time.h"
#include "service/internal/resource_names.h"

namespace kcpp::service::internal {

using kcpp::v1::SessionEvent;

bool WatchFilter::Matches(const kcpp::v1::Session& s) const {
  if (!listener.empty() && s.listener() != listener) return false;
  if (!session.empty() && s.name() != session) return false;
  return true;
}

absl::StatusOr<WatchFilter> WatchFilterFromRequest(
    const kcpp::v1::WatchSessionEventsRequest& request) {
  WatchFilter f;
  if (!request.listener().empty()) {
    KCPP_RETURN_IF_ERROR(ParseListenerName(request.listener(), "listener").status());
    f.listener = request.listener();
  }
  if (!request.session().empty()) {
    KCPP_RETURN_IF_ERROR(ParseSessionName(request.session(), "session").status());
    f.session = request.session();
  }
  if (request.has_stats_interval()) {
    KCPP_ASSIGN_OR_RETURN(f.stats_interval,
                          DurationFromProto(request.stats_interval(), "stats_interval"));
    if (f.stats_interval != absl::ZeroDuration() &&
        (f.stats_interval < absl::Milliseconds(100) || f.stats_interval > absl::Hours(1))) {
      return absl::InvalidArgumentError(
          absl::StrCat("stats_interval must be 100ms..1h (or unset for no STATS events), got ",
                       absl::FormatDuration(f.stats_interval)));
    }
  }
  for (int type : request.types()) {
    if (!SessionEvent::Type_IsValid(type) || type == SessionEvent::TYPE_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat("types has an unknown event type ", type));
    }
    f.types |= 1u << type;
  }
  if (f.types == 0) {
    for (int type = SessionEvent::Type_MIN; type <= SessionEvent::Type_MAX; ++type) {
      if (type != SessionEvent::TYPE_UNSPECIFIED && type != SessionEvent::STATS) {
        f.types |= 1u << type;
      }
    }
    if (f.stats_interval > absl::ZeroDuration()) f.types |= 1u << SessionEvent::STATS;
  }
  if (f.Wants(SessionEvent::STATS) && f.stats_interval == absl::ZeroDuration()) {
    return absl::InvalidArgumentError("types lists STATS: set stats_interval too");
  }
  if (!f.Wants(SessionEvent::STATS)) f.stats_interval = absl::ZeroDuration();
  return f;
}

std::optional<SessionEvent> EventHub::Subscription::Pop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!events_.empty()) {
    SessionEvent e = std::move(events_.front());
    events_.pop_front();
    return e;
  }
  if (!samples_.empty() && !end_.has_value()) {
    SessionEvent e;
    e.set_type(SessionEvent::STATS);
    *e.mutable_session() = std::move(samples_.front());
    TimeToProto(sample_time_, e.mutable_time());
    samples_.pop_front();
    return e;
  }
  return std::nullopt;
}

std::optional<absl::Status> EventHub::Subscription::Finished() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!events_.empty()) return std::nullopt;
  return end_;
}

bool EventHub::Subscription::Push(const SessionEvent& event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (end_.has_value()) return false;
  if (events_.size() >= capacity_) {
    end_ = absl::ResourceExhaustedError(
        absl::StrCat("this watch fell ", capacity_,
                     " events behind and was ended; list sessions again, then watch again"));
    samples_.clear();
    return true;
  }
  events_.push_back(event);
  return true;
}

bool EventHub::Subscription::SetSamples(std::vector<kcpp::v1::Session> sessions, absl::Time time) {
  std::lock_guard<std::mutex> lock(mu_);
  if (end_.has_value()) return false;
  samples_.assign(std::make_move_iterator(sessions.begin()),
                  std::make_move_iterator(sessions.end()));
  sample_time_ = time;
  return !samples_.empty();
}

bool EventHub::Subscription::End(absl::Status why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (end_.has_value()) return false;
  end_ = std::move(why);
  samples_.clear();
  return true;
}

EventHub::EventHub(Options options, StatsSource stats_source)
    : options_(options), stats_source_(std::move(stats_source)) {
  sampler_ = std::thread([this] { SampleLoop(); });
}

EventHub::~EventHub() {
  Close(absl::UnavailableError("kcpd is shutting down"));
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    ++generation_;
  }
  changed_.notify_all();
  sampler_.join();
}

std::shared_ptr<EventHub::Subscription> EventHub::Subscribe(WatchFilter filter,
                                                            std::function<void()> wake) {
  const absl::Duration interval = filter.stats_interval;
  std::shared_ptr<Subscription> sub(
      new Subscription(std::move(filter), std::move(wake), options_.max_queued_events));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_.has_value()) {
      sub->End(*closed_);  // the caller sees Finished() right away
      return sub;
    }
    subscriptions_.push_back(sub);
    if (interval <= absl::ZeroDuration()) return sub;
    sub->next_sample_ = absl::Now() + interval;
    ++generation_;  // the sampler may have to wake earlier
  }
  changed_.notify_all();
  return sub;
}

void EventHub::Unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  std::lock_guard<std::mutex> lock(mu_);
  subscriptions_.erase(std::remove(subscriptions_.begin(), subscriptions_.end(), subscription),
                       subscriptions_.end());
}

void EventHub::Publish(const SessionEvent& event) {
  std::vector<std::shared_ptr<Subscription>> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& sub : subscriptions_) {
      if (!sub->filter_.Wants(event.type()) || !sub->filter_.Matches(event.session())) continue;
      if (sub->Push(event)) wake.push_back(sub);
    }
  }
  for (const auto& sub : wake) sub->wake_();
}

void EventHub::Close(absl::Status why) {
  std::vector<std::shared_ptr<Subscription>> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_.has_value()) closed_ = why;
    for (const auto& sub : subscriptions_) {
      if (sub->End(why)) wake.push_back(sub);
    }
  }
  for (const auto& sub : wake) sub->wake_();
}

size_t EventHub::watchers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return subscriptions_.size();
}

void EventHub::SampleLoop() {
  while (true) {
    std::vector<std::shared_ptr<Subscription>> due;
    {
      std::unique_lock<std::mutex> lock(mu_);
      absl::Time next = absl::InfiniteFuture();
      for (const auto& sub : subscriptions_) next = std::min(next, sub->next_sample_);
      // Wakes early when stopping or when a watcher with an earlier sample
      // time subscribes (Subscribe changes subscriptions_).
      const uint64_t generation = generation_;
      const auto changed = [this, generation]() { return stop_ || generation_ != generation; };
      if (next == absl::InfiniteFuture()) {
        changed_.wait(lock, changed);
      } else {
        changed_.wait_for(lock, absl::ToChronoNanoseconds(next - absl::Now()), changed);
      }
      if (stop_) return;
      const absl::Time now = absl::Now();
      for (const auto& sub : subscriptions_) {
        if (sub->next_sample_ <= now) {
          sub->next_sample_ = now + sub->filter_.stats_interval;
          due.push_back(sub);
        }
      }
    }
    for (const auto& sub : due) {
      const absl::Time now = absl::Now();
      if (sub->SetSamples(stats_source_(sub->filter_), now)) sub->wake_();
    }
  }
}

}  // namespace kcpp::service::internal
