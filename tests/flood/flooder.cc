#include "tests/flood/flooder.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/endian.h"

namespace kcpp::flood {
namespace {

constexpr size_t kKcpHeader = 24;
constexpr size_t kFecHeader = 8;
constexpr uint8_t kCmdPush = 81;

enum class Kind { kRandom, kWrongKey, kTruncated, kOversized, kForged, kParity, kLiveConv };

}  // namespace

size_t ForgePush(const crypt::PacketCipher& cipher, bool fec, uint32_t seqid, uint32_t conv,
                 uint32_t sn, absl::Span<const uint8_t> payload, uint8_t* out) {
  size_t off = cipher.header_size();
  if (fec) {
    StoreLe32(out + off, seqid);
    StoreLe16(out + off + 4, 0xF1);
    StoreLe16(out + off + 6, static_cast<uint16_t>(kKcpHeader + payload.size() + 2));
    off += kFecHeader;
  }
  uint8_t* k = out + off;
  StoreLe32(k, conv);
  k[4] = kCmdPush;
  k[5] = 0;
  StoreLe16(k + 6, 32);
  StoreLe32(k + 8, 0);
  StoreLe32(k + 12, sn);
  StoreLe32(k + 16, 0);
  StoreLe32(k + 20, static_cast<uint32_t>(payload.size()));
  if (!payload.empty()) memcpy(k + kKcpHeader, payload.data(), payload.size());
  const size_t total = off + kKcpHeader + payload.size() + cipher.trailer_size();
  cipher.Seal(absl::MakeSpan(out, total));
  return total;
}

absl::StatusOr<std::unique_ptr<Flooder>> Flooder::Start(const FloodOptions& options) {
  auto right = crypt::NewKcptunPacketCipher(options.crypt, crypt::DeriveKcptunKey(options.key));
  if (!right.ok()) return right.status();
  // The wrong key's cipher: the same algorithm (a null layout has no key to
  // be wrong about; use aes then, which such a listener cannot parse either).
  const std::string wrong_name = options.crypt == "null" ? "aes" : options.crypt;
  auto wrong = crypt::NewKcptunPacketCipher(
      wrong_name, crypt::DeriveKcptunKey(options.key + " (but not quite)"));
  if (!wrong.ok()) return wrong.status();
  std::vector<int> fds;
  const auto any =
      *transport::SocketAddress::Parse(options.target.is_ipv6() ? "[::1]:0" : "127.0.0.1:0");
  for (int i = 0; i < options.source_ports; ++i) {
    const int fd = socket(options.target.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, any.sockaddr_ptr(), any.sockaddr_len()) != 0) {
      const int err = errno;
      if (fd >= 0) close(fd);
      for (int f : fds) close(f);
      return absl::InternalError(absl::StrCat("flood socket: ", strerror(err)));
    }
    fds.push_back(fd);
  }
  std::unique_ptr<Flooder> f(
      new Flooder(options, *std::move(right), *std::move(wrong), std::move(fds)));
  f->thread_ = std::thread([p = f.get()] { p->Run(); });
  return f;
}

Flooder::Flooder(FloodOptions options, std::unique_ptr<crypt::PacketCipher> right,
                 std::unique_ptr<crypt::PacketCipher> wrong, std::vector<int> fds)
    : options_(std::move(options)),
      right_(std::move(right)),
      wrong_(std::move(wrong)),
      fds_(std::move(fds)) {}

Flooder::~Flooder() {
  Stop();
  for (int fd : fds_) close(fd);
}

void Flooder::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void Flooder::WaitSent(uint64_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return finished_ || sent() >= n; });
}

void Flooder::Run() {
  std::mt19937_64 rng(options_.seed);
  const FloodMix& m = options_.mix;
  const std::vector<std::pair<Kind, int>> weights = {
      {Kind::kRandom, m.random},       {Kind::kWrongKey, m.wrong_key},
      {Kind::kTruncated, m.truncated}, {Kind::kOversized, m.oversized},
      {Kind::kForged, m.forged},       {Kind::kParity, m.parity},
      {Kind::kLiveConv, m.live_conv}};
  int total_weight = 0;
  for (const auto& [k, w] : weights) total_weight += w;
  std::vector<uint8_t> buf(2048);
  uint32_t seqid = 0;
  auto uniform = [&](uint64_t lo, uint64_t hi) {  // inclusive
    return lo + rng() % (hi - lo + 1);
  };
  auto fill_random = [&](uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(rng());
  };
  std::vector<uint8_t> payload(static_cast<size_t>(options_.max_payload));
  // A KCP PUSH behind the optional FEC header, sealed with `c`.
  auto forge = [&](const crypt::PacketCipher& c, uint32_t conv) -> size_t {
    const size_t n = uniform(0, payload.size());
    fill_random(payload.data(), n);
    const bool sn0 = std::uniform_real_distribution<double>(0, 1)(rng) < options_.sn0_share;
    const uint32_t sn = sn0 ? 0 : static_cast<uint32_t>(uniform(1, 255));
    return ForgePush(c, options_.fec, seqid++, conv, sn, absl::MakeConstSpan(payload.data(), n),
                     buf.data());
  };
  size_t port = 0;
  while (!stop_.load(std::memory_order_relaxed) &&
         (options_.max_datagrams == 0 || sent() < options_.max_datagrams)) {
    Kind kind = Kind::kRandom;
    int pick = static_cast<int>(rng() % static_cast<uint64_t>(total_weight));
    for (const auto& [k, w] : weights) {
      if (pick < w) {
        kind = k;
        break;
      }
      pick -= w;
    }
    size_t len = 0;
    switch (kind) {
      case Kind::kRandom:
        len = uniform(1, 1500);
        fill_random(buf.data(), len);
        break;
      case Kind::kWrongKey:
        len = forge(*wrong_, static_cast<uint32_t>(rng()));
        break;
      case Kind::kTruncated:
        len = forge(*right_, static_cast<uint32_t>(rng()));
        len = uniform(1, len - 1);
        break;
      case Kind::kOversized:
        len = uniform(1501, 1600);
        fill_random(buf.data(), len);
        break;
      case Kind::kForged:
        len = forge(*right_, static_cast<uint32_t>(rng()));
        break;
      case Kind::kLiveConv:
        len = forge(*right_, options_.live_conv);
        break;
      case Kind::kParity: {
        size_t off = right_->header_size();
        StoreLe32(&buf[off], seqid++);
        StoreLe16(&buf[off + 4], 0xF2);
        const size_t body = uniform(2, 1000);
        fill_random(&buf[off + 6], body);
        len = off + 6 + body + right_->trailer_size();
        right_->Seal(absl::MakeSpan(buf.data(), len));
        break;
      }
    }
    const int fd = fds_[port++ % fds_.size()];
    if (sendto(fd, buf.data(), len, 0, options_.target.sockaddr_ptr(),
               options_.target.sockaddr_len()) == static_cast<ssize_t>(len)) {
      const uint64_t n = sent_.fetch_add(1, std::memory_order_relaxed) + 1;
      if ((n & 1023) == 0) {
        std::lock_guard<std::mutex> lock(mu_);
        cv_.notify_all();
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  finished_ = true;
  cv_.notify_all();
}

}  // namespace kcpp::flood
