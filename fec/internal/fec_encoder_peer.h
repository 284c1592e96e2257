// Test-only access to FecEncoder internals (QUICHE-style peer): start the
// seqid near the wrap point without sending four billion packets.
#ifndef KCPP_FEC_INTERNAL_FEC_ENCODER_PEER_H_
#define KCPP_FEC_INTERNAL_FEC_ENCODER_PEER_H_

#include <cstdint>

#include "fec/fec_encoder.h"

namespace kcpp::fec::internal {

class FecEncoderPeer {
 public:
  // Must be a multiple of data + parity (a group start), as real seqids are.
  static void SetNextSeqid(FecEncoder& encoder, uint32_t seqid) { encoder.next_ = seqid; }
};

}  // namespace kcpp::fec::internal

#endif  // KCPP_FEC_INTERNAL_FEC_ENCODER_PEER_H_
