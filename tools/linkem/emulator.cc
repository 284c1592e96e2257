#include "tools/linkem/emulator.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace kcpp::linkem {
namespace {

constexpr size_t kChunkSlots = 1024;

absl::Status ErrnoError(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

struct Emulator::Direction {
  Direction(int in, int out, const LinkConfig& config, size_t slot_bytes, size_t max_packets)
      : in_fd(in), out_fd(out), model(config), slot_bytes(slot_bytes), max_packets(max_packets) {}

  uint8_t* Slot(uint32_t i) {
    return chunks[i / kChunkSlots].get() + (i % kChunkSlots) * slot_bytes;
  }

  // A free slot, growing the pool by one chunk if allowed; false if full.
  bool Alloc(uint32_t* slot) {
    if (free.empty()) {
      const size_t have = chunks.size() * kChunkSlots;
      if (have >= max_packets) return false;
      chunks.push_back(std::make_unique<uint8_t[]>(kChunkSlots * slot_bytes));
      for (size_t i = have + kChunkSlots; i > have; --i)
        free.push_back(static_cast<uint32_t>(i - 1));
    }
    *slot = free.back();
    free.pop_back();
    return true;
  }

  // Counts an offered packet by protocol (IPv4 and IPv6 without extension
  // headers; anything else is "other").
  void Classify(const uint8_t* p, size_t n) {
    size_t ip_header;
    uint8_t proto;
    if (n >= 20 && (p[0] >> 4) == 4) {
      ip_header = (p[0] & 0x0f) * 4u;
      proto = p[9];
    } else if (n >= 40 && (p[0] >> 4) == 6) {
      ip_header = 40;
      proto = p[6];
    } else {
      stats.other_packets++;
      return;
    }
    if (proto == 17 && n >= ip_header + 8) {
      stats.udp_packets++;
      stats.udp_ip_bytes += n;
      stats.udp_payload_bytes += n - ip_header - 8;
    } else if (proto == 6 && n >= ip_header + 20) {
      const size_t tcp_header = (p[ip_header + 12] >> 4) * 4u;
      stats.tcp_packets++;
      stats.tcp_ip_bytes += n;
      if (n >= ip_header + tcp_header) stats.tcp_payload_bytes += n - ip_header - tcp_header;
    } else if (proto == 1 || proto == 58) {
      stats.icmp_packets++;
    } else {
      stats.other_packets++;
    }
  }

  int in_fd;
  int out_fd;
  LinkModel model;
  size_t slot_bytes;
  size_t max_packets;
  std::vector<std::unique_ptr<uint8_t[]>> chunks;
  std::vector<uint32_t> free;
  DirectionStats stats;  // everything but the model's counters
};

int64_t Emulator::NowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

absl::StatusOr<std::unique_ptr<Emulator>> Emulator::Create(int fd_a, int fd_b,
                                                           const EmulatorOptions& options) {
  if (absl::Status s = options.links.a2b.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("a->b: ", s.message()));
  }
  if (absl::Status s = options.links.b2a.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("b->a: ", s.message()));
  }
  if (options.max_packet_bytes < 64 || options.max_packet_bytes > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_packet_bytes must be in [64, 65535], got ", options.max_packet_bytes));
  }
  if (options.max_packets < 1 || options.max_packets > (size_t{1} << 24)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_packets must be in [1, 2^24], got ", options.max_packets));
  }
  if (options.read_burst < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("read_burst must be >= 1, got ", options.read_burst));
  }
  for (int fd : {fd_a, fd_b}) {
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
      return ErrnoError(absl::StrCat("fcntl(O_NONBLOCK) on fd ", fd));
    }
  }
  return std::unique_ptr<Emulator>(new Emulator(fd_a, fd_b, options));
}

Emulator::Emulator(int fd_a, int fd_b, const EmulatorOptions& options)
    : options_(options), start_us_(NowUs()) {
  const size_t slot = options.max_packet_bytes + 1;  // one more to see oversized packets
  dir_[0] = std::make_unique<Direction>(fd_a, fd_b, options.links.a2b, slot, options.max_packets);
  dir_[1] = std::make_unique<Direction>(fd_b, fd_a, options.links.b2a, slot, options.max_packets);
}

Emulator::~Emulator() = default;

bool Emulator::ReadBurst(Direction& d) {
  for (int i = 0; i < options_.read_burst; ++i) {
    uint32_t slot;
    if (!d.Alloc(&slot)) {
      // Keep draining the device so it does not stall: read and drop.
      uint8_t scratch[65536];
      const ssize_t n = read(d.in_fd, scratch, sizeof(scratch));
      if (n < 0) return errno == EAGAIN || errno == EINTR;
      if (n == 0) return false;
      d.stats.pool_drops++;
      continue;
    }
    const ssize_t n = read(d.in_fd, d.Slot(slot), d.slot_bytes);
    if (n <= 0) {
      d.free.push_back(slot);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
      if (n < 0 && errno != EIO) {
        d.stats.read_errors++;
        continue;
      }
      return false;  // EOF or EIO: the device is gone
    }
    if (static_cast<size_t>(n) > options_.max_packet_bytes) {
      d.free.push_back(slot);
      d.stats.oversize_drops++;
      continue;
    }
    d.Classify(d.Slot(slot), static_cast<size_t>(n));
    if (!d.model.Offer(NowUs(), static_cast<uint32_t>(n), slot)) d.free.push_back(slot);
  }
  return true;
}

