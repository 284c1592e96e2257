#include "kcpd/internal/attach_token_registry.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kcpp::service::internal {
namespace {

constexpr size_t kTokenBytes = kAttachTokenHexLength / 2;
constexpr char kHex[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string Digest(const uint8_t* bytes, size_t n) {
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  SHA256(bytes, n, reinterpret_cast<uint8_t*>(digest.data()));
  return digest;
}

absl::string_view KindName(AttachSocketKind kind) {
  return kind == AttachSocketKind::kStream ? "SOCK_STREAM" : "SOCK_SEQPACKET";
}

}  // namespace

AttachTokenRegistry::AttachTokenRegistry(Options options) : options_(options) {}

void AttachTokenRegistry::SettleLocked(Entry& e, State state) {
  e.state = state;
  --pending_;
  if (!e.origin.remote) return;
  --pending_remote_;
  auto it = pending_by_pool_.find(e.origin.pool);
  if (it != pending_by_pool_.end() && --it->second == 0) pending_by_pool_.erase(it);
}

absl::StatusOr<AttachTokenRegistry::Issued> AttachTokenRegistry::Issue(
    StreamRef stream, AttachSocketKind kind, absl::Time now, const AttachOrigin& origin) {
  std::array<uint8_t, kTokenBytes> raw;
  RAND_bytes(raw.data(), raw.size());  // BoringSSL's RAND_bytes cannot fail (aborts instead)
  Issued issued;
  issued.token.resize(kAttachTokenHexLength);
  for (size_t i = 0; i < raw.size(); ++i) {
    issued.token[2 * i] = kHex[raw[i] >> 4];
    issued.token[2 * i + 1] = kHex[raw[i] & 15];
  }
  issued.expire = now + options_.ttl;
  std::string digest = Digest(raw.data(), raw.size());

  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now, nullptr);
  auto previous = by_stream_.find(stream);
  if (previous != by_stream_.end()) {
    // A stream has one live token: the new one replaces it.
    auto it = entries_.find(previous->second);
    if (it != entries_.end() && it->second.state == State::kPending) {
      SettleLocked(it->second, State::kRevoked);
    }
    by_stream_.erase(previous);
  }
  if (pending_ >= options_.max_pending) {
    return absl::ResourceExhaustedError(
        absl::StrCat(pending_,
                     " streams are waiting for an application to attach (kcpd "
                     "--max_pending_attachments); attach or close some first"));
  }
  if (origin.remote) {
    const size_t remote_limit =
        options_.max_pending > options_.local_reserve ? options_.max_pending - options_.local_reserve
                                                      : 0;
    if (pending_remote_ >= remote_limit) {
      return absl::ResourceExhaustedError(absl::StrCat(
          pending_remote_, " streams opened by peers are waiting for an application to attach; "
          "the other ", options_.local_reserve,
          " of kcpd --max_pending_attachments are kept for local calls "
          "(--local_attachment_reserve): attach or close some first"));
    }
    auto pool = pending_by_pool_.find(origin.pool);
    if (pool != pending_by_pool_.end() && pool->second >= options_.max_pending_per_pool) {
      return absl::ResourceExhaustedError(absl::StrCat(
          origin.pool, " already has ", pool->second,
          " streams waiting for an application to attach, its share (kcpd "
          "--max_pending_attachments_per_listener): attach or close some first"));
    }
    ++pending_remote_;
    ++pending_by_pool_[origin.pool];
  }
  entries_[digest] = Entry{stream, kind, now, State::kPending, origin};
  order_.push_back(digest);
  by_stream_[stream] = std::move(digest);
  ++pending_;
  return issued;
}

absl::StatusOr<StreamRef> AttachTokenRegistry::Redeem(absl::string_view token,
                                                      AttachSocketKind kind, absl::Time now) {
  std::array<uint8_t, kTokenBytes> raw;
  bool well_formed = token.size() == kAttachTokenHexLength;
  for (size_t i = 0; well_formed && i < raw.size(); ++i) {
    const int hi = HexValue(token[2 * i]);
    const int lo = HexValue(token[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      well_formed = false;
      break;
    }
    raw[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (!well_formed) {
    return absl::InvalidArgumentError("the token must be 64 lowercase hex digits");
  }
  const std::string digest = Digest(raw.data(), raw.size());

  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now, nullptr);
  auto it = entries_.find(digest);
  if (it == entries_.end()) {
    return absl::NotFoundError("unknown token (mistyped, from another kcpd, or long expired)");
  }
  Entry& e = it->second;
  switch (e.state) {
    case State::kPending:
      if (e.issued + options_.ttl <= now) {
        return absl::DeadlineExceededError(
            absl::StrCat("token expired: attach within ", absl::FormatDuration(options_.ttl),
                         " of the call that returned it (the stream was closed)"));
      }
      break;
    case State::kUsed:
      return absl::FailedPreconditionError(
          "token already used: each token attaches one connection once");
    case State::kExpired:
      return absl::DeadlineExceededError(
          absl::StrCat("token expired: attach within ", absl::FormatDuration(options_.ttl),
                       " of the call that returned it (the stream was closed)"));
    case State::kRevoked:
      return absl::FailedPreconditionError("the stream closed before it was attached");
  }
  if (e.kind != kind) {
    return absl::FailedPreconditionError(
        absl::StrCat("this stream attaches over ", KindName(e.kind),
                     " (the attachment's socket_path), not ", KindName(kind)));
  }
  SettleLocked(e, State::kUsed);
  by_stream_.erase(e.stream);
  return e.stream;
}

void AttachTokenRegistry::Revoke(StreamRef stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto s = by_stream_.find(stream);
  if (s == by_stream_.end()) return;
  auto it = entries_.find(s->second);
  if (it != entries_.end() && it->second.state == State::kPending) {
    SettleLocked(it->second, State::kRevoked);
  }
  by_stream_.erase(s);
}

std::vector<StreamRef> AttachTokenRegistry::CollectExpired(absl::Time now) {
  std::vector<StreamRef> expired;
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now, &expired);
  return expired;
}

void AttachTokenRegistry::ExpireLocked(absl::Time now, std::vector<StreamRef>* expired) {
  // Pending tokens past their ttl become expired, and their streams are
  // reported, only when a caller collects them (it then closes the streams).
  if (expired != nullptr) {
    for (const std::string& digest : order_) {
      auto it = entries_.find(digest);
      if (it == entries_.end()) continue;
      Entry& e = it->second;
      if (e.issued + options_.ttl > now) break;
      if (e.state != State::kPending) continue;
      SettleLocked(e, State::kExpired);
      by_stream_.erase(e.stream);
      expired->push_back(e.stream);
    }
  }
  // Forget what is older than 2 * ttl (kept only to explain refusals), but
  // never a pending token nobody has collected yet.
  while (!order_.empty()) {
    auto it = entries_.find(order_.front());
    if (it != entries_.end()) {
      if (it->second.issued + 2 * options_.ttl > now || it->second.state == State::kPending) break;
      entries_.erase(it);
    }
    order_.pop_front();
  }
}

std::optional<absl::Time> AttachTokenRegistry::NextExpiry() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& digest : order_) {
    auto it = entries_.find(digest);
    if (it != entries_.end() && it->second.state == State::kPending) {
      return it->second.issued + options_.ttl;
    }
  }
  return std::nullopt;
}

size_t AttachTokenRegistry::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_;
}

size_t AttachTokenRegistry::pending_in(const std::string& pool) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_by_pool_.find(pool);
  return it == pending_by_pool_.end() ? 0 : it->second;
}

}  // namespace kcpp::service::internal
