// AttachTokenRegistry: the one-time tokens that let an application attach
// its Unix-socket connection to a stream (docs/kcpd.md "Attaching").
//
//   AttachTokenRegistry tokens({.ttl = absl::Seconds(30)});
//   KCPP_ASSIGN_OR_RETURN(auto issued, tokens.Issue(stream, AttachSocketKind::kStream, now));
//   ... hand issued.token to the application through the control API ...
//   absl::StatusOr<StreamRef> s = tokens.Redeem(presented, AttachSocketKind::kStream, now);
//
// Tokens are 256 bits from BoringSSL's RAND_bytes, shown as 64 lowercase hex
// digits. Each is valid once, for `ttl` after issue, for the socket kind its
// stream needs. The registry keeps only SHA-256 digests of tokens, and looks
// tokens up by digest, so neither memory contents nor lookup timing reveal a
// live token. Refusals say why (unknown, expired, already used, stream
// closed, wrong socket) so an application author can tell mistakes apart; a
// used, expired or revoked token is remembered for another `ttl` to say so,
// then forgotten (and then reads as unknown).
//
// Slots are shared so that peers can never starve local callers: a token
// for a stream a peer opened (AttachOrigin::Remote) is refused once its pool
// (the listener that accepted the session; the peers of dialled sessions
// share another) holds max_pending_per_pool, or once only local_reserve of
// max_pending are left. Local calls (DialSession, OpenStream) may use every
// slot. The caller drops the streams refused (a flood of forged or replayed
// sessions costs the flooded listener its own share and nothing else).
//
// Time is passed in (any clock that never goes backwards; kcpd uses a
// monotonic one). Thread-safe.
#ifndef KCPP_KCPD_INTERNAL_ATTACH_TOKEN_REGISTRY_H_
#define KCPP_KCPD_INTERNAL_ATTACH_TOKEN_REGISTRY_H_

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kcpd/session_backend.h"

namespace kcpp::service::internal {

// Which data socket a stream attaches over.
enum class AttachSocketKind { kStream, kSeqpacket };

// Length of a token in its text form (256 bits as hex).
inline constexpr size_t kAttachTokenHexLength = 64;

// Who a stream waiting to attach is for: a local call, or a peer that
// opened it (counted in `pool`, e.g. "listeners/web").
struct AttachOrigin {
  bool remote = false;
  std::string pool;

  static AttachOrigin Local() { return {}; }
  static AttachOrigin Remote(std::string pool) { return {true, std::move(pool)}; }
};

class AttachTokenRegistry {
 public:
  struct Options {
    // How long a token stays valid after Issue.
    absl::Duration ttl = absl::Seconds(30);
    // Tokens issued and neither redeemed, expired nor revoked, at most.
    size_t max_pending = 16384;
    // Of those, at most this many for the streams of one remote pool...
    size_t max_pending_per_pool = 4096;
    // ...and never the last local_reserve for remote ones.
    size_t local_reserve = 1024;
  };
  struct Issued {
    std::string token;  // 64 lowercase hex digits
    absl::Time expire;  // on the registry's clock
  };

  explicit AttachTokenRegistry(Options options);

  // A fresh token for `stream`. RESOURCE_EXHAUSTED when max_pending tokens
  // are outstanding, and for a remote origin when its pool has its share or
  // only the local reserve is left (the message names the limit).
  absl::StatusOr<Issued> Issue(StreamRef stream, AttachSocketKind kind, absl::Time now,
                               const AttachOrigin& origin = AttachOrigin::Local());

  // Consumes `token` presented on a `kind` socket and returns its stream.
  // Refusals (the token stays as it was unless it was consumed):
  //   InvalidArgument    not 64 lowercase hex digits
  //   NotFound           unknown token
  //   DeadlineExceeded   expired
  //   FailedPrecondition already used; stream closed before attachment;
  //                      presented on the other socket kind (not consumed)
  absl::StatusOr<StreamRef> Redeem(absl::string_view token, AttachSocketKind kind, absl::Time now);

  // The stream closed before anyone attached: its token stops working.
  void Revoke(StreamRef stream);

  // Marks tokens whose ttl passed as expired and returns their streams
  // (nobody attached in time: the caller closes them). Forgets entries kept
  // only to explain refusals once they are older than 2 * ttl.
  std::vector<StreamRef> CollectExpired(absl::Time now);

  // When the oldest pending token expires; nullopt if none is pending.
  std::optional<absl::Time> NextExpiry() const;
  size_t pending() const;
  // Pending tokens of remote pool `pool`.
  size_t pending_in(const std::string& pool) const;
  absl::Duration ttl() const { return options_.ttl; }

 private:
  enum class State { kPending, kUsed, kExpired, kRevoked };
  struct Entry {
    StreamRef stream;
    AttachSocketKind kind;
    absl::Time issued;
    State state = State::kPending;
    AttachOrigin origin;
  };

  // With mu_ held.
  void ExpireLocked(absl::Time now, std::vector<StreamRef>* expired);
  // A pending entry leaves the pending state (to `state`).
  void SettleLocked(Entry& e, State state);

  const Options options_;
  mutable std::mutex mu_;
  // SHA-256(token) -> entry.
  absl::flat_hash_map<std::string, Entry> entries_;  // guarded by mu_
  // Digests in issue order (= expiry order: ttl is fixed and time monotonic).
  std::deque<std::string> order_;  // guarded by mu_
  // Pending token of each stream.
  absl::flat_hash_map<StreamRef, std::string> by_stream_;  // guarded by mu_
  size_t pending_ = 0;                                     // guarded by mu_
  size_t pending_remote_ = 0;                              // guarded by mu_
  absl::flat_hash_map<std::string, size_t> pending_by_pool_;  // guarded by mu_
};

}  // namespace kcpp::service::internal

#endif  // KCPP_KCPD_INTERNAL_ATTACH_TOKEN_REGISTRY_H_
