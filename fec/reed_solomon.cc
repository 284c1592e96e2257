#include "fec/reed_solomon.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fec/internal/gf256.h"
#include "fec/internal/gf_kernels.h"
#include "fec/internal/gf_matrix.h"
#include "fec/internal/reed_solomon_peer.h"

namespace kcpp::fec {

namespace {

// Verify computes parity in chunks of this many bytes per parity shard.
constexpr size_t kVerifyScratchBytes = 16384;

}  // namespace

namespace internal {

// The immutable part of a code, shared by every ReedSolomon instance with
// the same (data, parity, kernel) in the process.
struct RsCode {
  int data = 0;
  int parity = 0;
  GfMatrix matrix;      // total x data
  KernelMatrix encode;  // parity rows of `matrix`
  MulRegionsFn kernel = nullptr;
  std::string kernel_name;
  size_t bytes = 0;  // heap held, for code_bytes()
};

// One cached erasure pattern: which shards feed the kernel and which it
// writes, with the prepared rows (inverse rows for data, parity row x inverse
// for parity).
struct CacheEntry {
  ShardMask inputs_key;      // the first data_shards present shards
  ShardMask parity_out_key;  // missing parity shards written (full mode)
  bool data_only = false;
  int num_outputs = 0;
  uint8_t inputs[ReedSolomon::kMaxTotalShards];
  uint8_t outputs[ReedSolomon::kMaxTotalShards];
  KernelMatrix matrix;

  size_t bytes() const { return sizeof(CacheEntry) + matrix.memory_bytes(); }
};

struct DecodeCache {
  std::vector<std::unique_ptr<CacheEntry>> entries;  // most recently used first
  size_t entry_bytes = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;

  size_t bytes() const {
    return sizeof(DecodeCache) + entries.capacity() * sizeof(entries[0]) + entry_bytes;
  }
};

namespace {

// The process-wide table of live codes. Codes die with their last instance
// (weak references here; expired ones are pruned on every insertion), so a
// peer that makes auto-tune walk through many codes leaves nothing behind.
std::shared_ptr<const RsCode> SharedCode(int data_shards, int parity_shards,
                                         const KernelChoice& kernel) {
  static std::mutex mu;
  static auto* codes = new std::vector<std::weak_ptr<const RsCode>>();
  std::lock_guard<std::mutex> lock(mu);
  for (const std::weak_ptr<const RsCode>& w : *codes) {
    std::shared_ptr<const RsCode> c = w.lock();
    if (c != nullptr && c->data == data_shards && c->parity == parity_shards &&
        c->kernel == kernel.fn) {
      return c;
    }
  }
  codes->erase(std::remove_if(codes->begin(), codes->end(),
                              [](const std::weak_ptr<const RsCode>& w) { return w.expired(); }),
               codes->end());
  // Not make_shared: the code's memory must go with its last strong
  // reference, not wait for the weak one here.
  std::shared_ptr<RsCode> code(new RsCode());
  code->data = data_shards;
  code->parity = parity_shards;
  code->matrix = BuildEncodingMatrix(data_shards, parity_shards);
  code->encode.Assign(parity_shards, data_shards, code->matrix.row(data_shards));
  code->kernel = kernel.fn;
  code->kernel_name = kernel.name;
  code->bytes = sizeof(RsCode) + size_t(data_shards + parity_shards) * data_shards +
                code->encode.memory_bytes();
  codes->push_back(code);
  return code;
}

}  // namespace

absl::StatusOr<ReedSolomon> ReedSolomonPeer::CreateWithKernel(int data_shards, int parity_shards,
                                                              const KernelChoice& kernel) {
  return CreateWithKernel(data_shards, parity_shards, kernel, ReedSolomon::CacheLimits());
}

absl::StatusOr<ReedSolomon> ReedSolomonPeer::CreateWithKernel(
    int data_shards, int parity_shards, const KernelChoice& kernel,
    const ReedSolomon::CacheLimits& limits) {
  if (data_shards < 1 || parity_shards < 1 ||
      data_shards + parity_shards > ReedSolomon::kMaxTotalShards) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Reed-Solomon needs 1 <= data, 1 <= parity and data + parity <= 256; got data ",
        data_shards, ", parity ", parity_shards));
  }
  return ReedSolomon(SharedCode(data_shards, parity_shards, kernel), limits);
}

}  // namespace internal

namespace {

// The kernel every instance of this process uses, chosen once.
const internal::KernelChoice& DefaultKernel() {
  static const internal::KernelChoice* const choice =
      new internal::KernelChoice(internal::DefaultMulRegions());
  return *choice;
}

}  // namespace

