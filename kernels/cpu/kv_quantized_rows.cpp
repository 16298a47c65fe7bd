#include "kernels/cpu/kv_quantized_rows.h"

#include "kernels/cpu/quantize.h"

namespace kvs::kernels {

void quantize_kv_row(KvDType dtype, const float* x, uint8_t* out, int64_t n) {
  if (dtype == KvDType::Q8_0) quantize_row_q8_0(x, reinterpret_cast<BlockQ8_0*>(out), n);
  if (dtype == KvDType::Q4_0) quantize_row_q4_0(x, reinterpret_cast<BlockQ4_0*>(out), n);
}

void dequantize_kv_row(KvDType dtype, const uint8_t* row, float* out, int64_t n) {
  if (dtype == KvDType::Q8_0) dequantize_row(WeightFormat::Q8_0, row, out, n);
  if (dtype == KvDType::Q4_0) dequantize_row(WeightFormat::Q4_0, row, out, n);
}

}  // namespace kvs::kernels
