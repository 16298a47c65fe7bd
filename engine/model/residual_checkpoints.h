#pragma once
// KV-Direct's residual checkpoints: for every token of a sequence under the
// `residual` KV policy, the residual stream entering each layer, normalised
// (exactly what that layer's QKV projection reads). K/V evicted from the
// paged cache are recomputed from these rows bit for bit (RMSNorm is per row,
// the matmul per (row, token) pair, RoPE per element), so attention sees the
// same values as with the full cache. Stored as float (exact) or, on request,
// as half (half the memory; the recomputed K/V then differ slightly from the
// originals: docs/kv-compression.md gives the measured token match).
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace kvs {

// Ownership: owns the rows. Thread-safety: reserve() and erase() on the
// engine thread between steps; during a step, rank threads read rows written
// in earlier steps while one writer (rank 0) fills this step's rows, which
// never overlap them; reserve() first, so nothing reallocates meanwhile.
// Units: [layer][position][hidden] values per sequence, hidden floats in and
// out of each row.
class ResidualCheckpoints {
 public:
  enum class DType : uint8_t { F32, F16 };
  ResidualCheckpoints(int64_t num_layers, int64_t hidden, DType dtype = DType::F32)
      : num_layers_(num_layers), hidden_(hidden), dtype_(dtype) {}

  // Room for positions [0, num_tokens) of `sequence` at every layer (grows; never shrinks).
  void reserve(uint64_t sequence, int64_t num_tokens);
  // Stores / loads the row of (sequence, layer, position) (hidden floats; F16
  // rounds to nearest half on store). The sequence must be reserved that far;
  // throws kvs::Error otherwise.
  void write_row(uint64_t sequence, int64_t layer, int64_t position, const float* values);
  void read_row(uint64_t sequence, int64_t layer, int64_t position, float* values) const;
  void erase(uint64_t sequence) { rows_.erase(sequence); }
  bool contains(uint64_t sequence) const { return rows_.count(sequence) != 0; }
  // Bytes held for one sequence / for all.
  int64_t bytes(uint64_t sequence) const;
  int64_t total_bytes() const;
  int64_t hidden() const { return hidden_; }
  DType dtype() const { return dtype_; }
  int64_t bytes_per_value() const { return dtype_ == DType::F16 ? 2 : 4; }

 private:
  struct Rows {
    int64_t capacity = 0;                   // positions per layer
    std::vector<std::vector<uint8_t>> layers;  // [num_layers][capacity * hidden * bytes_per_value]
  };
  const uint8_t* locate(uint64_t sequence, int64_t layer, int64_t position) const;
  int64_t num_layers_, hidden_;
  DType dtype_;
  std::unordered_map<uint64_t, Rows> rows_;
};

}  // namespace kvs
