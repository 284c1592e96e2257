#include "crypt/internal/nonce_pool.h"

#include <openssl/rand.h>

#include <cstring>

namespace kcpp::crypt::internal {
namespace {

constexpr size_t kPoolSize = 4096;

struct Pool {
  size_t pos = kPoolSize;
  uint8_t bytes[kPoolSize];
};

thread_local Pool pool;

}  // namespace

void FillNonce(uint8_t* out, size_t n) {
  Pool& p = pool;
  if (kPoolSize - p.pos < n) {
    RAND_bytes(p.bytes, kPoolSize);  // never fails in BoringSSL (aborts)
    p.pos = 0;
  }
  std::memcpy(out, p.bytes + p.pos, n);
  // Bytes handed out are wiped so they cannot leak through a later read.
  std::memset(p.bytes + p.pos, 0, n);
  p.pos += n;
}

}  // namespace kcpp::crypt::internal
