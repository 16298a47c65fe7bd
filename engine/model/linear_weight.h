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

// [num_out, num_in] rows in `format`. `data` points either into the loaded
// model (quantized / F32 tensors used as they are) or into `owned` (F16/BF16
// converted to F32, dequantized copies, or several tensors concatenated by
// rows). Immutable after construction; thread-safe to read.
struct LinearWeight {
  kernels::WeightFormat format = kernels::WeightFormat::F32;
  const void* data = nullptr;
  int64_t num_out = 0;
  int64_t num_in = 0;
  std::shared_ptr<std::vector<uint8_t>> owned;

  // Concatenates the rows of `parts` (same num_in) into one weight, e.g.
  // q/k/v into one QKV matrix. Quantized parts stay quantized when they all
  // share one format; otherwise everything becomes F32. With
  // `dequantize` every part becomes F32.
  static LinearWeight from_tensors(const std::vector<const WeightTensor*>& parts, bool dequantize);

  // y[num_tokens, num_out] = x[num_tokens, num_in] · Wᵀ; throws kvs::Error on a
  // kernel error.
  void apply(const float* x, int64_t num_tokens, float* y, kernels::MatmulScratch& scratch) const;
  // Row `index` as floats (for embedding lookups).
  void row_to_float(int64_t index, float* out) const;
  // Bytes of one row in `format`.
  size_t row_bytes() const;

  // Tensor-parallel slices (copies into `owned`; the format is kept).
  // select_rows: the rows of the half-open ranges [first, second), in order
  // (column-parallel layers: a rank's heads of a fused QKV weight).
  // select_columns: columns [begin, end) of every row (row-parallel layers);
  // quantized formats need both ends on 32-element block boundaries, else
  // InvalidArgument.
  LinearWeight select_rows(const std::vector<std::pair<int64_t, int64_t>>& ranges) const;
  LinearWeight select_columns(int64_t begin, int64_t end) const;
};

// A 1-D tensor (norm weight, bias) converted to floats.
std::vector<float> tensor_to_floats(const WeightTensor& tensor);

}  // namespace kvs
