#pragma once
// A linear layer's weight in the form the CPU matmul takes.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/loader/weight_tensor.h"
#include "kernels/cpu/matmul.h"

namespace kvs {

// [num_out, num_in], stored as one or more row segments: segment i holds the
// next segments[i].num_out rows, all in segments[i].format (a fused weight
// whose parts were quantized differently, e.g. Q4_K q/k with a Q6_K v, keeps
// each part's format). Adjacent rows of one format share a segment. Segment
// data points either into the loaded model (quantized / F32 tensors used as
// they are) or into `owned` (F16/BF16 converted to F32, dequantized copies,
// several tensors concatenated, slices). Immutable after construction;
// thread-safe to read.
struct LinearWeight {
  struct Segment {
    kernels::WeightFormat format = kernels::WeightFormat::F32;
    const void* data = nullptr;  // num_out rows of row_bytes(num_in) bytes
    int64_t num_out = 0;
  };
  std::vector<Segment> segments;
  int64_t num_out = 0;  // the sum of the segments' num_out
  int64_t num_in = 0;
  std::shared_ptr<std::vector<uint8_t>> owned;

  // One segment of `num_out` rows in `format` at `data` (kept alive by
  // `owned` when it points there).
  static LinearWeight from_rows(kernels::WeightFormat format, const void* data, int64_t num_out, int64_t num_in,
                                std::shared_ptr<std::vector<uint8_t>> owned = nullptr);

  // Concatenates the rows of `parts` (same num_in) into one weight, e.g.
  // q/k/v into one QKV matrix. Quantized parts stay quantized, each in its own
  // format (adjacent parts of one format are copied into one segment); F32 /
  // F16 / BF16 parts become F32. With `dequantize` the whole weight is one F32
  // segment.
  static LinearWeight from_tensors(const std::vector<const WeightTensor*>& parts, bool dequantize);

  // y[num_tokens, num_out] = x[num_tokens, num_in] · Wᵀ (each segment into
  // its columns of y; kernels::matmul_segments); throws kvs::Error on a
  // kernel error.
  void apply(const float* x, int64_t num_tokens, float* y, kernels::MatmulScratch& scratch) const;
  // Row `index` as floats (for embedding lookups).
  void row_to_float(int64_t index, float* out) const;
  // Bytes of row `index` in its segment's format.
  size_t row_bytes(int64_t index) const;
  // The weight's floats when it is a single F32 segment (dequantized or F32
  // weights), row-major; InvalidArgument otherwise.
  const float* f32_data() const;

  // Tensor-parallel slices (copies into a new `owned`; every row keeps its
  // format).
  // select_rows: the rows of the half-open ranges [first, second), in order
  // (column-parallel layers: a rank's heads of a fused QKV weight).
  // select_columns: columns [begin, end) of every row (row-parallel layers);
  // both ends must fall on block boundaries of every segment's format (32
  // elements, 256 for the K-quants), else InvalidArgument.
  LinearWeight select_rows(const std::vector<std::pair<int64_t, int64_t>>& ranges) const;
  LinearWeight select_columns(int64_t begin, int64_t end) const;
};

// A 1-D tensor (norm weight, bias) converted to floats.
std::vector<float> tensor_to_floats(const WeightTensor& tensor);

}  // namespace kvs
