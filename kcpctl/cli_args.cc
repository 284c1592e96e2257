#include "kcpctl/cli_args.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kcpp::service::internal {

absl::StatusOr<CliArgs> CliArgs::Parse(const std::vector<std::string>& args,
                                       const std::vector<OptionSpec>& known) {
  CliArgs out;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || !absl::StartsWith(arg, "--") || arg == "-") {
      out.positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : known) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
    }
    if (spec->takes_value && !value.has_value()) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("option --", name, " needs a value"));
      }
      value = args[++i];
    }
    if (out.values_.count(name) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("option --", name, " given twice"));
    }
    out.values_[name] = value.value_or("true");
    out.is_switch_[name] = !spec->takes_value;
  }
  return out;
}

std::optional<std::string> CliArgs::Get(absl::string_view name) const {
  auto it = values_.find(std::string(name));
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::optional<uint64_t>> CliArgs::GetUint(absl::string_view name,
                                                         uint64_t max) const {
  std::optional<std::string> v = Get(name);
  if (!v.has_value()) return std::optional<uint64_t>();
  uint64_t n = 0;
  if (!absl::SimpleAtoi(*v, &n) || n > max || v->empty() || (*v)[0] == '+' || (*v)[0] == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " wants a whole number 0..", max, ", got \"", *v, "\""));
  }
  return std::optional<uint64_t>(n);
}

absl::StatusOr<std::optional<bool>> CliArgs::GetBool(absl::string_view name) const {
  std::optional<std::string> v = Get(name);
  if (!v.has_value()) return std::optional<bool>();
  if (*v == "true" || *v == "1" || *v == "yes") return std::optional<bool>(true);
  if (*v == "false" || *v == "0" || *v == "no") return std::optional<bool>(false);
  return absl::InvalidArgumentError(
      absl::StrCat("--", name, " wants true or false, got \"", *v, "\""));
}

absl::StatusOr<std::optional<absl::Duration>> CliArgs::GetDuration(absl::string_view name) const {
  std::optional<std::string> v = Get(name);
  if (!v.has_value()) return std::optional<absl::Duration>();
  absl::Duration d;
  if (!absl::ParseDuration(*v, &d) || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " wants a duration like 500ms, 10s or 1m, got \"", *v, "\""));
  }
  return std::optional<absl::Duration>(d);
}

}  // namespace kcpp::service::internal
