#include "kernels/cpu/weight_format.h"

namespace kvs::kernels {

int64_t format_block_elements(WeightFormat format) {
  switch (format) {
    case WeightFormat::F32: return 1;
    case WeightFormat::Q8_0:
    case WeightFormat::Q4_0:
    case WeightFormat::Q4_1:
    case WeightFormat::Q5_0:
    case WeightFormat::Q5_1:
    case WeightFormat::IQ4_NL: return kQuantBlock;
    case WeightFormat::Q2_K:
    case WeightFormat::Q3_K:
    case WeightFormat::Q4_K:
    case WeightFormat::Q5_K:
    case WeightFormat::Q6_K: return kQuantBlockK;
  }
  return 1;
}

size_t format_block_bytes(WeightFormat format) {
  switch (format) {
    case WeightFormat::F32: return sizeof(float);
    case WeightFormat::Q8_0: return sizeof(BlockQ8_0);
    case WeightFormat::Q4_0: return sizeof(BlockQ4_0);
    case WeightFormat::Q4_1: return sizeof(BlockQ4_1);
    case WeightFormat::Q5_0: return sizeof(BlockQ5_0);
    case WeightFormat::Q5_1: return sizeof(BlockQ5_1);
    case WeightFormat::IQ4_NL: return sizeof(BlockIQ4_NL);
    case WeightFormat::Q2_K: return sizeof(BlockQ2_K);
    case WeightFormat::Q3_K: return sizeof(BlockQ3_K);
    case WeightFormat::Q4_K: return sizeof(BlockQ4_K);
    case WeightFormat::Q5_K: return sizeof(BlockQ5_K);
    case WeightFormat::Q6_K: return sizeof(BlockQ6_K);
  }
  return 0;
}

size_t format_row_bytes(WeightFormat format, int64_t num_in) {
  return static_cast<size_t>(num_in / format_block_elements(format)) * format_block_bytes(format);
}

ActivationKind format_activation_kind(WeightFormat format) {
  switch (format_block_elements(format)) {
    case 1: return ActivationKind::kFloat;
    case kQuantBlock: return ActivationKind::kQ8;
    default: return ActivationKind::kQ8K;
  }
}

const char* format_name(WeightFormat format) {
  switch (format) {
    case WeightFormat::F32: return "F32";
    case WeightFormat::Q8_0: return "Q8_0";
    case WeightFormat::Q4_0: return "Q4_0";
    case WeightFormat::Q4_1: return "Q4_1";
    case WeightFormat::Q5_0: return "Q5_0";
    case WeightFormat::Q5_1: return "Q5_1";
    case WeightFormat::IQ4_NL: return "IQ4_NL";
    case WeightFormat::Q2_K: return "Q2_K";
    case WeightFormat::Q3_K: return "Q3_K";
    case WeightFormat::Q4_K: return "Q4_K";
    case WeightFormat::Q5_K: return "Q5_K";
    case WeightFormat::Q6_K: return "Q6_K";
  }
  return "unknown";
}

}  // namespace kvs::kernels
