#include "smux/config.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "smux/frame.h"

namespace kcpp::smux {

Config DefaultConfig() { return Config(); }

Config KcptunConfig() {
  Config c;
  c.max_receive_buffer = 4194304;
  c.max_stream_buffer = 2097152;
  c.keep_alive_interval_ms = 10000;
  return c;
}

absl::Status ValidateConfig(const Config& c) {
  if (c.version != kVersion1 && c.version != kVersion2) {
    return absl::InvalidArgumentError(absl::StrCat("version must be 1 or 2, got ", c.version));
  }
  if (!c.keep_alive_disabled) {
    if (c.keep_alive_interval_ms <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("keep_alive_interval_ms must be positive, got ", c.keep_alive_interval_ms));
    }
    if (c.keep_alive_timeout_ms < c.keep_alive_interval_ms) {
      return absl::InvalidArgumentError(absl::StrCat(
          "keep_alive_timeout_ms (", c.keep_alive_timeout_ms,
          ") must be at least keep_alive_interval_ms (", c.keep_alive_interval_ms, ")"));
    }
  }
  if (c.max_frame_size <= 0 || c.max_frame_size > static_cast<int>(kMaxFramePayload)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_frame_size must be in [1, 65535], got ", c.max_frame_size));
  }
  if (c.max_receive_buffer <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_receive_buffer must be positive, got ", c.max_receive_buffer));
  }
  if (c.max_stream_buffer <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_stream_buffer must be positive, got ", c.max_stream_buffer));
  }
  if (c.max_stream_buffer > c.max_receive_buffer) {
    return absl::InvalidArgumentError(absl::StrCat("max_stream_buffer (", c.max_stream_buffer,
                                                   ") must not exceed max_receive_buffer (",
                                                   c.max_receive_buffer, ")"));
  }
  if (c.accept_backlog <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("accept_backlog must be positive, got ", c.accept_backlog));
  }
  if (c.max_output_buffer == 0) {
    return absl::InvalidArgumentError("max_output_buffer must be positive, got 0");
  }
  return absl::OkStatus();
}

}  // namespace kcpp::smux
