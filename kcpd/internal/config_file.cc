#include "kcpd/internal/config_file.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/errno_status.h"

namespace kcpp::service::internal {
namespace {

class Collector final : public google::protobuf::io::ErrorCollector {
 public:
  explicit Collector(absl::string_view name) : name_(name) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_.empty()) first_ = absl::StrCat(name_, ":", line + 1, ":", column + 1, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string name_;
  std::string first_;
};

}  // namespace

absl::StatusOr<kcpp::v1::KcpdConfig> ParseKcpdConfig(absl::string_view text,
                                                     absl::string_view name) {
  kcpp::v1::KcpdConfig config;
  Collector errors(name);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(
        errors.first().empty() ? absl::StrCat(name, ": not a valid KcpdConfig") : errors.first());
  }
  return config;
}

absl::StatusOr<kcpp::v1::KcpdConfig> LoadKcpdConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return ErrnoStatus(absl::StrCat("cannot read config file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseKcpdConfig(text.str(), path);
}

}  // namespace kcpp::service::internal
