#include "kernels/kv_dtype.h"

namespace kvs::kernels {

const char* kv_dtype_name(KvDType dtype) {
  switch (dtype) {
    case KvDType::F16: return "f16";
    case KvDType::F32: return "f32";
    case KvDType::BF16: return "bf16";
    case KvDType::Q8_0: return "q8_0";
    case KvDType::Q4_0: return "q4_0";
    case KvDType::FP8_E4M3: return "fp8_e4m3";
  }
  return "unknown";
}

std::optional<KvDType> kv_dtype_from_name(const std::string& name) {
  for (KvDType dtype : {KvDType::F16, KvDType::F32, KvDType::BF16, KvDType::Q8_0, KvDType::Q4_0, KvDType::FP8_E4M3}) {
    if (name == kv_dtype_name(dtype)) return dtype;
  }
  return std::nullopt;
}

}  // namespace kvs::kernels
