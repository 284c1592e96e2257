// FakeSource: a StatsSource over fixed messages, paged as the API pages
// (page_size, next_page_token), for tests of the exporter without a kcpd.
#ifndef KCPP_KCPD_METRICS_TESTING_FAKE_SOURCE_H_
#define KCPP_KCPD_METRICS_TESTING_FAKE_SOURCE_H_

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "kcpd/metrics/collector.h"
#include "proto/kcpp/v1/kcpd.pb.h"

namespace kcpp::kcpd::metrics {

class FakeSource {
 public:
  // Every field set, so every family has a sample.
  static kcpp::v1::Stats FullStats();
  static kcpp::v1::Listener MakeListener(const std::string& id, const std::string& address);
  // sessions/<id>, accepted by `listener` ("" = dialled), smoothed RTT `rtt_ms`.
  static kcpp::v1::Session MakeSession(int id, const std::string& listener, uint32_t rtt_ms);

  void SetStats(const kcpp::v1::Stats& stats);
  void SetListeners(std::vector<kcpp::v1::Listener> listeners);
  void SetSessions(std::vector<kcpp::v1::Session> sessions);
  // Every call fails with UNAVAILABLE while set (kcpd shutting down).
  void SetFailing(bool failing) { failing_ = failing; }
  // Sessions handed out by list_sessions so far.
  size_t sessions_read() const { return sessions_read_; }

  // Bound to this object, which must outlive it.
  StatsSource source();

 private:
  mutable std::mutex mu_;
  kcpp::v1::Stats stats_;                       // guarded by mu_
  std::vector<kcpp::v1::Listener> listeners_;   // guarded by mu_
  std::vector<kcpp::v1::Session> sessions_;     // guarded by mu_
  std::atomic<bool> failing_{false};
  std::atomic<size_t> sessions_read_{0};
};

}  // namespace kcpp::kcpd::metrics

#endif  // KCPP_KCPD_METRICS_TESTING_FAKE_SOURCE_H_
