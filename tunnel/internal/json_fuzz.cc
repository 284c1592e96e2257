// Fuzz target: the JSON reader and the kcptun config layer on arbitrary
// bytes (a kcptun -c file). Must never crash, hang or over-read; a config
// that parses must survive FinishKcptunConfig and the conversions.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tunnel/internal/json.h"
#include "tunnel/kcptun_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)kcpp::service::tunnel::internal::ParseJson(text);
  for (auto role :
       {kcpp::service::tunnel::TunnelRole::kClient, kcpp::service::tunnel::TunnelRole::kServer}) {
    kcpp::service::tunnel::KcptunConfig config = kcpp::service::tunnel::DefaultKcptunConfig(role);
    if (!kcpp::service::tunnel::ApplyKcptunJson(text, &config).ok()) continue;
    std::vector<std::string> warnings;
    if (kcpp::service::tunnel::FinishKcptunConfig(&config, &warnings).ok()) {
      (void)kcpp::service::tunnel::ToSessionOptions(config);
      (void)kcpp::service::tunnel::ToSmuxConfig(config);
      (void)kcpp::service::tunnel::DescribeKcptunConfig(config);
    }
  }
  return 0;
}
