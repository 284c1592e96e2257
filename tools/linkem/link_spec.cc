#include "tools/linkem/link_spec.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

namespace kcpp::linkem {
namespace {

// Gilbert-Elliott parameters for a long-run loss `rate` in bursts of
// `mean_burst` packets on average, lossless in the good state and losing
// everything in the bad one: exit = 1/burst, pi_bad = rate,
// enter = pi_bad * exit / (1 - pi_bad).
constexpr double GeEnter(double rate, double mean_burst) {
  return rate * (1 / mean_burst) / (1 - rate);
}

constexpr Profile kProfiles[] = {
    {"clean_1g_1ms", "1 Gbit/s, 1 ms RTT, no loss", 1'000'000'000, 1'000, 0},
    {"clean_100m_50ms", "100 Mbit/s, 50 ms RTT, no loss", 100'000'000, 50'000, 0},
    {"lossy_100m_100ms_1pct", "100 Mbit/s, 100 ms RTT, 1 % random loss", 100'000'000, 100'000,
     0.01},
    {"lossy_50m_200ms_3pct", "50 Mbit/s, 200 ms RTT, 3 % random loss", 50'000'000, 200'000, 0.03},
    {"bursty_20m_80ms_2pct",
     "20 Mbit/s, 80 ms RTT, 2 % loss in bursts (Gilbert-Elliott, mean burst 4 packets)", 20'000'000,
     80'000, 0, GeEnter(0.02, 4), 1.0 / 4, 0, 1},
    {"sat_10m_600ms_0.5pct", "10 Mbit/s, 600 ms RTT, 0.5 % random loss (satellite-like)",
     10'000'000, 600'000, 0.005},
};

absl::Status Invalid(absl::string_view what, absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(what, " \"", text, "\": ", why));
}

// Splits "12.5Mbit" into its number and its lower-cased unit.
bool SplitNumber(absl::string_view text, double* value, std::string* unit) {
  text = absl::StripAsciiWhitespace(text);
  size_t i = 0;
  while (i < text.size() && (absl::ascii_isdigit(text[i]) || text[i] == '.' || text[i] == 'e' ||
                             text[i] == '-' || text[i] == '+')) {
    // An 'e' only as an exponent (followed by a digit or sign), not "1eb".
    if (text[i] == 'e' && (i + 1 >= text.size() || !(absl::ascii_isdigit(text[i + 1]) ||
                                                     text[i + 1] == '-' || text[i + 1] == '+'))) {
      break;
    }
    ++i;
  }
  if (!absl::SimpleAtod(text.substr(0, i), value)) return false;
  *unit = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text.substr(i)));
  return std::isfinite(*value);
}

template <typename T>
absl::Status ApplyField(const std::string& text, const char* name, LinkPair& links,
                        T LinkConfig::*field, absl::StatusOr<T> (*parse)(absl::string_view)) {
  if (text.empty()) return absl::OkStatus();
  absl::StatusOr<std::pair<std::string, std::string>> dirs = SplitDirections(text);
  if (!dirs.ok()) return Invalid(absl::StrCat("--", name), text, dirs.status().message());
  absl::StatusOr<T> a = parse(dirs->first);
  if (!a.ok())
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", a.status().message()));
  absl::StatusOr<T> b = parse(dirs->second);
  if (!b.ok())
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", b.status().message()));
  links.a2b.*field = *a;
  links.b2a.*field = *b;
  return absl::OkStatus();
}

}  // namespace

LinkPair Profile::Links(uint64_t seed) const {
  LinkConfig c;
  c.rate_bps = rate_bps;
  c.delay_us = rtt_us / 2;
  c.loss = loss;
  c.ge_enter_bad = ge_enter_bad;
  c.ge_exit_bad = ge_exit_bad;
  c.ge_loss_good = ge_loss_good;
  c.ge_loss_bad = ge_loss_bad;
  c.queue_bytes = static_cast<int64_t>(std::llround(queue_bdp * BdpBytes(rate_bps, rtt_us)));
  LinkPair p{c, c};
  p.a2b.seed = seed;
  p.b2a.seed = seed + 1;
  return p;
}

double Profile::LossRate() const { return Links(1).a2b.ExpectedLossRate(); }

absl::Span<const Profile> Profiles() { return kProfiles; }

absl::StatusOr<const Profile*> FindProfile(absl::string_view name) {
  std::vector<std::string> names;
  for (const Profile& p : kProfiles) {
    if (p.name == name) return &p;
    names.push_back(p.name);
  }
  return absl::NotFoundError(
      absl::StrCat("no profile \"", name, "\"; profiles: ", absl::StrJoin(names, ", ")));
}

std::string ProfilesAsJsonLines() {
  std::string out;
  for (const Profile& p : kProfiles) {
    const LinkPair l = p.Links(1);
    absl::StrAppend(&out, "{\"name\":\"", p.name, "\",\"summary\":\"", p.summary,
                    "\",\"rate_bps\":", p.rate_bps, ",\"rtt_us\":", p.rtt_us, ",\"loss\":", p.loss,
                    ",\"loss_rate\":", p.LossRate(), ",\"ge_enter_bad\":", p.ge_enter_bad,
                    ",\"ge_exit_bad\":", p.ge_exit_bad, ",\"ge_loss_good\":", p.ge_loss_good,
                    ",\"ge_loss_bad\":", p.ge_loss_bad, ",\"queue_bdp\":", p.queue_bdp,
                    ",\"queue_bytes\":", l.a2b.queue_bytes, "}\n");
  }
  return out;
}

absl::StatusOr<std::pair<std::string, std::string>> SplitDirections(absl::string_view text) {
  std::vector<std::string> parts = absl::StrSplit(text, '/');
  if (parts.size() == 1) return std::make_pair(parts[0], parts[0]);
  if (parts.size() == 2) return std::make_pair(parts[0], parts[1]);
  return absl::InvalidArgumentError("expected VALUE or A2B/B2A");
}

absl::StatusOr<int64_t> ParseRateBps(absl::string_view text) {
  double v;
  std::string unit;
  if (!SplitNumber(text, &v, &unit)) return Invalid("rate", text, "not a number");
  absl::string_view prefix = unit;
  for (const char* suffix : {"bit/s", "bps", "bit", "b"}) {
    if (absl::ConsumeSuffix(&prefix, suffix)) break;
  }
  unit = std::string(prefix);
  double scale = 1;
  if (unit == "k") {
    scale = 1e3;
  } else if (unit == "m") {
    scale = 1e6;
  } else if (unit == "g") {
    scale = 1e9;
  } else if (!unit.empty()) {
    return Invalid("rate", text, "unit must be k, M or G (bits/s), e.g. 100M");
  }
  const double bps = v * scale;
  if (bps < 0 || bps > 1e12) return Invalid("rate", text, "must be in [0, 1T] bits/s");
  return static_cast<int64_t>(std::llround(bps));
}

absl::StatusOr<int64_t> ParseDurationUs(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text == "0") return 0;
  absl::Duration d;
  if (!absl::ParseDuration(text, &d)) {
    return Invalid("duration", text, "expected a number with a unit: 25ms, 1.5s, 300us");
  }
  if (d < absl::ZeroDuration() || d > absl::Hours(1)) {
    return Invalid("duration", text, "must be in [0, 1h]");
  }
  return absl::ToInt64Microseconds(d);
}

absl::StatusOr<double> ParseProbability(absl::string_view text) {
  double v;
  std::string unit;
  if (!SplitNumber(text, &v, &unit)) return Invalid("probability", text, "not a number");
  if (unit == "%") {
    v /= 100;
  } else if (!unit.empty()) {
    return Invalid("probability", text, "expected a fraction (0.01) or a percentage (1%)");
  }
  if (v < 0 || v > 1) return Invalid("probability", text, "must be in [0, 1] (or 0-100%)");
  return v;
}

absl::StatusOr<QueueSize> ParseQueue(absl::string_view text) {
  double v;
  std::string unit;
  if (!SplitNumber(text, &v, &unit) || v < 0) {
    return Invalid("queue", text, "expected bytes (150000, 64KiB, 2MB) or a BDP multiple (1bdp)");
  }
  QueueSize q;
  if (unit == "bdp") {
    if (v <= 0) return Invalid("queue", text, "a BDP multiple must be > 0 (0 means unlimited)");
    q.bdp = v;
    return q;
  }
  double scale;
  if (unit.empty() || unit == "b") {
    scale = 1;
  } else if (unit == "kb" || unit == "k") {
    scale = 1e3;
  } else if (unit == "mb" || unit == "m") {
    scale = 1e6;
  } else if (unit == "kib") {
    scale = 1024;
  } else if (unit == "mib") {
    scale = 1024 * 1024;
  } else {
    return Invalid("queue", text, "unit must be B, KB, MB, KiB, MiB or bdp");
  }
  if (v * scale > 1e15) return Invalid("queue", text, "too large");
  q.bytes = static_cast<int64_t>(std::llround(v * scale));
  return q;
}

absl::StatusOr<LinkPair> LinkSpec::Apply(LinkPair links) const {
  absl::Status s;
  s.Update(ApplyField<int64_t>(rate, "rate", links, &LinkConfig::rate_bps, &ParseRateBps));
  s.Update(ApplyField<int64_t>(delay, "delay", links, &LinkConfig::delay_us, &ParseDurationUs));
  s.Update(ApplyField<int64_t>(jitter, "jitter", links, &LinkConfig::jitter_us, &ParseDurationUs));
  s.Update(ApplyField<double>(loss, "loss", links, &LinkConfig::loss, &ParseProbability));
  s.Update(ApplyField<double>(ge_enter_bad, "ge_enter_bad", links, &LinkConfig::ge_enter_bad,
                              &ParseProbability));
  s.Update(ApplyField<double>(ge_exit_bad, "ge_exit_bad", links, &LinkConfig::ge_exit_bad,
                              &ParseProbability));
  s.Update(ApplyField<double>(ge_loss_good, "ge_loss_good", links, &LinkConfig::ge_loss_good,
                              &ParseProbability));
  s.Update(ApplyField<double>(ge_loss_bad, "ge_loss_bad", links, &LinkConfig::ge_loss_bad,
                              &ParseProbability));
  if (!s.ok()) return s;
  if (!queue.empty()) {
    absl::StatusOr<std::pair<std::string, std::string>> dirs = SplitDirections(queue);
    if (!dirs.ok()) return Invalid("--queue", queue, dirs.status().message());
    const int64_t rtt_us = links.a2b.delay_us + links.b2a.delay_us;
    for (auto [text, config] :
         {std::make_pair(dirs->first, &links.a2b), std::make_pair(dirs->second, &links.b2a)}) {
      absl::StatusOr<QueueSize> q = ParseQueue(text);
      if (!q.ok())
        return absl::InvalidArgumentError(absl::StrCat("--queue: ", q.status().message()));
      if (q->bdp > 0) {
        const int64_t bdp = BdpBytes(config->rate_bps, rtt_us);
        if (bdp == 0) {
          return Invalid("--queue", queue,
                         "a BDP multiple needs a rate and a delay (the BDP of this link is 0)");
        }
        config->queue_bytes = static_cast<int64_t>(std::llround(q->bdp * bdp));
      } else {
        config->queue_bytes = q->bytes;
      }
    }
  }
  if (absl::Status v = links.a2b.Validate(); !v.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("a->b: ", v.message()));
  }
  if (absl::Status v = links.b2a.Validate(); !v.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("b->a: ", v.message()));
  }
  return links;
}

std::string ConfigAsJson(const LinkConfig& c) {
  return absl::StrCat("{\"rate_bps\":", c.rate_bps, ",\"queue_bytes\":", c.queue_bytes,
                      ",\"delay_us\":", c.delay_us, ",\"jitter_us\":", c.jitter_us,
                      ",\"loss\":", c.loss, ",\"ge_enter_bad\":", c.ge_enter_bad,
                      ",\"ge_exit_bad\":", c.ge_exit_bad, ",\"ge_loss_good\":", c.ge_loss_good,
                      ",\"ge_loss_bad\":", c.ge_loss_bad, ",\"loss_rate\":", c.ExpectedLossRate(),
                      ",\"seed\":", c.seed, "}");
}

}  // namespace kcpp::linkem
