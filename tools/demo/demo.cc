// kcpp demo: exercises what the libraries can do today and prints it.
//
// For every kcptun cipher: derive the key from a passphrase as kcptun does,
// seal a 1350-byte datagram (kcptun's default MTU), open it again, check the
// payload survived, flip one bit and check the datagram is rejected, and
// measure seal/open throughput.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crypt/packet_cipher.h"

namespace {

double MegabytesPerSecond(size_t bytes, absl::Duration d) {
  return static_cast<double>(bytes) / absl::ToDoubleSeconds(d) / 1e6;
}

}  // namespace

int main() {
  using kcpp::crypt::PacketCipher;
  constexpr size_t kMtu = 1350;
  const auto key = kcpp::crypt::DeriveKcptunKey("it's a secrect");
  std::printf("kcptun key for \"it's a secrect\": ");
  for (uint8_t b : key) std::printf("%02x", b);
  std::printf("\n\n%-18s %7s %6s %9s %11s %11s\n", "cipher", "header", "trail", "tamper",
              "seal MB/s", "open MB/s");
  int failures = 0;
  for (absl::string_view name : kcpp::crypt::SupportedCipherNames()) {
    auto cipher = kcpp::crypt::NewKcptunPacketCipher(name, key);
    if (!cipher.ok()) {
      std::printf("%-18s %s\n", std::string(name).c_str(), cipher.status().ToString().c_str());
      ++failures;
      continue;
    }
    const PacketCipher& c = **cipher;
    std::vector<uint8_t> payload(kMtu - c.overhead());
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 7 + 3);
    std::vector<uint8_t> packet(kMtu);
    auto fill = [&] {
      std::copy(payload.begin(), payload.end(), packet.begin() + c.header_size());
    };
    fill();
    c.Seal(absl::MakeSpan(packet));
    auto opened = c.Open(absl::MakeSpan(packet));
    const bool round_trip = opened.ok() && std::equal(payload.begin(), payload.end(),
                                                      opened.payload.begin(), opened.payload.end());
    fill();
    c.Seal(absl::MakeSpan(packet));
    packet[packet.size() - 1] ^= 0x40;
    const bool tamper_rejected =
        c.layout() == kcpp::crypt::CipherLayout::kNull || !c.Open(absl::MakeSpan(packet)).ok();
    if (!round_trip || !tamper_rejected) ++failures;

    constexpr int kRounds = 20000;
    absl::Time t0 = absl::Now();
    for (int i = 0; i < kRounds; ++i) c.Seal(absl::MakeSpan(packet));
    const absl::Duration seal = absl::Now() - t0;
    std::vector<uint8_t> sealed = packet;
    fill();
    c.Seal(absl::MakeSpan(sealed));
    t0 = absl::Now();
    for (int i = 0; i < kRounds; ++i) {
      packet = sealed;
      c.Open(absl::MakeSpan(packet));
    }
    const absl::Duration open = absl::Now() - t0;
    std::printf("%-18s %7zu %6zu %9s %11.0f %11.0f%s\n", std::string(name).c_str(), c.header_size(),
                c.trailer_size(),
                c.layout() == kcpp::crypt::CipherLayout::kNull ? "n/a"
                : tamper_rejected                              ? "rejected"
                                                               : "ACCEPTED",
                MegabytesPerSecond(kRounds * kMtu, seal), MegabytesPerSecond(kRounds * kMtu, open),
                round_trip ? "" : "  ROUND TRIP FAILED");
  }
  std::printf("\n%s\n",
              failures == 0 ? "all ciphers round-trip and reject tampering" : "FAILURES above");
  return failures == 0 ? 0 : 1;
}
