#include "smux/frame.h"

#include "absl/strings/str_cat.h"
#include "base/endian.h"

namespace kcpp::smux {

void EncodeFrameHeader(const FrameHeader& h, uint8_t* out) {
  out[0] = h.version;
  out[1] = h.command;
  StoreLe16(out + 2, h.length);
  StoreLe32(out + 4, h.stream_id);
}

FrameHeader DecodeFrameHeader(const uint8_t* in) {
  FrameHeader h;
  h.version = in[0];
  h.command = in[1];
  h.length = LoadLe16(in + 2);
  h.stream_id = LoadLe32(in + 4);
  return h;
}

void EncodeWindowUpdate(const WindowUpdate& u, uint8_t* out) {
  StoreLe32(out, u.consumed);
  StoreLe32(out + 4, u.window);
}

WindowUpdate DecodeWindowUpdate(const uint8_t* in) { return {LoadLe32(in), LoadLe32(in + 4)}; }

absl::string_view CommandName(uint8_t command) {
  static const char* const kNames[] = {"SYN", "FIN", "PSH", "NOP", "UPD"};
  if (command < kNumCommands) return kNames[command];
  return "unknown";
}

absl::Status ValidateFrameHeader(const FrameHeader& h, int session_version) {
  if (h.version != session_version) {
    return absl::InvalidArgumentError(
        absl::StrCat("smux protocol error: frame version ", static_cast<int>(h.version),
                     " in a version ", session_version, " session (stream ", h.stream_id,
                     "); both ends must use the same smux version"));
  }
  switch (h.command) {
    case kCmdSyn:
    case kCmdFin:
    case kCmdNop:
      if (h.length != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("smux protocol error: ", CommandName(h.command), " frame (stream ",
                         h.stream_id, ") with length ", h.length, ", must be 0"));
      }
      return absl::OkStatus();
    case kCmdPsh:
      return absl::OkStatus();
    case kCmdUpd:
      if (session_version < kVersion2) {
        return absl::InvalidArgumentError(absl::StrCat("smux protocol error: UPD frame (stream ",
                                                       h.stream_id, ") in a version 1 session"));
      }
      if (h.length != kWindowUpdateSize) {
        return absl::InvalidArgumentError(absl::StrCat("smux protocol error: UPD frame (stream ",
                                                       h.stream_id, ") with length ", h.length,
                                                       ", must be 8"));
      }
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(absl::StrCat("smux protocol error: unknown command ",
                                                     static_cast<int>(h.command), " (stream ",
                                                     h.stream_id, ")"));
  }
}

}  // namespace kcpp::smux
