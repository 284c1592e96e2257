// Throughput of every cipher on 1500-byte buffers (kcp-go's mtuLimit), in
// the shape of kcp-go's crypt_test.go benchmarks:
//   BM_Raw<Mode>/<cipher>: kcp-go BlockCrypt.Encrypt / Decrypt equivalents
//   (Mode = Encrypt, Decrypt, or EncDec = one of each per iteration, which is
//   what kcp-go's BenchmarkAES128 & co measure).
//   BM_Seal / BM_Open: the full packet layer (nonce + CRC + cipher, or AEAD).
//   BM_SealBatch/<cipher>/<n>: SealBatch of n datagrams at once, as the
//   transport seals a flush (bytes counted for the whole batch).
//   BM_Crc32 (1024 bytes, as kcp-go), BM_Nonce (16 bytes).
//   BM_SealStamped / BM_OpenAdmit: the AEAD layer with replay protection
//   (docs/protocol.md §11.10): a stamp as the nonce, and Open followed by the
//   window; BM_ReplayWindow*: the window alone, in order and reordered.
// Run: bazel run --config=opt //crypt:crypt_benchmark
#include <libdeflate.h>

#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "crypt/internal/nonce_pool.h"
#include "crypt/packet_cipher.h"
#include "crypt/replay_window.h"

