// kcpd's log: one line per event on stderr, safe from any thread.
//
//   Log(LogLevel::kInfo, absl::StrCat("listening on ", path));
//   if (LogEnabled(LogLevel::kDebug)) Log(LogLevel::kDebug, Describe(x));
//
// Line format: "2024-11-25T07:30:11.123Z kcpd I listening on /run/kcpd/control.sock"
// (UTC, millisecond precision; level letter E, W, I or D). Each line is one
// write(2), so lines of concurrent threads never interleave.
#ifndef KCPP_BASE_LOG_H_
#define KCPP_BASE_LOG_H_

#include <cstdint>
#include <mutex>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kcpp {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

// Lines above `level` are dropped. Default kInfo. Thread-safe.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// The program name printed on every line (default "kcpd").
void SetLogProgramName(absl::string_view name);

void Log(LogLevel level, absl::string_view message);

// Rate limit for one kind of line that a peer can trigger at will (a refused
// connection, a failing accept): at most `lines` of them per `period`; the
// rest are counted, and the next line let through says how many were held
// back ("... [41 similar lines suppressed]"). One limiter per kind of line,
// e.g. a member next to the code that logs it. Thread-safe.
//
//   LogRateLimiter refused_log_;   // 5 lines per second
//   refused_log_.Log(LogLevel::kWarning, absl::StrCat("refused uid ", uid));
class LogRateLimiter {
 public:
  explicit LogRateLimiter(int lines = 5, absl::Duration period = absl::Seconds(1));

  void Log(LogLevel level, absl::string_view message);

  // The decision Log takes, at time `now` (for tests): whether to write the
  // line, and how many lines were suppressed since the last one written.
  struct Decision {
    bool write = false;
    int64_t suppressed = 0;
  };
  Decision Admit(absl::Time now);

  // Lines suppressed so far, in all.
  int64_t total_suppressed() const;

 private:
  const int lines_;
  const absl::Duration period_;
  mutable std::mutex mu_;
  absl::Time window_start_ = absl::InfinitePast();  // guarded by mu_
  int written_in_window_ = 0;                       // guarded by mu_
  int64_t suppressed_since_write_ = 0;              // guarded by mu_
  int64_t total_suppressed_ = 0;                    // guarded by mu_
};

}  // namespace kcpp

#endif  // KCPP_BASE_LOG_H_
