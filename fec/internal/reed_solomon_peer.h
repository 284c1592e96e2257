// Test-only access to ReedSolomon internals (QUICHE-style peer): build a codec
// on a chosen region kernel so tests can run the whole codec on every SIMD
// target, not only the one this CPU picks, and see which instances share an
// encoding matrix. Not part of the API.
#ifndef KCPP_FEC_INTERNAL_REED_SOLOMON_PEER_H_
#define KCPP_FEC_INTERNAL_REED_SOLOMON_PEER_H_

#include <string>

#include "absl/status/statusor.h"
#include "fec/internal/gf_kernels.h"
#include "fec/reed_solomon.h"

namespace kcpp::fec::internal {

class ReedSolomonPeer {
 public:
  static absl::StatusOr<ReedSolomon> CreateWithKernel(int data_shards, int parity_shards,
                                                      const KernelChoice& kernel);
  static absl::StatusOr<ReedSolomon> CreateWithKernel(int data_shards, int parity_shards,
                                                      const KernelChoice& kernel,
                                                      const ReedSolomon::CacheLimits& limits);
  // The shared encoding matrix an instance uses (equal for instances that
  // share it).
  static const void* CodeIdentity(const ReedSolomon& rs) { return rs.code_.get(); }
};

}  // namespace kcpp::fec::internal

#endif  // KCPP_FEC_INTERNAL_REED_SOLOMON_PEER_H_
