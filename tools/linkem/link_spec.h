// Link specifications for linkem: the named WAN profiles of the benchmark
// (bench/wan) and the parsers behind linkem's flags, which turn text such as
// "100M", "25ms", "1bdp" or "1%" into a pair of LinkConfigs, one per
// direction.
//
//   absl::StatusOr<const Profile*> p = FindProfile("lossy_100m_100ms_1pct");
//   LinkPair links = (*p)->Links(/*seed=*/1);       // a->b and b->a
//
//   LinkSpec spec;                                  // or from flags:
//   spec.rate = "100M";  spec.delay = "25ms";  spec.queue = "1bdp";
//   absl::StatusOr<LinkPair> links = spec.Apply(LinkPair{});
//
// Every flag value is either one value for both directions ("25ms") or
// "A2B/B2A" ("25ms/40ms"). Units:
//   rate      bits/s: 0 (unlimited), 800k, 100M, 1G, 1.5Gbit, 2500000
//   delay     one way: 25ms, 1.5s, 300us, 0
//   jitter    as delay; extra delay per packet, uniform in [0, jitter]
//   queue     bytes waiting for the bottleneck: 0 (unlimited), 150000,
//             64KiB, 2MB, or a multiple of the bandwidth-delay product
//             "1bdp" (that direction's rate x the round trip, i.e. the sum
//             of both one-way delays)
//   loss      probability per packet: 0.01 or 1%
//   ge_*      Gilbert-Elliott probabilities (LinkConfig), same syntax
#ifndef KCPP_TOOLS_LINKEM_LINK_SPEC_H_
#define KCPP_TOOLS_LINKEM_LINK_SPEC_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tools/linkem/link_model.h"

namespace kcpp::linkem {

// The two directions of a link between namespace A and namespace B.
struct LinkPair {
  LinkConfig a2b;
  LinkConfig b2a;
};

// A named link of the WAN benchmark. Both directions get the same rate,
// loss and queue; the round trip is split evenly between them.
struct Profile {
  const char* name;
  const char* summary;  // human-readable: "100 Mbit/s, 100 ms RTT, 1 % loss"
  int64_t rate_bps;
  int64_t rtt_us;
  double loss;  // Bernoulli, per packet, each direction
  // Gilbert-Elliott (0 = off), each direction: see LinkConfig.
  double ge_enter_bad = 0, ge_exit_bad = 1, ge_loss_good = 0, ge_loss_bad = 1;
  double queue_bdp = 1;  // drop-tail queue as a multiple of rate x rtt

  // The pair of configurations; a2b is seeded with `seed`, b2a with seed + 1.
  LinkPair Links(uint64_t seed) const;
  // Long-run loss per direction (LinkConfig::ExpectedLossRate).
  double LossRate() const;
};

// Every named profile, fastest first.
absl::Span<const Profile> Profiles();

// The profile called `name`, or NotFound listing the names.
absl::StatusOr<const Profile*> FindProfile(absl::string_view name);

// One JSON object per profile (name, summary, rate_bps, rtt_us, loss,
// loss_rate, ge_*, queue_bdp, queue_bytes), one per line, for scripts.
std::string ProfilesAsJsonLines();

// Text values for the link, as linkem's flags take them (see the file
// comment). An empty field leaves that setting as it is.
struct LinkSpec {
  std::string rate, delay, jitter, queue, loss;
  std::string ge_enter_bad, ge_exit_bad, ge_loss_good, ge_loss_bad;

  // `base` with every non-empty field applied (queue last, so "1bdp" sees
  // the final rate and delays); the result is validated. Errors name the
  // field and the text.
  absl::StatusOr<LinkPair> Apply(LinkPair base) const;
};

// Parsers, exposed for tests. Each returns InvalidArgument quoting the text.
absl::StatusOr<int64_t> ParseRateBps(absl::string_view text);
absl::StatusOr<int64_t> ParseDurationUs(absl::string_view text);
absl::StatusOr<double> ParseProbability(absl::string_view text);
// A queue is either bytes or a BDP multiple: exactly one of the two is set.
struct QueueSize {
  int64_t bytes = 0;
  double bdp = 0;
};
absl::StatusOr<QueueSize> ParseQueue(absl::string_view text);
// "X" -> (X, X); "X/Y" -> (X, Y).
absl::StatusOr<std::pair<std::string, std::string>> SplitDirections(absl::string_view text);

// One direction's configuration as a JSON object (for linkem's READY line).
std::string ConfigAsJson(const LinkConfig& c);

}  // namespace kcpp::linkem

#endif  // KCPP_TOOLS_LINKEM_LINK_SPEC_H_