absl::StatusOr<ReedSolomon> ReedSolomon::Create(int data_shards, int parity_shards) {
  return Create(data_shards, parity_shards, CacheLimits());
}

absl::StatusOr<ReedSolomon> ReedSolomon::Create(int data_shards, int parity_shards,
                                                const CacheLimits& cache_limits) {
  return internal::ReedSolomonPeer::CreateWithKernel(data_shards, parity_shards, DefaultKernel(),
                                                     cache_limits);
}

ReedSolomon::ReedSolomon(std::shared_ptr<const internal::RsCode> code, const CacheLimits& limits)
    : code_(std::move(code)), limits_(limits) {}
ReedSolomon::ReedSolomon(ReedSolomon&&) noexcept = default;
ReedSolomon& ReedSolomon::operator=(ReedSolomon&&) noexcept = default;
ReedSolomon::~ReedSolomon() = default;

int ReedSolomon::data_shards() const { return code_->data; }
int ReedSolomon::parity_shards() const { return code_->parity; }
int ReedSolomon::total_shards() const { return code_->data + code_->parity; }
uint8_t ReedSolomon::matrix(int row, int col) const { return code_->matrix.at(row, col); }
absl::string_view ReedSolomon::kernel_name() const { return code_->kernel_name; }
size_t ReedSolomon::code_bytes() const { return code_->bytes; }

absl::Status ReedSolomon::Encode(absl::Span<const uint8_t* const> data,
                                 absl::Span<uint8_t* const> parity, size_t shard_size) const {
  const internal::RsCode& s = *code_;
  if (data.size() != size_t(s.data) || parity.size() != size_t(s.parity)) {
    return absl::InvalidArgumentError(absl::StrCat("Encode needs ", s.data, " data and ", s.parity,
                                                   " parity shards; got ", data.size(), " and ",
                                                   parity.size()));
  }
  if (std::find(data.begin(), data.end(), nullptr) != data.end() ||
      std::find(parity.begin(), parity.end(), nullptr) != parity.end()) {
    return absl::InvalidArgumentError("Encode: null shard pointer");
  }
  s.kernel(s.encode, data.data(), parity.data(), shard_size);
  return absl::OkStatus();
}

absl::StatusOr<bool> ReedSolomon::Verify(absl::Span<const uint8_t* const> shards,
                                         size_t shard_size) const {
  const internal::RsCode& s = *code_;
  if (shards.size() != size_t(s.data + s.parity)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Verify needs ", s.data + s.parity, " shards; got ", shards.size()));
  }
  if (std::find(shards.begin(), shards.end(), nullptr) != shards.end()) {
    return absl::InvalidArgumentError("Verify: null shard pointer");
  }
  alignas(64) uint8_t scratch[kVerifyScratchBytes];
  const size_t chunk = std::max<size_t>(16, kVerifyScratchBytes / s.parity / 16 * 16);
  uint8_t* out[kMaxTotalShards];
  for (int p = 0; p < s.parity; ++p) out[p] = scratch + p * chunk;
  const uint8_t* in[kMaxTotalShards];
  for (size_t off = 0; off < shard_size; off += chunk) {
    const size_t n = std::min(chunk, shard_size - off);
    for (int d = 0; d < s.data; ++d) in[d] = shards[d] + off;
    s.kernel(s.encode, in, out, n);
    for (int p = 0; p < s.parity; ++p) {
      if (memcmp(out[p], shards[s.data + p] + off, n) != 0) return false;
    }
  }
  return true;
}

absl::Status ReedSolomon::Reconstruct(absl::Span<uint8_t* const> shards, const ShardMask& present,
                                      size_t shard_size) {
  return ReconstructImpl(shards, present, shard_size, /*data_only=*/false);
}

absl::Status ReedSolomon::ReconstructData(absl::Span<uint8_t* const> shards,
                                          const ShardMask& present, size_t shard_size) {
  return ReconstructImpl(shards, present, shard_size, /*data_only=*/true);
}

