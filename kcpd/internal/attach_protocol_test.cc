#include "kcpd/internal/attach_protocol.h"

#include <string>

#include "gtest/gtest.h"

namespace kcpp::service::internal {
namespace {

const std::string kToken(64, 'a');

TEST(AttachProtocol, RequestIsExactly72BytesAsDocumented) {
  const std::string req = FormatAttachRequest(kToken);
  EXPECT_EQ(req.size(), kAttachRequestSize);
  EXPECT_EQ(req, "ATTACH " + kToken + "\n");
  const AttachRequestParse p = ParseAttachRequest(req);
  EXPECT_EQ(p.status, AttachRequestParse::Status::kDone);
  EXPECT_EQ(p.token, kToken);
}

TEST(AttachProtocol, EveryPrefixOfAValidRequestNeedsMore) {
  const std::string req =
      FormatAttachRequest("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  for (size_t n = 0; n < req.size(); ++n) {
    EXPECT_EQ(ParseAttachRequest(req.substr(0, n)).status, AttachRequestParse::Status::kNeedMore)
        << n;
  }
}

TEST(AttachProtocol, WrongBytesAreRefusedAtTheFirstWrongByte) {
  // A text protocol by mistake: refused after one byte, without waiting for 72.
  AttachRequestParse p = ParseAttachRequest("G");
  EXPECT_EQ(p.status, AttachRequestParse::Status::kError);
  EXPECT_NE(p.error.find("ATTACH <token>"), std::string::npos);
  p = ParseAttachRequest("ATTACH 12Z");
  EXPECT_EQ(p.status, AttachRequestParse::Status::kError);
  EXPECT_EQ(p.error, "the token must be 64 lowercase hex digits");
  p = ParseAttachRequest("ATTACH ABCDEF");  // upper case is not the token's form
  EXPECT_EQ(p.status, AttachRequestParse::Status::kError);
  p = ParseAttachRequest("ATTACH abc\n");
  EXPECT_EQ(p.status, AttachRequestParse::Status::kError);
  EXPECT_NE(p.error.find("too short"), std::string::npos);
  p = ParseAttachRequest("ATTACH " + kToken + "a");
  EXPECT_EQ(p.status, AttachRequestParse::Status::kError);
  EXPECT_NE(p.error.find("too long"), std::string::npos);
  // A packet carrying more than the request.
  p = ParseAttachRequest("ATTACH " + kToken + "\nextra");
  EXPECT_EQ(p.status, AttachRequestParse::Status::kError);
}

TEST(AttachProtocol, Responses) {
  EXPECT_EQ(FormatAttachOk(), "OK\n");
  AttachResponseParse r = ParseAttachResponse("OK\nhello");
  EXPECT_EQ(r.status, AttachResponseParse::Status::kOk);
  EXPECT_EQ(r.consumed, 3u);

  const std::string err = FormatAttachError("token expired");
  EXPECT_EQ(err, "ERR token expired\n");
  r = ParseAttachResponse(err);
  EXPECT_EQ(r.status, AttachResponseParse::Status::kRefused);
  EXPECT_EQ(r.reason, "token expired");

  EXPECT_EQ(ParseAttachResponse("O").status, AttachResponseParse::Status::kNeedMore);
  EXPECT_EQ(ParseAttachResponse("ERR still typ").status, AttachResponseParse::Status::kNeedMore);
  EXPECT_EQ(ParseAttachResponse("HTTP/1.1").status, AttachResponseParse::Status::kMalformed);
  EXPECT_EQ(ParseAttachResponse("OKAY\n").status, AttachResponseParse::Status::kMalformed);
  EXPECT_EQ(ParseAttachResponse("ERR\n").status, AttachResponseParse::Status::kMalformed);
  EXPECT_EQ(ParseAttachResponse("ERR " + std::string(300, 'x')).status,
            AttachResponseParse::Status::kMalformed);
}

TEST(AttachProtocol, ErrorLinesStayOneShortPrintableLine) {
  const std::string err = FormatAttachError(std::string("bad\nline\x01") + std::string(1000, 'x'));
  EXPECT_EQ(err.size(), kMaxAttachResponseSize);
  EXPECT_EQ(err.find('\n'), err.size() - 1);
  EXPECT_EQ(err.substr(0, 13), "ERR bad?line?");
  const AttachResponseParse r = ParseAttachResponse(err);
  EXPECT_EQ(r.status, AttachResponseParse::Status::kRefused);
}

}  // namespace
}  // namespace kcpp::service::internal
