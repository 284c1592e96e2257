// Fuzz target: a listener's receive path as pure logic — the cipher's Open,
// Identify (conv and sn from the FEC or KCP header) and DemuxTable's
// decision (docs/protocol.md §5.2) — on hostile datagrams from up to 32 source
// addresses, with an application that accepts and sessions that end in
// between. transport/internal/listener_core.cc applies the decisions the
// same way.
//
// Input layout:
//   byte 0: cipher (bits 0-1: null, none, aes, aes-128-gcm), max_sessions
//           1 + bits 2-4, accept_backlog 1 + bits 5-7;
//   records: source u8 (address 127.0.0.1:(1000 + source % 32)) | event u8
//            (bit 0: the application accepts one waiting session; bit 1:
//            the session of this source ends before the datagram) | length
//            u16 LE | that many bytes (the datagram, cut to what is left).
// Each datagram is copied into an exactly sized heap buffer, so ASan sees
// any read outside it. Checked: Identify only claims fields that lie inside
// the payload (and reads them from where §5.2 says); each decision is the
// one §5.2 and the table's limits call for, judged against an independent
// shadow map; the table never holds more than max_sessions.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <vector>

#include "base/endian.h"
#include "crypt/packet_cipher.h"
#include "transport/internal/demux.h"
#include "transport/socket_address.h"

namespace {

using kcpp::transport::SocketAddress;
using kcpp::transport::internal::DemuxAction;
using kcpp::transport::internal::DemuxTable;
using kcpp::transport::internal::PacketIdentity;

void Check(bool ok) {
  if (!ok) std::abort();
}

const std::vector<std::unique_ptr<kcpp::crypt::PacketCipher>>& Ciphers() {
  static const auto* ciphers = [] {
    auto* v = new std::vector<std::unique_ptr<kcpp::crypt::PacketCipher>>;
    const auto key = kcpp::crypt::DeriveKcptunKey("fuzz");
    for (const char* name : {"null", "none", "aes", "aes-128-gcm"}) {
      auto c = kcpp::crypt::NewKcptunPacketCipher(name, key);
      if (!c.ok()) std::abort();
      v->push_back(*std::move(c));
    }
    return v;
  }();
  return *ciphers;
}

const std::vector<SocketAddress>& Addresses() {
  static const auto* addresses = [] {
    auto* v = new std::vector<SocketAddress>;
    for (int i = 0; i < 32; ++i) {
      v->push_back(*SocketAddress::Parse("127.0.0.1:" + std::to_string(1000 + i)));
    }
    return v;
  }();
  return *addresses;
}

// Identify's promise, re-derived: which fields a payload carries.
void CheckIdentity(const PacketIdentity& id, const uint8_t* p, size_t n) {
  Check(!id.has_sn || id.has_conv);
  const uint16_t flag = n >= 6 ? kcpp::LoadLe16(p + 4) : 0;
  if (flag == 0xF1) {
    Check(id.has_conv == (n >= 32));
    if (id.has_conv) {
      Check(id.conv == kcpp::LoadLe32(p + 8) && id.sn == kcpp::LoadLe32(p + 20) &&
            id.cmd == p[12] && id.una == kcpp::LoadLe32(p + 24));
    }
  } else if (flag == 0xF2) {
    Check(!id.has_conv);
  } else if (flag == 0xF3) {
    Check(!id.has_sn && id.has_conv == (n >= 12));
    if (id.has_conv) Check(id.conv == kcpp::LoadLe32(p + 8));
  } else {
    Check(id.has_conv == (n >= 24) && id.has_sn == (n >= 24));
    if (id.has_conv) {
      Check(id.conv == kcpp::LoadLe32(p) && id.sn == kcpp::LoadLe32(p + 12) && id.cmd == p[4] &&
            id.una == kcpp::LoadLe32(p + 16));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const kcpp::crypt::PacketCipher& cipher = *Ciphers()[data[0] & 3];
  const size_t max_sessions = 1 + ((data[0] >> 2) & 7);
  const size_t backlog = 1 + (data[0] >> 5);
  DemuxTable<int> table({max_sessions, backlog});
  std::map<int, uint32_t> shadow;  // source -> conv
  size_t pending = 0;
  int next_session = 0;
  size_t pos = 1;
  while (pos + 4 <= size) {
    const int source = data[pos] % 32;
    const uint8_t event = data[pos + 1];
    size_t len = data[pos + 2] | data[pos + 3] << 8;
    pos += 4;
    if (len > size - pos) len = size - pos;
    const SocketAddress& from = Addresses()[source];
    if ((event & 1) && pending > 0) --pending;
    if ((event & 2) && shadow.count(source)) {
      table.Erase(from);
      shadow.erase(source);
    }
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len == 0 ? 1 : len]);
    std::copy(data + pos, data + pos + len, buf.get());
    pos += len;
    const kcpp::crypt::OpenResult opened = cipher.Open(absl::MakeSpan(buf.get(), len));
    if (!opened.ok()) continue;
    const absl::Span<uint8_t> p = opened.payload;
    Check(p.data() >= buf.get() && p.data() + p.size() <= buf.get() + len);
    const PacketIdentity id = kcpp::transport::internal::Identify(p);
    CheckIdentity(id, p.data(), p.size());

    const DemuxAction action = table.Decide(from, id, pending);
    const bool known = shadow.count(source) > 0;
    const bool same_conv = known && id.has_conv && id.conv == shadow[source];
    // A conversation's first datagram: a PUSH of sn 0 (checked from the bytes
    // by CheckIdentity).
    const bool starts = id.has_conv && id.has_sn && id.sn == 0 && id.cmd == 81;
    // May create a session from an unknown address: a PUSH with una 0.
    const bool may_start = id.has_conv && id.has_sn && id.una == 0 && id.cmd == 81;
    switch (action) {
      case DemuxAction::kFeed:
        Check(known && (!id.has_conv || same_conv));
        Check(table.Find(from) != nullptr);
        break;
      case DemuxAction::kReplace:
        Check(known && id.has_conv && !same_conv && starts && pending < backlog);
        table.Erase(from);
        table.Insert(from, id.conv, next_session++);
        shadow[source] = id.conv;
        ++pending;  // the new session waits for Accept, as in listener_core.cc
        break;
      case DemuxAction::kCreate:
        Check(!known && may_start && pending < backlog && shadow.size() < max_sessions);
        table.Insert(from, id.conv, next_session++);
        shadow[source] = id.conv;
        ++pending;
        break;
      case DemuxAction::kDropNoConv:
        Check(!known && !id.has_conv);
        break;
      case DemuxAction::kDropMidConversation:
        Check(!known && id.has_conv && !may_start);
        break;
      case DemuxAction::kDropConvMismatch:
        Check(known && id.has_conv && !same_conv && !starts);
        break;
      case DemuxAction::kDropBacklogFull:
        Check(id.has_conv && !same_conv && pending >= backlog && (known ? starts : may_start));
        break;
      case DemuxAction::kDropSessionLimit:
        Check(!known && may_start && pending < backlog && shadow.size() >= max_sessions);
        break;
    }
    Check(table.size() == shadow.size());
    Check(table.size() <= max_sessions);
  }
  return 0;
}
