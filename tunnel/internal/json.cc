#include "tunnel/internal/json.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kcpp::service::tunnel::internal {
namespace {

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

constexpr uint32_t kReplacement = 0xFFFD;

// Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one.
size_t ValidUtf8Length(const unsigned char* s, size_t n) {
  const unsigned char c = s[0];
  size_t len;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}

class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<JsonValue> Run() {
    SkipWhitespace();
    JsonValue value;
    absl::Status s = ParseValue(&value, 0);
    if (!s.ok()) return s;
    return value;
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", line_, ", column ", column_, ": ", what));
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }
  void Advance() {
    if (text_[pos_] == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    ++pos_;
  }
  void SkipWhitespace() {
    while (!AtEnd()) {
      const char c = Peek();
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      Advance();
    }
  }
  bool Consume(absl::string_view literal) {
    if (text_.substr(pos_, literal.size()) != literal) return false;
    for (size_t i = 0; i < literal.size(); ++i) Advance();
    return true;
  }

  absl::Status ParseValue(JsonValue* out, int depth) {
    if (AtEnd()) return Error("unexpected end of input, expected a value");
    out->line = line_;
    out->column = column_;
    const char c = Peek();
    switch (c) {
      case '{':
        return ParseObject(out, depth + 1);
      case '[':
        return ParseArray(out, depth + 1);
      case '"':
        out->type = JsonValue::Type::kString;
        return ParseString(&out->text);
      case 't':
        if (!Consume("true")) return Error("invalid literal (expected true)");
        out->type = JsonValue::Type::kBool;
        out->boolean = true;
        return absl::OkStatus();
      case 'f':
        if (!Consume("false")) return Error("invalid literal (expected false)");
        out->type = JsonValue::Type::kBool;
        out->boolean = false;
        return absl::OkStatus();
      case 'n':
        if (!Consume("null")) return Error("invalid literal (expected null)");
        out->type = JsonValue::Type::kNull;
        return absl::OkStatus();
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          out->type = JsonValue::Type::kNumber;
          return ParseNumber(&out->text);
        }
        return Error(absl::StrCat("invalid character '", absl::string_view(&c, 1),
                                  "' looking for the beginning of a value"));
    }
  }

  absl::Status ParseObject(JsonValue* out, int depth) {
    if (depth > kMaxJsonDepth) return Error("nested too deeply");
    out->type = JsonValue::Type::kObject;
    Advance();  // '{'
    SkipWhitespace();
    if (!AtEnd() && Peek() == '}') {
      Advance();
      return absl::OkStatus();
    }
    while (true) {
      if (AtEnd() || Peek() != '"') return Error("expected a string as object key");
      std::string key;
      absl::Status s = ParseString(&key);
      if (!s.ok()) return s;
      SkipWhitespace();
      if (AtEnd() || Peek() != ':') return Error("expected ':' after an object key");
      Advance();
      SkipWhitespace();
      JsonValue value;
      s = ParseValue(&value, depth);
      if (!s.ok()) return s;
      out->members.emplace_back(std::move(key), std::move(value));
      SkipWhitespace();
      if (AtEnd()) return Error("unexpected end of input inside an object");
      if (Peek() == ',') {
        Advance();
        SkipWhitespace();
        continue;
      }
      if (Peek() == '}') {
        Advance();
        return absl::OkStatus();
      }
      return Error("expected ',' or '}' after an object member");
    }
  }

  absl::Status ParseArray(JsonValue* out, int depth) {
    if (depth > kMaxJsonDepth) return Error("nested too deeply");
    out->type = JsonValue::Type::kArray;
    Advance();  // '['
    SkipWhitespace();
    if (!AtEnd() && Peek() == ']') {
      Advance();
      return absl::OkStatus();
    }
    while (true) {
      JsonValue value;
      absl::Status s = ParseValue(&value, depth);
      if (!s.ok()) return s;
      out->elements.push_back(std::move(value));
      SkipWhitespace();
      if (AtEnd()) return Error("unexpected end of input inside an array");
      if (Peek() == ',') {
        Advance();
        SkipWhitespace();
        continue;
      }
      if (Peek() == ']') {
        Advance();
        return absl::OkStatus();
      }
      return Error("expected ',' or ']' after an array element");
    }
  }

