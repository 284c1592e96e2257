// AES-NI fast path for kcp-go's serial CFB encryption (wire-format.md §3.2).
// Each block's keystream is E(previous ciphertext), so encryption is a chain
// of dependent AES calls; keeping every round key in a register and inlining
// the rounds removes the per-block call and key loads of AES_encrypt.
//
// The round keys are BoringSSL's own (AES_KEY.rd_key after
// AES_set_encrypt_key); AesniUsable() checks both that the CPU has AES-NI and
// that BoringSSL laid the keys out in FIPS-197 order (it does when it picked
// its AES-NI key schedule), by comparing one block against AES_encrypt.
#ifndef KCPP_CRYPT_INTERNAL_AESNI_CFB_H_
#define KCPP_CRYPT_INTERNAL_AESNI_CFB_H_

#include <cstddef>
#include <cstdint>

namespace kcpp::crypt::internal {

// True if AesniCfbEncrypt may be used with these BoringSSL round keys.
// `aes_encrypt_block` = BoringSSL's AES_encrypt for the same key.
bool AesniUsable(const uint32_t* round_keys, unsigned rounds,
                 void (*aes_encrypt_block)(const uint8_t*, uint8_t*, const void*),
                 const void* aes_key);

// CFB-encrypts `n` bytes at `p` in place with the fixed kcp-go IV.
// `rounds` is 10, 12 or 14.
void AesniCfbEncrypt(const uint32_t* round_keys, unsigned rounds, uint8_t* p, size_t n);

}  // namespace kcpp::crypt::internal

#endif  // KCPP_CRYPT_INTERNAL_AESNI_CFB_H_
