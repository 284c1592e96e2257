// AES-NI fast path for kcp-go's serial CFB encryption (docs/protocol.md §3.2).
// Each block's keystream is E(previous ciphertext), so encryption is a chain
// of dependent AES calls; keeping every round key in a register and inlining
// the rounds removes the per-block call and key loads of AES_encrypt.
//
// The round keys are BoringSSL's own (AES_KEY.rd_key after
// AES_set_encrypt_key); AesniUsable() checks both that the CPU has AES-NI and
// that BoringSSL laid the keys out in FIPS-197 order (it does when it picked
// its AES-NI key schedule), by comparing one block against AES_encrypt.
// `rounds` is AES_KEY.rounds as BoringSSL set it: 10, 12, 14 from its C key
// schedule, 9, 11, 13 from its AES-NI one (which counts the aesenc before
// the last round); both are understood.
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
void AesniCfbEncrypt(const uint32_t* round_keys, unsigned rounds, uint8_t* p, size_t n);

// The same for `count` independent buffers (packets[i], lengths[i] bytes),
// with identical results. One buffer's chain waits on the latency of every
// aesenc; here up to eight chains advance together, so the AES unit works on
// eight blocks at a time (about 4x the throughput on MTU-sized packets).
void AesniCfbEncryptMany(const uint32_t* round_keys, unsigned rounds, uint8_t* const* packets,
                         const size_t* lengths, size_t count);

}  // namespace kcpp::crypt::internal

#endif  // KCPP_CRYPT_INTERNAL_AESNI_CFB_H_