absl::Status ReedSolomon::ReconstructImpl(absl::Span<uint8_t* const> shards,
                                          const ShardMask& present, size_t shard_size,
                                          bool data_only) {
  const internal::RsCode& s = *code_;
  const int total = s.data + s.parity;
  if (shards.size() != size_t(total)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Reconstruct needs ", total, " shard slots; got ", shards.size()));
  }
  // Normalise the pattern to what determines the decode: the first `data`
  // present shards are the inputs; the outputs are the missing data shards
  // (and, for a full reconstruction, the missing parity shards).
  ShardMask key;
  ShardMask parity_out;
  int inputs = 0;
  int missing_data = 0;
  int missing_parity = 0;
  for (int i = 0; i < total; ++i) {
    if (present[i]) {
      if (inputs < s.data) {
        key.set(i);
        ++inputs;
      }
    } else if (i < s.data) {
      ++missing_data;
    } else {
      ++missing_parity;
    }
  }
  if (missing_data == 0 && (data_only || missing_parity == 0)) return absl::OkStatus();
  if (inputs < s.data) {
    return absl::DataLossError(
        absl::StrCat("Reed-Solomon: ", inputs, " shards present, at least ", s.data, " needed"));
  }
  if (!data_only) {
    // Missing parity is recomputed too, so it belongs to the pattern.
    for (int i = s.data; i < total; ++i) {
      if (!present[i]) parity_out.set(i);
    }
  }
  for (int i = 0; i < total; ++i) {
    const bool needed = present[i] ? key[i] : (i < s.data || !data_only);
    if (needed && shards[i] == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("Reconstruct: shard ", i, " is null"));
    }
  }

  // Find or build the decode rows for this pattern.
  if (cache_ == nullptr) cache_ = std::make_unique<internal::DecodeCache>();
  internal::DecodeCache& cache = *cache_;
  auto it = std::find_if(cache.entries.begin(), cache.entries.end(), [&](const auto& e) {
    return e->data_only == data_only && e->inputs_key == key && e->parity_out_key == parity_out;
  });
  internal::CacheEntry* entry;
  if (it != cache.entries.end()) {
    ++cache.hits;
    std::rotate(cache.entries.begin(), it, it + 1);  // move to front
    entry = cache.entries.front().get();
  } else {
    ++cache.misses;
    std::unique_ptr<internal::CacheEntry> e;
    if (cache.entries.size() >= std::max<size_t>(limits_.max_entries, 1)) {
      e = std::move(cache.entries.back());
      cache.entries.pop_back();
      cache.entry_bytes -= e->bytes();
    } else {
      e = std::make_unique<internal::CacheEntry>();
    }
    e->inputs_key = key;
    e->parity_out_key = parity_out;
    e->data_only = data_only;
    internal::GfMatrix sub(s.data, s.data);
    int n = 0;
    for (int i = 0; i < total && n < s.data; ++i) {
      if (!present[i]) continue;
      e->inputs[n] = static_cast<uint8_t>(i);
      for (int c = 0; c < s.data; ++c) sub.at(n, c) = s.matrix.at(i, c);
      ++n;
    }
    internal::GfMatrix inverse;
    // Any data_shards rows of a Vandermonde-derived matrix are independent.
    if (!sub.Invert(&inverse)) return absl::InternalError("Reed-Solomon: singular sub-matrix");
    std::vector<uint8_t> rows;
    rows.reserve(size_t(missing_data + missing_parity) * s.data);
    e->num_outputs = 0;
    for (int i = 0; i < s.data; ++i) {
      if (present[i]) continue;
      e->outputs[e->num_outputs++] = static_cast<uint8_t>(i);
      rows.insert(rows.end(), inverse.row(i), inverse.row(i) + s.data);
    }
    if (!data_only) {
      for (int i = s.data; i < total; ++i) {
        if (present[i]) continue;
        e->outputs[e->num_outputs++] = static_cast<uint8_t>(i);
        // Parity row i applied to data = inverse x inputs.
        for (int c = 0; c < s.data; ++c) {
          uint8_t v = 0;
          for (int k = 0; k < s.data; ++k) {
            v ^= internal::GfMul(s.matrix.at(i, k), inverse.at(k, c));
          }
          rows.push_back(v);
        }
      }
    }
    e->matrix.Assign(e->num_outputs, s.data, rows.data());
    cache.entry_bytes += e->bytes();
    cache.entries.insert(cache.entries.begin(), std::move(e));
    // Stay within the byte budget, always keeping the entry just built.
    while (cache.entry_bytes > limits_.max_bytes && cache.entries.size() > 1) {
      cache.entry_bytes -= cache.entries.back()->bytes();
      cache.entries.pop_back();
    }
    entry = cache.entries.front().get();
  }

  const uint8_t* in[kMaxTotalShards];
  uint8_t* out[kMaxTotalShards];
  for (int k = 0; k < s.data; ++k) in[k] = shards[entry->inputs[k]];
  for (int k = 0; k < entry->num_outputs; ++k) out[k] = shards[entry->outputs[k]];
  s.kernel(entry->matrix, in, out, shard_size);
  return absl::OkStatus();
}

ReedSolomon::CacheStats ReedSolomon::cache_stats() const {
  CacheStats st;
  if (cache_ == nullptr) return st;
  st.hits = cache_->hits;
  st.misses = cache_->misses;
  st.entries = cache_->entries.size();
  st.bytes = cache_->bytes();
  return st;
}

}  // namespace kcpp::fec
