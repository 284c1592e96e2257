// A small JSON reader (RFC 8259) for kcptun's `-c config.json` files, with
// the leniencies of Go's encoding/json.Decoder that kcptun relies on: only the
// first value of the input is read (whatever follows it is ignored, as
// Decoder.Decode does), and invalid UTF-8 or unpaired surrogates in strings
// become U+FFFD. Everything else is strict RFC 8259: no comments, no trailing
// commas, no leading zeros, no control characters inside strings.
//
//   absl::StatusOr<JsonValue> v = ParseJson(R"({"mtu": 1400, "nocomp": true})");
//   for (const auto& [key, value] : v->members) ...
//
// Input is bounded by the caller (kcpd reads at most kMaxJsonFileSize bytes);
// nesting is bounded by kMaxJsonDepth, so hostile input can neither overflow
// the stack nor make the parser allocate more than a small multiple of its
// size. Errors say where: "line 3, column 9: expected ':' after an object key".
#ifndef KCPP_TUNNEL_INTERNAL_JSON_H_
#define KCPP_TUNNEL_INTERNAL_JSON_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kcpp::service::tunnel::internal {

inline constexpr int kMaxJsonDepth = 64;
inline constexpr size_t kMaxJsonFileSize = 1 << 20;

struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  // kNumber: the literal exactly as written ("1400", "-1.5e3");
  // kString: the decoded string (UTF-8).
  std::string text;
  std::vector<JsonValue> elements;                         // kArray
  std::vector<std::pair<std::string, JsonValue>> members;  // kObject, in input order
  // Where the value starts (1-based), for error messages.
  int line = 1;
  int column = 1;
};

// Parses the first JSON value of `text` (leading whitespace allowed; anything
// after the value is ignored). InvalidArgument on malformed input.
absl::StatusOr<JsonValue> ParseJson(absl::string_view text);

// "object", "string", ... as Go's encoding/json names them in its errors.
absl::string_view JsonTypeName(JsonValue::Type type);

}  // namespace kcpp::service::tunnel::internal

#endif  // KCPP_TUNNEL_INTERNAL_JSON_H_
