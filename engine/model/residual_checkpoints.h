#pragma once
// KV-Direct's residual checkpoints: for every token of a sequence under the
// `residual` KV policy, the residual stream entering each layer, normalised
// (exactly what that layer's QKV projection reads). K/V evicted from the
// paged cache are recomputed from these rows bit for bit (RMSNorm is per row,
// the matmul per (row, token) pair, RoPE per element), so attention sees the
// same values as with the full cache.
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace kvs {

// Ownership: owns the rows. Thread-safety: reserve() and erase() on the
// engine thread between steps; during a step, rank threads read rows written
// in earlier steps while one writer (rank 0) fills this step's rows, which
// never overlap them; reserve() first, so nothing reallocates meanwhile.
// Units: floats, [layer][position][hidden] per sequence.
class ResidualCheckpoints {
 public:
  ResidualCheckpoints(int64_t num_layers, int64_t hidden) : num_layers_(num_layers), hidden_(hidden) {}

  // Room for positions [0, num_tokens) of `sequence` at every layer (grows; never shrinks).
  void reserve(uint64_t sequence, int64_t num_tokens);
  // Row of (sequence, layer, position); the sequence must be reserved that far.
  float* row(uint64_t sequence, int64_t layer, int64_t position);
  void erase(uint64_t sequence) { rows_.erase(sequence); }
  bool contains(uint64_t sequence) const { return rows_.count(sequence) != 0; }
  // Bytes held for one sequence / for all.
  int64_t bytes(uint64_t sequence) const;
  int64_t total_bytes() const;
  int64_t hidden() const { return hidden_; }

 private:
  struct Rows {
    int64_t capacity = 0;                   // positions per layer
    std::vector<std::vector<float>> layers;  // [num_layers][capacity * hidden]
  };
  int64_t num_layers_, hidden_;
  std::unordered_map<uint64_t, Rows> rows_;
};

}  // namespace kvs
