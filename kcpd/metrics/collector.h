// KcpdCollector: kcpd's numbers as Prometheus metric families, read fresh
// from kcpd's own API at every scrape (docs/kcpd.md "Metrics" lists them).
//
//   StatsSource source{
//       .get_stats = [&](kcpp::v1::Stats* s) { return plane.GetStats(s); },
//       .list_listeners = [&](const auto& q, auto* r) { return plane.ListListeners(q, r); },
//       .list_sessions = [&](const auto& q, auto* r) { return plane.ListSessions(q, r); }};
//   auto collector = std::make_shared<KcpdCollector>(std::move(source), CollectorOptions{});
//   // hand it to a MetricsEndpoint (endpoint.h), or call Collect() in a test.
//
// The source is the three read calls of the kcpp.v1.Kcpd API (GetStats,
// ListListeners, ListSessions) with their request and response messages, so
// the exporter knows nothing of the control plane's insides and shows
// exactly what `kcpctl stats` / `sessions list` show.
//
// Cardinality: process-wide and per-listener series always; per-session
// series only for the `max_session_series` oldest live sessions (lowest ids,
// so the set is stable while they live), the rest are counted in
// kcpd_metrics_session_series_omitted and are in the process-wide totals.
//
// Thread-safe: Collect() may run on several HTTP threads at once.
#ifndef KCPP_KCPD_METRICS_COLLECTOR_H_
#define KCPP_KCPD_METRICS_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/kcpp/v1/kcpd.pb.h"

namespace kcpp::kcpd::metrics {

// kcpd's read calls, as the API defines them. Each must be thread-safe; an
// error (e.g. UNAVAILABLE while kcpd shuts down) leaves that part out of the
// scrape and counts in kcpd_metrics_source_errors_total.
struct StatsSource {
  std::function<absl::Status(kcpp::v1::Stats*)> get_stats;
  std::function<absl::Status(const kcpp::v1::ListListenersRequest&,
                             kcpp::v1::ListListenersResponse*)>
      list_listeners;
  std::function<absl::Status(const kcpp::v1::ListSessionsRequest&,
                             kcpp::v1::ListSessionsResponse*)>
      list_sessions;
};

struct CollectorOptions {
  // Per-session series for at most this many live sessions (the oldest);
  // 0: none. kcpd --metrics_max_session_series.
  size_t max_session_series = 100;
  // kcpd_rtt_seconds observes every live session's smoothed RTT at
  // most this often, when a scrape comes (so the histogram does not depend
  // on how many Prometheus servers scrape, or how often). Zero: every scrape.
  absl::Duration rtt_sample_interval = absl::Seconds(10);
  // Monotonic; defaults to absl::Now. Tests substitute one.
  std::function<absl::Time()> clock = nullptr;
};

// The RTT histogram's upper bounds, in seconds: loopback to satellite.
std::vector<double> RttBucketBounds();

class KcpdCollector final : public prometheus::Collectable {
 public:
  KcpdCollector(StatsSource source, CollectorOptions options);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  // Live sessions, oldest first: all of them when `all`, else the first
  // max_session_series. nullopt if a page could not be read.
  std::optional<std::vector<kcpp::v1::Session>> ListSessions(bool all) const;
  std::optional<std::vector<kcpp::v1::Listener>> ListListeners() const;

  const StatsSource source_;
  const CollectorOptions options_;
  const std::function<absl::Time()> clock_;

  mutable std::atomic<uint64_t> source_errors_{0};
  mutable std::mutex sample_mu_;
  mutable prometheus::Histogram rtt_;                   // (thread-safe itself)
  mutable std::optional<absl::Time> last_rtt_sample_;  // guarded by sample_mu_
};

}  // namespace kcpp::kcpd::metrics

#endif  // KCPP_KCPD_METRICS_COLLECTOR_H_
