#include "kcpd/internal/attach_protocol.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kcpp::service::internal {
namespace {

constexpr absl::string_view kOk = "OK\n";
constexpr absl::string_view kErr = "ERR ";

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

std::string FormatAttachRequest(absl::string_view token) {
  return absl::StrCat(kAttachRequestPrefix, token, "\n");
}

AttachRequestParse ParseAttachRequest(absl::string_view received) {
  AttachRequestParse r;
  const auto fail = [&r](std::string error) {
    r.status = AttachRequestParse::Status::kError;
    r.error = std::move(error);
    return r;
  };
  const size_t n = std::min(received.size(), kAttachRequestSize);
  for (size_t i = 0; i < n; ++i) {
    const char c = received[i];
    if (i < kAttachRequestPrefix.size()) {
      if (c != kAttachRequestPrefix[i]) {
        return fail("expected \"ATTACH <token>\\n\" (72 bytes) as the first bytes");
      }
    } else if (i + 1 < kAttachRequestSize) {
      if (!IsLowerHex(c)) {
        return fail(c == '\n' ? "the token is too short: it must be 64 lowercase hex digits"
                              : "the token must be 64 lowercase hex digits");
      }
    } else if (c != '\n') {
      return fail("the token is too long: it must be 64 lowercase hex digits then \"\\n\"");
    }
  }
  if (received.size() > kAttachRequestSize) {
    return fail("the attach request must be exactly 72 bytes");
  }
  if (received.size() < kAttachRequestSize) return r;  // kNeedMore
  r.status = AttachRequestParse::Status::kDone;
  r.token = std::string(received.substr(kAttachRequestPrefix.size(), 64));
  return r;
}

std::string FormatAttachOk() { return std::string(kOk); }

std::string FormatAttachError(absl::string_view reason) {
  std::string line = absl::StrCat(kErr, reason.substr(0, kMaxAttachResponseSize - kErr.size() - 1));
  for (size_t i = kErr.size(); i < line.size(); ++i) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(line[i]))) line[i] = '?';
  }
  line.push_back('\n');
  return line;
}

AttachResponseParse ParseAttachResponse(absl::string_view received) {
  AttachResponseParse r;
  const size_t limit = std::min(received.size(), kMaxAttachResponseSize);
  const size_t newline = received.substr(0, limit).find('\n');
  if (newline == absl::string_view::npos) {
    if (received.size() >= kMaxAttachResponseSize)
      r.status = AttachResponseParse::Status::kMalformed;
    // Early rejection: neither "OK\n" nor "ERR " can start like this.
    const absl::string_view head = received.substr(0, 4);
    if (head != kOk.substr(0, std::min(head.size(), kOk.size())) &&
        head != kErr.substr(0, head.size())) {
      r.status = AttachResponseParse::Status::kMalformed;
    }
    return r;
  }
  const absl::string_view line = received.substr(0, newline + 1);
  r.consumed = line.size();
  if (line == kOk) {
    r.status = AttachResponseParse::Status::kOk;
  } else if (line.size() > kErr.size() && line.substr(0, kErr.size()) == kErr) {
    r.status = AttachResponseParse::Status::kRefused;
    r.reason = std::string(line.substr(kErr.size(), line.size() - kErr.size() - 1));
  } else {
    r.status = AttachResponseParse::Status::kMalformed;
  }
  return r;
}

}  // namespace kcpp::service::internal
