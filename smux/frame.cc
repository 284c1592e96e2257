#include "smux/frame.h"

#include "absl/strings/str_cat.h"

namespace kcpp::smux {
namespace {

inline void PutLe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

inline void PutLe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

inline uint32_t GetLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

void EncodeFrameHeader(const FrameHeader& h, uint8_t* out) {
  out[0] = h.version;
  out[1] = h.command;
  PutLe16(out + 2, h.length);
  PutLe32(out + 4, h.stream_id);
}

FrameHeader DecodeFrameHeader(const uint8_t* in) {
  FrameHeader h;
  h.version = in[0];
  h.command = in[1];
  h.length = static_cast<uint16_t>(in[2] | in[3] << 8);
  h.stream_id = GetLe32(in + 4);
  return h;
}

void EncodeWindowUpdate(const WindowUpdate& u, uint8_t* out) {
  PutLe32(out, u.consumed);
  PutLe32(out + 4, u.window);
}

WindowUpdate DecodeWindowUpdate(const uint8_t* in) { return {GetLe32(in), GetLe32(in + 4)}; }

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
