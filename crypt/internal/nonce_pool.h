// Per-thread pool of random bytes for packet nonces (docs/protocol.md §3.5:
// any good random source is compatible). Each thread refills its own 4 KiB
// pool from BoringSSL's RAND_bytes, so a nonce costs a memcpy, not a system
// call, and threads never contend.
#ifndef KCPP_CRYPT_INTERNAL_NONCE_POOL_H_
#define KCPP_CRYPT_INTERNAL_NONCE_POOL_H_

#include <cstddef>
#include <cstdint>

namespace kcpp::crypt::internal {

// Writes `n` (<= 64) random bytes to `out`.
void FillNonce(uint8_t* out, size_t n);

}  // namespace kcpp::crypt::internal

#endif  // KCPP_CRYPT_INTERNAL_NONCE_POOL_H_