namespace kcpp::crypt {
namespace {

constexpr size_t kMtu = 1500;

std::unique_ptr<PacketCipher> Make(const char* name) {
  auto c = NewKcptunPacketCipher(name, DeriveKcptunKey("benchmark"));
  if (!c.ok()) std::abort();
  return std::move(*c);
}

enum Mode { kEncrypt, kDecrypt, kEncDec };

void RawBench(benchmark::State& state, const char* name, Mode mode) {
  auto c = Make(name);
  std::vector<uint8_t> buf(kMtu);
  for (size_t i = 0; i < kMtu; ++i) buf[i] = static_cast<uint8_t>(i * 7);
  for (auto _ : state) {
    if (mode != kDecrypt) c->EncryptRaw(absl::MakeSpan(buf));
    if (mode != kEncrypt) c->DecryptRaw(absl::MakeSpan(buf));
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(state.iterations() * kMtu * (mode == kEncDec ? 2 : 1));
}

void SealBench(benchmark::State& state, const char* name) {
  auto c = Make(name);
  std::vector<uint8_t> buf(kMtu, 1);
  for (auto _ : state) {
    c->Seal(absl::MakeSpan(buf));
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(state.iterations() * kMtu);
}

void SealBatchBench(benchmark::State& state, const char* name) {
  auto c = Make(name);
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<std::vector<uint8_t>> bufs(n, std::vector<uint8_t>(kMtu, 1));
  std::vector<absl::Span<uint8_t>> spans;
  for (auto& b : bufs) spans.push_back(absl::MakeSpan(b));
  for (auto _ : state) {
    c->SealBatch(spans);
    benchmark::DoNotOptimize(bufs[0].data());
  }
  state.SetBytesProcessed(state.iterations() * kMtu * n);
}

void OpenBench(benchmark::State& state, const char* name) {
  auto c = Make(name);
  std::vector<uint8_t> sealed(kMtu, 1), buf(kMtu);
  c->Seal(absl::MakeSpan(sealed));
  for (auto _ : state) {
    std::copy(sealed.begin(), sealed.end(), buf.begin());
    OpenResult r = c->Open(absl::MakeSpan(buf));
    if (!r.ok()) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(r.payload.data());
  }
  state.SetBytesProcessed(state.iterations() * kMtu);
}

#define KCPP_RAW(label, name)                                   \
  BENCHMARK_CAPTURE(RawBench, label##_Encrypt, name, kEncrypt); \
  BENCHMARK_CAPTURE(RawBench, label##_Decrypt, name, kDecrypt); \
  BENCHMARK_CAPTURE(RawBench, label##_EncDec, name, kEncDec)

KCPP_RAW(SM4, "sm4");
KCPP_RAW(AES128, "aes-128");
KCPP_RAW(AES192, "aes-192");
KCPP_RAW(AES256, "aes");
KCPP_RAW(TEA, "tea");
KCPP_RAW(XOR, "xor");
KCPP_RAW(Blowfish, "blowfish");
KCPP_RAW(None, "none");
KCPP_RAW(Cast5, "cast5");
KCPP_RAW(3DES, "3des");
KCPP_RAW(Twofish, "twofish");
KCPP_RAW(XTEA, "xtea");
KCPP_RAW(Salsa20, "salsa20");

BENCHMARK_CAPTURE(SealBench, AES128, "aes-128");
BENCHMARK_CAPTURE(SealBatchBench, AES128, "aes-128")->Arg(1)->Arg(4)->Arg(8)->Arg(32);
BENCHMARK_CAPTURE(SealBatchBench, AES256, "aes")->Arg(8)->Arg(32);
BENCHMARK_CAPTURE(OpenBench, AES128, "aes-128");
BENCHMARK_CAPTURE(SealBench, AES128_GCM, "aes-128-gcm");
BENCHMARK_CAPTURE(OpenBench, AES128_GCM, "aes-128-gcm");
BENCHMARK_CAPTURE(SealBench, AES256_GCM, "aes-256-gcm");
BENCHMARK_CAPTURE(OpenBench, AES256_GCM, "aes-256-gcm");
BENCHMARK_CAPTURE(SealBench, ChaCha20_Poly1305, "chacha20-poly1305");
BENCHMARK_CAPTURE(OpenBench, ChaCha20_Poly1305, "chacha20-poly1305");

// Seal with replay protection: the next stamp as the nonce.
void SealStampedBench(benchmark::State& state, const char* name) {
  auto c = Make(name);
  std::vector<uint8_t> buf(kMtu, 1);
  ReplayCounter counter(ReplayCounter::RandomStart());
  uint8_t nonce[kAeadNonceSize];
  for (auto _ : state) {
    counter.Next(123456).Store(nonce);
    c->SealWithNonce(absl::MakeSpan(buf), nonce);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(state.iterations() * kMtu);
}

// Open, then the window (each datagram a new counter, as a live session).
void OpenAdmitBench(benchmark::State& state, const char* name) {
  auto c = Make(name);
  std::vector<uint8_t> sealed(kMtu, 1), buf(kMtu);
  c->Seal(absl::MakeSpan(sealed));
  ReplayWindow window;
  uint64_t counter = 1000;
  for (auto _ : state) {
    std::copy(sealed.begin(), sealed.end(), buf.begin());
    OpenResult r = c->Open(absl::MakeSpan(buf));
    if (!r.ok()) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(ReplayStamp::Load(buf.data()));
    if (window.Admit(counter++) != ReplayWindow::Verdict::kNew) state.SkipWithError("refused");
    benchmark::DoNotOptimize(r.payload.data());
  }
  state.SetBytesProcessed(state.iterations() * kMtu);
}

BENCHMARK_CAPTURE(SealStampedBench, AES128_GCM, "aes-128-gcm");
BENCHMARK_CAPTURE(OpenAdmitBench, AES128_GCM, "aes-128-gcm");

void BM_ReplayWindowInOrder(benchmark::State& state) {
  ReplayWindow w;
  uint64_t c = 0;
  for (auto _ : state) benchmark::DoNotOptimize(w.Admit(c++));
}
BENCHMARK(BM_ReplayWindowInOrder);

// Pairs swapped (1 0 3 2 5 4 ...) and every 100th counter skipped: the
// reordering and loss a real path shows.
void BM_ReplayWindowReordered(benchmark::State& state) {
  ReplayWindow w;
  uint64_t i = 0;
  for (auto _ : state) {
    const uint64_t c = (i ^ 1) + (i / 100);
    ++i;
    benchmark::DoNotOptimize(w.Admit(c));
  }
}
BENCHMARK(BM_ReplayWindowReordered);

void BM_Crc32(benchmark::State& state) {
  std::vector<uint8_t> buf(1024, 3);
  for (auto _ : state) benchmark::DoNotOptimize(libdeflate_crc32(0, buf.data(), buf.size()));
  state.SetBytesProcessed(state.iterations() * 1024);
}
BENCHMARK(BM_Crc32);

void BM_Nonce(benchmark::State& state) {
  uint8_t nonce[16];
  for (auto _ : state) {
    internal::FillNonce(nonce, sizeof(nonce));
    benchmark::DoNotOptimize(nonce);
  }
  state.SetBytesProcessed(state.iterations() * 16);
}
BENCHMARK(BM_Nonce);

}  // namespace
}  // namespace kcpp::crypt
