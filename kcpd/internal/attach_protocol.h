// The attach handshake on kcpd's data sockets (docs/kcpd.md "Attaching"),
// both ends. Byte layout, all ASCII:
//
//   application -> kcpd   exactly 72 bytes:  "ATTACH " <64 lowercase hex digits> "\n"
//   kcpd -> application   one line:          "OK\n"
//                                         or "ERR " <reason, printable ASCII> "\n"
//                         (at most 256 bytes; after ERR kcpd closes the connection)
//
// On SOCK_SEQPACKET sockets the request and the answer are one packet each.
// On SOCK_STREAM the application may send stream bytes right after the
// request (kcpd reads exactly 72 bytes), but they are discarded if the answer
// is ERR; waiting for "OK\n" first is simplest.
//
// The parsers take bytes from an untrusted peer: bounds-checked, no
// allocation beyond the input size, never more than the limits above.
#ifndef KCPP_KCPD_INTERNAL_ATTACH_PROTOCOL_H_
#define KCPP_KCPD_INTERNAL_ATTACH_PROTOCOL_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace kcpp::service::internal {

inline constexpr absl::string_view kAttachRequestPrefix = "ATTACH ";
inline constexpr size_t kAttachRequestSize = 72;  // prefix + 64 hex digits + '\n'
inline constexpr size_t kMaxAttachResponseSize = 256;

// The request for `token` (64 hex digits; not checked here).
std::string FormatAttachRequest(absl::string_view token);

// Result of parsing what an application sent so far.
struct AttachRequestParse {
  enum class Status {
    kNeedMore,  // a valid prefix of a request: read more (up to kAttachRequestSize in total)
    kDone,      // a whole request: `token` holds its 64 hex digits
    kError,     // not a request: answer FormatAttachError(error) and close
  };
  Status status = Status::kNeedMore;
  std::string token;
  std::string error;
};

// Parses the first `received.size()` bytes of a connection (at most
// kAttachRequestSize are looked at; more is an error on a packet socket and
// is never read on a stream socket). Errors are found as early as the first
// wrong byte.
AttachRequestParse ParseAttachRequest(absl::string_view received);

// "OK\n".
std::string FormatAttachOk();
// "ERR <reason>\n": non-printable bytes become '?', the line is cut to
// kMaxAttachResponseSize bytes.
std::string FormatAttachError(absl::string_view reason);

// Result of parsing kcpd's answer (client side).
struct AttachResponseParse {
  enum class Status {
    kNeedMore,   // no '\n' yet (and fewer than kMaxAttachResponseSize bytes)
    kOk,         // "OK\n": `consumed` bytes were the answer, the rest is stream data
    kRefused,    // "ERR ...\n": `reason` says why
    kMalformed,  // anything else
  };
  Status status = Status::kNeedMore;
  std::string reason;
  size_t consumed = 0;
};
AttachResponseParse ParseAttachResponse(absl::string_view received);

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_ATTACH_PROTOCOL_H_
