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
// Time is passed in (any clock that never goes backwards; kcpd uses a
// monotonic one). Thread-safe.
#ifndef KCPP_SERVICE_INTERNAL_ATTACH_TOKEN_REGISTRY_H_
#define KCPP_SERVICE_INTERNAL_ATTACH_TOKEN_REGISTRY_H_

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
#include "service/session_backend.h"

namespace kcpp::service::internal {

// Which data socket a stream attaches over.
enum class AttachSocketKind { kStream, kSeqpacket };

// Length of a token in its text form (256 bits as hex).
inline constexpr size_t kAttachTokenHexLength = 64;

class AttachTokenRegistry {
 public:
  struct Options {
    // How long a token stays valid after Issue.
    absl::Duration ttl = absl::Seconds(30);
    // Tokens issued and neither redeemed, expired nor revoked, at most.
    size_t max_pending = 16384;
  };
  struct Issued {
    std::string token;  // 64 lowercase hex digits
    absl::Time expire;  // on the registry's clock
  };

  explicit AttachTokenRegistry(Options options);

  // A fresh token for `stream`. RESOURCE_EXHAUSTED when max_pending tokens
  // are outstanding.
  absl::StatusOr<Issued> Issue(StreamRef stream, AttachSocketKind kind, absl::Time now);

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
  absl::Duration ttl() const { return options_.ttl; }

 private:
  enum class State { kPending, kUsed, kExpired, kRevoked };
  struct Entry {
    StreamRef stream;
    AttachSocketKind kind;
    absl::Time issued;
    State state = State::kPending;
  };

  // With mu_ held.
  void ExpireLocked(absl::Time now, std::vector<StreamRef>* expired);

  const Options options_;
  mutable std::mutex mu_;
  // SHA-256(token) -> entry.
  absl::flat_hash_map<std::string, Entry> entries_;  // guarded by mu_
  // Digests in issue order (= expiry order: ttl is fixed and time monotonic).
  std::deque<std::string> order_;  // guarded by mu_
  // Pending token of each stream.
  absl::flat_hash_map<StreamRef, std::string> by_stream_;  // guarded by mu_
  size_t pending_ = 0;                                     // guarded by mu_
};

}  // namespace kcpp::service::internal

#endif  // KCPP_SERVICE_INTERNAL_ATTACH_TOKEN_REGISTRY_H_
