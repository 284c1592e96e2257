// Salsa20/20 stream cipher with a 64-bit nonce and 64-bit block counter
// starting at 0, written from D. J. Bernstein, "Salsa20 specification" (2005).
// Used by kcp-go's "salsa20" mode (docs/protocol.md §3.3).
#ifndef KCPP_CRYPT_INTERNAL_SALSA20_H_
#define KCPP_CRYPT_INTERNAL_SALSA20_H_

#include <cstddef>
#include <cstdint>

namespace kcpp::crypt::internal {

// XORs `n` bytes at `data` (in place) with the Salsa20/20 keystream for the
// 32-byte `key` and 8-byte `nonce`, starting at block 0.
void Salsa20XorKeyStream(uint8_t* data, size_t n, const uint8_t nonce[8], const uint8_t key[32]);

}  // namespace kcpp::crypt::internal

#endif  // KCPP_CRYPT_INTERNAL_SALSA20_H_