  // RFC 8259 §6: -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
  absl::Status ParseNumber(std::string* out) {
    const size_t start = pos_;
    auto digits = [&] {
      size_t n = 0;
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') {
        Advance();
        ++n;
      }
      return n;
    };
    if (Peek() == '-') Advance();
    if (AtEnd()) return Error("unexpected end of input in a number");
    if (Peek() == '0') {
      Advance();
    } else if (digits() == 0) {
      return Error("invalid number");
    }
    if (!AtEnd() && Peek() == '.') {
      Advance();
      if (digits() == 0) return Error("invalid number (digits expected after '.')");
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      Advance();
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) Advance();
      if (digits() == 0) return Error("invalid number (digits expected in the exponent)");
    }
    out->assign(text_.data() + start, pos_ - start);
    return absl::OkStatus();
  }

  absl::StatusOr<uint32_t> Hex4() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      if (AtEnd()) return Error("unexpected end of input in a \\u escape");
      const char c = Peek();
      uint32_t d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return Error("invalid character in a \\u escape");
      }
      v = (v << 4) | d;
      Advance();
    }
    return v;
  }

  absl::Status ParseString(std::string* out) {
    Advance();  // opening quote
    out->clear();
    while (true) {
      if (AtEnd()) return Error("unexpected end of input in a string");
      const unsigned char c = static_cast<unsigned char>(Peek());
      if (c == '"') {
        Advance();
        return absl::OkStatus();
      }
      if (c < 0x20) return Error("control character inside a string");
      if (c == '\\') {
        Advance();
        if (AtEnd()) return Error("unexpected end of input in a string escape");
        const char e = Peek();
        Advance();
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out->push_back(e);
            break;
          case 'b':
            out->push_back('\b');
            break;
          case 'f':
            out->push_back('\f');
            break;
          case 'n':
            out->push_back('\n');
            break;
          case 'r':
            out->push_back('\r');
            break;
          case 't':
            out->push_back('\t');
            break;
          case 'u': {
            absl::StatusOr<uint32_t> cp = Hex4();
            if (!cp.ok()) return cp.status();
            uint32_t code = *cp;
            if (code >= 0xD800 && code <= 0xDBFF) {
              // A high surrogate must be followed by \u + low surrogate;
              // otherwise it stands alone and becomes U+FFFD (Go's rule),
              // and what follows is decoded on its own.
              if (text_.substr(pos_, 2) == "\\u") {
                const size_t save_pos = pos_;
                const int save_line = line_, save_column = column_;
                Advance();
                Advance();
                absl::StatusOr<uint32_t> low = Hex4();
                if (!low.ok()) return low.status();
                if (*low >= 0xDC00 && *low <= 0xDFFF) {
                  code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
                } else {
                  pos_ = save_pos;
                  line_ = save_line;
                  column_ = save_column;
                  code = kReplacement;
                }
              } else {
                code = kReplacement;
              }
            } else if (code >= 0xDC00 && code <= 0xDFFF) {
              code = kReplacement;
            }
            AppendUtf8(code, out);
            break;
          }
          default:
            return Error("invalid escape in a string");
        }
        continue;
      }
      // Plain bytes: copy valid UTF-8 sequences, replace invalid bytes.
      const size_t len = ValidUtf8Length(
          reinterpret_cast<const unsigned char*>(text_.data()) + pos_, text_.size() - pos_);
      if (len == 0) {
        AppendUtf8(kReplacement, out);
        Advance();
      } else {
        out->append(text_.data() + pos_, len);
        for (size_t i = 0; i < len; ++i) Advance();
      }
    }
  }

  absl::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
};

}  // namespace

absl::StatusOr<JsonValue> ParseJson(absl::string_view text) { return Parser(text).Run(); }

absl::string_view JsonTypeName(JsonValue::Type type) {
  switch (type) {
    case JsonValue::Type::kNull:
      return "null";
    case JsonValue::Type::kBool:
      return "bool";
    case JsonValue::Type::kNumber:
      return "number";
    case JsonValue::Type::kString:
      return "string";
    case JsonValue::Type::kArray:
      return "array";
    case JsonValue::Type::kObject:
      return "object";
  }
  return "value";
}

}  // namespace kcpp::service::tunnel::internal
