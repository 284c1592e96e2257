// A small command-line parser for kcpctl's subcommands: positional words and
// "--name=value" / "--name value" / "--flag" options, each checked against
// the options the command knows, so mistakes are reported (exit code 1)
// instead of ignored.
#ifndef KCPP_KCPCTL_CLI_ARGS_H_
#define KCPP_KCPCTL_CLI_ARGS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kcpp::service::internal {

// What an option looks like.
struct OptionSpec {
  std::string name;  // without "--"
  bool takes_value;  // false: a boolean switch ("--json"; "--json=false" also works)
};

class CliArgs {
 public:
  // Parses `args` (without the program name). Options may appear anywhere;
  // "--" ends options. InvalidArgument names the offending argument.
  static absl::StatusOr<CliArgs> Parse(const std::vector<std::string>& args,
                                       const std::vector<OptionSpec>& known);

  const std::vector<std::string>& positional() const { return positional_; }
  bool Has(absl::string_view name) const { return values_.count(std::string(name)) != 0; }
  // The value of an option, if given.
  std::optional<std::string> Get(absl::string_view name) const;
  // Typed accessors: nullopt if absent, InvalidArgument if malformed.
  absl::StatusOr<std::optional<uint64_t>> GetUint(absl::string_view name, uint64_t max) const;
  absl::StatusOr<std::optional<bool>> GetBool(absl::string_view name) const;
  absl::StatusOr<std::optional<absl::Duration>> GetDuration(absl::string_view name) const;

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> is_switch_;
};

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPCTL_CLI_ARGS_H_
