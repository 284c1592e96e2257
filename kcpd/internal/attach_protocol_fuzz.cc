// Fuzz target: both ends of the attach handshake parse untrusted bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kcpd/internal/attach_protocol.h"

using kcpp::service::internal::AttachRequestParse;
using kcpp::service::internal::AttachResponseParse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);

  const AttachRequestParse req = kcpp::service::internal::ParseAttachRequest(bytes);
  if (req.status == AttachRequestParse::Status::kDone) {
    // Only an exact, well-formed request is accepted, and it re-formats to itself.
    if (bytes.size() != kcpp::service::internal::kAttachRequestSize) abort();
    if (kcpp::service::internal::FormatAttachRequest(req.token) != bytes) abort();
  }
  if (req.status == AttachRequestParse::Status::kNeedMore &&
      bytes.size() >= kcpp::service::internal::kAttachRequestSize) {
    abort();
  }
  // Any reason kcpd might echo stays one bounded line.
  const std::string line = kcpp::service::internal::FormatAttachError(bytes);
  if (line.size() > kcpp::service::internal::kMaxAttachResponseSize || line.back() != '\n' ||
      line.find('\n') != line.size() - 1) {
    abort();
  }

  const AttachResponseParse resp = kcpp::service::internal::ParseAttachResponse(bytes);
  if (resp.consumed > bytes.size() ||
      resp.consumed > kcpp::service::internal::kMaxAttachResponseSize) {
    abort();
  }
  if (resp.status == AttachResponseParse::Status::kOk && bytes.compare(0, 3, "OK\n") != 0) abort();
  return 0;
}
