#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kcpp {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
// Set once at start-up, before threads exist.
std::string& ProgramName() {
  static std::string* name = new std::string("kcpd");
  return *name;
}

char LevelLetter(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return 'E';
    case LogLevel::kWarning:
      return 'W';
    case LogLevel::kInfo:
      return 'I';
    case LogLevel::kDebug:
      return 'D';
  }
  return '?';
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) <= g_level.load(); }

void SetLogProgramName(absl::string_view name) { ProgramName() = std::string(name); }

void Log(LogLevel level, absl::string_view message) {
  if (!LogEnabled(level)) return;
  std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
                   ProgramName(), " ", std::string(1, LevelLetter(level)), " ", message, "\n");
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return;  // nowhere to report a failing stderr
    p += n;
    left -= static_cast<size_t>(n);
  }
}

LogRateLimiter::LogRateLimiter(int lines, absl::Duration period)
    : lines_(lines < 1 ? 1 : lines), period_(period) {}

LogRateLimiter::Decision LogRateLimiter::Admit(absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (now - window_start_ >= period_ || now < window_start_) {
    window_start_ = now;
    written_in_window_ = 0;
  }
  Decision d;
  if (written_in_window_ >= lines_) {
    ++suppressed_since_write_;
    ++total_suppressed_;
    return d;
  }
  ++written_in_window_;
  d.write = true;
  d.suppressed = suppressed_since_write_;
  suppressed_since_write_ = 0;
  return d;
}

int64_t LogRateLimiter::total_suppressed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_suppressed_;
}

void LogRateLimiter::Log(LogLevel level, absl::string_view message) {
  if (!LogEnabled(level)) return;
  const Decision d = Admit(absl::Now());
  if (!d.write) return;
  if (d.suppressed == 0) {
    kcpp::Log(level, message);
  } else {
    kcpp::Log(level, absl::StrCat(message, " [", d.suppressed, " similar line",
                                  d.suppressed == 1 ? "" : "s", " suppressed]"));
  }
}

}  // namespace kcpp
