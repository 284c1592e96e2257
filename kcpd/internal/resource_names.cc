#include "kcpd/internal/resource_names.h"

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kcpd/internal/api_errors.h"

namespace kcpp::service::internal {
namespace {

constexpr absl::string_view kListeners = "listeners/";
constexpr absl::string_view kSessions = "sessions/";
constexpr absl::string_view kStreams = "/streams/";

// Decimal digits without sign or leading zeros ("0" itself is fine).
bool ParseCanonicalDecimal(absl::string_view text, uint64_t max, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  if (text.size() > 1 && text[0] == '0') return false;
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value > max) return false;
  *out = value;
  return true;
}

std::string Quoted(absl::string_view text) {
  // Long or binary junk is cut so an error line stays readable.
  std::string shown(text.substr(0, 80));
  for (char& c : shown) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) c = '?';
  }
  return absl::StrCat("\"", shown, text.size() > 80 ? "...\"" : "\"");
}

// INVALID_ARGUMENT "<field><message>" (message starts with a space) with
// a BadRequest naming `field` (AIP-193).
absl::Status BadName(absl::string_view field, absl::string_view message) {
  return WithFieldViolation(absl::InvalidArgumentError(absl::StrCat(field, message)), field,
                            absl::StripLeadingAsciiWhitespace(message), kReasonInvalidResourceName);
}

}  // namespace

std::string ListenerName(absl::string_view listener_id) {
  return absl::StrCat(kListeners, listener_id);
}

std::string SessionName(uint64_t session_id) { return absl::StrCat(kSessions, session_id); }

std::string StreamName(StreamRef stream) {
  return absl::StrCat(kSessions, stream.session_id, kStreams, stream.stream_id);
}

absl::Status SessionNotFound(uint64_t session_id) {
  const std::string name = SessionName(session_id);
  return WithErrorReason(absl::NotFoundError(absl::StrCat("no session ", name)),
                         kReasonSessionNotFound, {{"name", name}});
}

absl::Status ListenerNotFound(absl::string_view listener_id) {
  const std::string name = ListenerName(listener_id);
  return WithErrorReason(absl::NotFoundError(absl::StrCat("no listener ", name)),
                         kReasonListenerNotFound, {{"name", name}});
}

absl::Status StreamNotFound(StreamRef stream) {
  const std::string name = StreamName(stream);
  return WithErrorReason(absl::NotFoundError(absl::StrCat("no stream ", name)),
                         kReasonStreamNotFound, {{"name", name}});
}

absl::Status ValidateListenerId(absl::string_view id, absl::string_view field) {
  bool ok = !id.empty() && id.size() <= 63 &&
            absl::ascii_islower(static_cast<unsigned char>(id[0])) && id.back() != '-';
  for (char c : id) {
    const auto u = static_cast<unsigned char>(c);
    if (!(absl::ascii_islower(u) || absl::ascii_isdigit(u) || c == '-')) ok = false;
  }
  if (ok) return absl::OkStatus();
  return BadName(
      field,
      absl::StrCat(
          " must be 1..63 characters of a-z, 0-9 and '-', starting with a letter and not ending "
          "with '-'; got ",
          Quoted(id)));
}

absl::StatusOr<std::string> ParseListenerName(absl::string_view name, absl::string_view field) {
  if (name.empty()) {
    return BadName(field, absl::StrCat(" is required (\"listeners/{listener}\")"));
  }
  if (!absl::StartsWith(name, kListeners)) {
    return BadName(field,
                   absl::StrCat(" must look like \"listeners/{listener}\", got ", Quoted(name)));
  }
  const absl::string_view id = name.substr(kListeners.size());
  if (!ValidateListenerId(id, "").ok()) {
    return BadName(
        field,
        absl::StrCat(
            " must look like \"listeners/{listener}\" where the id is 1..63 characters of a-z, 0-9 "
            "and '-' starting with a letter; got ",
            Quoted(name)));
  }
  return std::string(id);
}

absl::StatusOr<uint64_t> ParseSessionName(absl::string_view name, absl::string_view field) {
  if (name.empty()) {
    return BadName(field, absl::StrCat(" is required (\"sessions/{session}\")"));
  }
  uint64_t id = 0;
  if (!absl::StartsWith(name, kSessions) ||
      !ParseCanonicalDecimal(name.substr(kSessions.size()), std::numeric_limits<uint64_t>::max(),
                             &id) ||
      id == 0) {
    return BadName(
        field, absl::StrCat(" must look like \"sessions/{session}\" with a decimal id >= 1, got ",
                            Quoted(name)));
  }
  return id;
}

absl::StatusOr<StreamRef> ParseStreamName(absl::string_view name, absl::string_view field) {
  if (name.empty()) {
    return BadName(field, absl::StrCat(" is required (\"sessions/{session}/streams/{stream}\")"));
  }
  const auto bad = [&] {
    return BadName(
        field, absl::StrCat(
                   " must look like \"sessions/{session}/streams/{stream}\" with decimal ids, got ",
                   Quoted(name)));
  };
  if (!absl::StartsWith(name, kSessions)) return bad();
  const absl::string_view rest = name.substr(kSessions.size());
  const size_t slash = rest.find(kStreams);
  if (slash == absl::string_view::npos) return bad();
  StreamRef ref;
  uint64_t stream = 0;
  if (!ParseCanonicalDecimal(rest.substr(0, slash), std::numeric_limits<uint64_t>::max(),
                             &ref.session_id) ||
      ref.session_id == 0 ||
      !ParseCanonicalDecimal(rest.substr(slash + kStreams.size()),
                             std::numeric_limits<uint32_t>::max(), &stream)) {
    return bad();
  }
  ref.stream_id = static_cast<uint32_t>(stream);
  return ref;
}

}  // namespace kcpp::service::internal