void Emulator::DeliverDue(Direction& d, int64_t now_us) {
  uint64_t tag;
  uint32_t bytes;
  while (true) {
    const std::optional<int64_t> due = d.model.NextDeliveryUs();
    if (!due || *due > now_us) return;
    d.model.PopDue(now_us, &tag, &bytes);
    const uint32_t slot = static_cast<uint32_t>(tag);
    const uint8_t* p = d.Slot(slot);
    const uint8_t proto = bytes >= 20 && (p[0] >> 4) == 4   ? p[9]
                          : bytes >= 40 && (p[0] >> 4) == 6 ? p[6]
                                                            : 0;
    if (proto == 17) d.stats.udp_delivered_ip_bytes += bytes;
    if (proto == 6) d.stats.tcp_delivered_ip_bytes += bytes;
    if (write(d.out_fd, d.Slot(slot), bytes) != static_cast<ssize_t>(bytes)) {
      d.stats.write_errors++;
    }
    d.free.push_back(slot);
    const int64_t late = now_us - *due;
    d.stats.late_max_us = std::max(d.stats.late_max_us, late);
    d.stats.late_sum_us += static_cast<uint64_t>(late);
    d.stats.late_over_100us += late > 100;
    d.stats.late_over_1ms += late > 1000;
  }
}

absl::Status Emulator::Run(int control_fd, absl::FunctionRef<bool()> on_control) {
  pollfd fds[3] = {
      {dir_[0]->in_fd, POLLIN, 0}, {dir_[1]->in_fd, POLLIN, 0}, {control_fd, POLLIN, 0}};
  const nfds_t nfds = control_fd >= 0 ? 3 : 2;
  while (true) {
    int64_t now = NowUs();
    DeliverDue(*dir_[0], now);
    DeliverDue(*dir_[1], now);

    int64_t next = INT64_MAX;
    for (const auto& d : dir_) {
      if (std::optional<int64_t> due = d->model.NextDeliveryUs()) next = std::min(next, *due);
    }
    timespec timeout{0, 0};
    timespec* wait = nullptr;
    if (next != INT64_MAX) {
      now = NowUs();
      const int64_t us = std::max<int64_t>(0, next - now);
      timeout.tv_sec = us / 1'000'000;
      timeout.tv_nsec = (us % 1'000'000) * 1000;
      wait = &timeout;
    }
    const int n = ppoll(fds, nfds, wait, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("ppoll");
    }
    if (n == 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents & (POLLERR | POLLNVAL | POLLHUP)) {
        return absl::UnavailableError(absl::StrCat("device ", i == 0 ? "A" : "B", " failed"));
      }
      if ((fds[i].revents & POLLIN) && !ReadBurst(*dir_[i])) {
        return absl::UnavailableError(absl::StrCat("device ", i == 0 ? "A" : "B", " went away"));
      }
    }
    if (nfds == 3 && (fds[2].revents & POLLIN) && !on_control()) return absl::OkStatus();
  }
}

DirectionStats Emulator::Stats(int direction) const {
  const Direction& d = *dir_[direction];
  DirectionStats s = d.stats;
  s.link = d.model.counters();
  s.queued_bytes = d.model.QueuedBytes(NowUs());
  s.in_flight = d.model.InFlightPackets();
  return s;
}

std::string Emulator::StatsJson() const {
  std::string out = absl::StrCat("{\"linkem\":\"stats\",\"t_us\":", NowUs() - start_us_);
  const char* names[2] = {"a2b", "b2a"};
  for (int i = 0; i < 2; ++i) {
    const DirectionStats s = Stats(i);
    const LinkCounters& k = s.link;
    const uint64_t late_n = k.delivered_packets;
    absl::StrAppend(
        &out, ",\"", names[i], "\":{\"offered_packets\":", k.offered_packets,
        ",\"offered_bytes\":", k.offered_bytes, ",\"queue_drops\":", k.queue_drops,
        ",\"queue_drop_bytes\":", k.queue_drop_bytes, ",\"loss_drops\":", k.loss_drops,
        ",\"loss_drop_bytes\":", k.loss_drop_bytes, ",\"delivered_packets\":", k.delivered_packets,
        ",\"delivered_bytes\":", k.delivered_bytes, ",\"peak_queue_bytes\":", k.peak_queue_bytes,
        ",\"queued_bytes\":", s.queued_bytes, ",\"in_flight\":", s.in_flight);
    absl::StrAppend(&out, ",\"udp_packets\":", s.udp_packets, ",\"udp_ip_bytes\":", s.udp_ip_bytes,
                    ",\"udp_payload_bytes\":", s.udp_payload_bytes,
                    ",\"tcp_packets\":", s.tcp_packets, ",\"tcp_ip_bytes\":", s.tcp_ip_bytes,
                    ",\"tcp_payload_bytes\":", s.tcp_payload_bytes,
                    ",\"icmp_packets\":", s.icmp_packets, ",\"other_packets\":", s.other_packets,
                    ",\"udp_delivered_ip_bytes\":", s.udp_delivered_ip_bytes,
                    ",\"tcp_delivered_ip_bytes\":", s.tcp_delivered_ip_bytes);
    absl::StrAppend(
        &out, ",\"pool_drops\":", s.pool_drops, ",\"oversize_drops\":", s.oversize_drops,
        ",\"read_errors\":", s.read_errors, ",\"write_errors\":", s.write_errors,
        ",\"late_max_us\":", s.late_max_us,
        ",\"late_mean_us\":", late_n ? static_cast<double>(s.late_sum_us) / late_n : 0.0,
        ",\"late_over_100us\":", s.late_over_100us, ",\"late_over_1ms\":", s.late_over_1ms, "}");
  }
  absl::StrAppend(&out, "}");
  return out;
}

}  // namespace kcpp::linkem
