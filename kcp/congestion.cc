#include "kcp/congestion.h"

#include "absl/strings/str_cat.h"
#include "kcp/bbr.h"
#include "kcp/internal/kcpgo_window.h"

namespace kcpp::kcp {

const char* CongestionControlName(CongestionControl cc) {
  switch (cc) {
    case CongestionControl::kKcpGo:
      return "kcp-go";
    case CongestionControl::kNone:
      return "none";
    case CongestionControl::kBbr:
      return "bbr";
  }
  return "?";
}

absl::StatusOr<CongestionControl> ParseCongestionControl(absl::string_view name) {
  for (CongestionControl cc :
       {CongestionControl::kKcpGo, CongestionControl::kNone, CongestionControl::kBbr}) {
    if (name == CongestionControlName(cc)) return cc;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown congestion control \"", name,
                                                 "\": use bbr, kcp-go or none"));
}

std::unique_ptr<CongestionController> MakeCongestionController(CongestionControl cc,
                                                               uint64_t seed) {
  switch (cc) {
    case CongestionControl::kBbr:
      return std::make_unique<BbrController>(seed);
    case CongestionControl::kNone:
      return std::make_unique<internal::KcpGoWindow>(/*ikcp=*/false, /*disabled=*/true);
    case CongestionControl::kKcpGo:
      break;
  }
  return std::make_unique<internal::KcpGoWindow>(/*ikcp=*/false, /*disabled=*/false);
}

}  // namespace kcpp::kcp
