// smux frame codec (docs/protocol.md §6.2; xtaci/smux frame.go, identical in
// Debian's 1.5.16 and upstream HEAD).
//
// Every frame is an 8-byte header followed by `length` payload bytes:
//
//   offset 0  u8      version   1 or 2; must equal the session's version
//   offset 1  u8      command   0 SYN, 1 FIN, 2 PSH, 3 NOP, 4 UPD (v2 only)
//   offset 2  u16 LE  length    payload bytes that follow
//   offset 4  u32 LE  stream id
//
// SYN, FIN and NOP carry no payload; UPD carries exactly 8 bytes,
// `consumed u32 LE | window u32 LE`; PSH carries stream data (length 0 is
// legal and ignored).
//
// Usage:
//   uint8_t buf[kFrameHeaderSize];
//   EncodeFrameHeader({kVersion2, kCmdPsh, n, sid}, buf);
//   FrameHeader h = DecodeFrameHeader(bytes);
//   if (absl::Status s = ValidateFrameHeader(h, /*session_version=*/2); !s.ok()) ...
//
// All functions are pure and thread-safe.
#ifndef KCPP_SMUX_FRAME_H_
#define KCPP_SMUX_FRAME_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kcpp::smux {

// Protocol versions (Config::version). There is no negotiation: both ends
// must be configured alike (kcptun's -smuxver).
inline constexpr uint8_t kVersion1 = 1;
inline constexpr uint8_t kVersion2 = 2;

// Commands (smux cmdSYN..cmdUPD).
inline constexpr uint8_t kCmdSyn = 0;  // open a stream
inline constexpr uint8_t kCmdFin = 1;  // no more data from the sender (EOF)
inline constexpr uint8_t kCmdPsh = 2;  // stream data
inline constexpr uint8_t kCmdNop = 3;  // keepalive, stream id 0 (see kCloseNoticeStreamId)
inline constexpr uint8_t kCmdUpd = 4;  // v2 flow-control window update
inline constexpr int kNumCommands = 5;

// kcpp's close notice (docs/protocol.md §6.2, "Close notice"): a NOP whose
// stream id is this value (its bytes on the wire spell "bye!") says "this
// side is closing the session; it has closed all its streams". smux has no
// session close of its own, and every smux (xtaci/smux 1.5.x v1 and v2, and
// kcpp before it knew the notice) treats any NOP as a no-op whatever its
// stream id, so peers that do not know it ignore it. Keepalives use id 0.
inline constexpr uint32_t kCloseNoticeStreamId = 0x21657962;

inline constexpr size_t kFrameHeaderSize = 8;
// Payload of an UPD frame: consumed u32 LE | window u32 LE.
inline constexpr size_t kWindowUpdateSize = 8;
// Largest payload a frame can carry (u16 length).
inline constexpr size_t kMaxFramePayload = 65535;
// The window a v2 writer assumes before the peer's first UPD
// (smux initialPeerWindow).
inline constexpr uint32_t kInitialPeerWindow = 262144;

// A decoded frame header. `command` is kept raw so unknown values can be
// reported.
struct FrameHeader {
  uint8_t version = 0;
  uint8_t command = 0;
  uint16_t length = 0;
  uint32_t stream_id = 0;

  friend bool operator==(const FrameHeader& a, const FrameHeader& b) {
    return a.version == b.version && a.command == b.command && a.length == b.length &&
           a.stream_id == b.stream_id;
  }
};

// The v2 UPD payload.
struct WindowUpdate {
  uint32_t consumed = 0;  // total bytes the receiver has read on the stream
  uint32_t window = 0;    // the receiver's per-stream buffer (MaxStreamBuffer)
};

// Writes the 8 header bytes of `h` to out[0, 8).
void EncodeFrameHeader(const FrameHeader& h, uint8_t* out);
// Reads a header from in[0, 8). No validation.
FrameHeader DecodeFrameHeader(const uint8_t* in);

void EncodeWindowUpdate(const WindowUpdate& u, uint8_t* out);  // out[0, 8)
WindowUpdate DecodeWindowUpdate(const uint8_t* in);            // in[0, 8)

// Checks `h` against the rules of docs/protocol.md §6.2 for a session of
// `session_version`. InvalidArgument, with a message naming the frame and
// the rule, for: a version other than the session's (smux
// ErrInvalidProtocol), an unknown command, SYN/FIN/NOP with a payload, UPD in
// a version 1 session, UPD whose length is not 8.
absl::Status ValidateFrameHeader(const FrameHeader& h, int session_version);

// "SYN", "FIN", "PSH", "NOP", "UPD", or "unknown".
absl::string_view CommandName(uint8_t command);

}  // namespace kcpp::smux

#endif  // KCPP_SMUX_FRAME_H_
