// kcpd's log: one line per event on stderr, safe from any thread.
//
//   Log(LogLevel::kInfo, absl::StrCat("listening on ", path));
//   if (LogEnabled(LogLevel::kDebug)) Log(LogLevel::kDebug, Describe(x));
//
// Line format: "2024-11-25T07:30:11.123Z kcpd I listening on /run/kcpd/control.sock"
// (UTC, millisecond precision; level letter E, W, I or D). Each line is one
// write(2), so lines of concurrent threads never interleave.
#ifndef KCPP_SERVICE_INTERNAL_LOG_H_
#define KCPP_SERVICE_INTERNAL_LOG_H_

#include "absl/strings/string_view.h"

namespace kcpp::service::internal {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

// Lines above `level` are dropped. Default kInfo. Thread-safe.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// The program name printed on every line (default "kcpd").
void SetLogProgramName(absl::string_view name);

void Log(LogLevel level, absl::string_view message);

}  // namespace kcpp::service::internal

#endif  // KCPP_SERVICE_INTERNAL_LOG_H_
