#include "engine/model/linear_weight.h"

#include <algorithm>
#include <string>

#include "engine/errors.h"
#include "engine/loader/dequantize.h"
#include "kernels/cpu/quantize.h"

namespace kvs {
namespace {

bool quantized_format(DType type, kernels::WeightFormat* out) {
  switch (type) {
    case DType::Q8_0: *out = kernels::WeightFormat::Q8_0; return true;
    case DType::Q4_0: *out = kernels::WeightFormat::Q4_0; return true;
    case DType::Q4_1: *out = kernels::WeightFormat::Q4_1; return true;
    default: return false;
  }
}

// Converts `n` elements of any supported dtype to floats (the loader's
// conversion, shared with the exporter).
void to_floats(DType type, const uint8_t* data, float* out, int64_t n) { dequantize_row(type, data, out, n); }

}  // namespace

LinearWeight LinearWeight::from_tensors(const std::vector<const WeightTensor*>& parts, bool dequantize) {
  LinearWeight weight;
  if (parts.empty()) throw ModelLoadError("linear weight with no tensors");
  weight.num_in = parts[0]->cols();
  kernels::WeightFormat first_format = kernels::WeightFormat::F32;
  bool keep_quantized = !dequantize && quantized_format(parts[0]->dtype, &first_format);
  for (const WeightTensor* part : parts) {
    if (part->shape.size() != 2 || part->cols() != weight.num_in) {
      throw ModelLoadError("tensor " + part->name + " does not have the expected [out, " +
                           std::to_string(weight.num_in) + "] shape");
    }
    weight.num_out += part->rows();
    kernels::WeightFormat format;
    if (!quantized_format(part->dtype, &format) || format != first_format) keep_quantized = false;
  }
  if (keep_quantized) {
    weight.format = first_format;
    if (parts.size() == 1) {
      weight.data = parts[0]->data;
      return weight;
    }
    weight.owned = std::make_shared<std::vector<uint8_t>>();
    for (const WeightTensor* part : parts) {
      weight.owned->insert(weight.owned->end(), part->data, part->data + part->num_bytes);
    }
    weight.data = weight.owned->data();
    return weight;
  }
  weight.format = kernels::WeightFormat::F32;
  if (parts.size() == 1 && parts[0]->dtype == DType::F32) {
    weight.data = parts[0]->data;
    return weight;
  }
  weight.owned = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(weight.num_out * weight.num_in) * sizeof(float));
  auto* out = reinterpret_cast<float*>(weight.owned->data());
  for (const WeightTensor* part : parts) {
    const size_t row_bytes = part->num_bytes / static_cast<size_t>(part->rows());
    for (int64_t r = 0; r < part->rows(); ++r) {
      to_floats(part->dtype, part->data + static_cast<size_t>(r) * row_bytes, out, weight.num_in);
      out += weight.num_in;
    }
  }
  weight.data = weight.owned->data();
  return weight;
}

void LinearWeight::apply(const float* x, int64_t num_tokens, float* y, kernels::MatmulScratch& scratch) const {
  const kernels::Status status = kernels::matmul(format, data, num_out, num_in, x, num_tokens, y, scratch);
  if (!status.ok()) throw Error(status.message);
}

void LinearWeight::row_to_float(int64_t index, float* out) const {
  kernels::dequantize_row(format, static_cast<const uint8_t*>(data) + static_cast<size_t>(index) * row_bytes(), out,
                          num_in);
}

size_t LinearWeight::row_bytes() const {
  switch (format) {
    case kernels::WeightFormat::F32: return static_cast<size_t>(num_in) * sizeof(float);
    case kernels::WeightFormat::Q8_0: return dtype_row_bytes(DType::Q8_0, num_in);
    case kernels::WeightFormat::Q4_0: return dtype_row_bytes(DType::Q4_0, num_in);
    case kernels::WeightFormat::Q4_1: return dtype_row_bytes(DType::Q4_1, num_in);
  }
  return 0;
}

LinearWeight LinearWeight::select_rows(const std::vector<std::pair<int64_t, int64_t>>& ranges) const {
  LinearWeight slice;
  slice.format = format;
  slice.num_in = num_in;
  slice.owned = std::make_shared<std::vector<uint8_t>>();
  const size_t row = row_bytes();
  const auto* src = static_cast<const uint8_t*>(data);
  for (const auto& [begin, end] : ranges) {
    if (begin < 0 || end > num_out || begin > end) throw InvalidArgument("weight row slice outside the weight");
    slice.owned->insert(slice.owned->end(), src + static_cast<size_t>(begin) * row, src + static_cast<size_t>(end) * row);
    slice.num_out += end - begin;
  }
  slice.data = slice.owned->data();
  return slice;
}

LinearWeight LinearWeight::select_columns(int64_t begin, int64_t end) const {
  if (begin < 0 || end > num_in || begin >= end) throw InvalidArgument("weight column slice outside the weight");
  const int64_t granule = format == kernels::WeightFormat::F32 ? 1 : kernels::kQuantBlock;
  if (begin % granule != 0 || end % granule != 0) {
    throw InvalidArgument("a row-parallel slice of a quantized weight must fall on " + std::to_string(granule) +
                          "-element block boundaries (columns " + std::to_string(begin) + ".." +
                          std::to_string(end) + "); choose a tensor parallel size that splits the layer evenly into blocks");
  }
  LinearWeight slice;
  slice.format = format;
  slice.num_out = num_out;
  slice.num_in = end - begin;
  const size_t row = row_bytes(), unit_bytes = row / static_cast<size_t>(num_in / granule);
  const size_t offset = static_cast<size_t>(begin / granule) * unit_bytes;
  const size_t width = static_cast<size_t>((end - begin) / granule) * unit_bytes;
  slice.owned = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(num_out) * width);
  const auto* src = static_cast<const uint8_t*>(data);
  for (int64_t r = 0; r < num_out; ++r) {
    std::copy(src + static_cast<size_t>(r) * row + offset, src + static_cast<size_t>(r) * row + offset + width,
              slice.owned->data() + static_cast<size_t>(r) * width);
  }
  slice.data = slice.owned->data();
  return slice;
}

std::vector<float> tensor_to_floats(const WeightTensor& tensor) {
  std::vector<float> out(static_cast<size_t>(tensor.num_elements()));
  to_floats(tensor.dtype, tensor.data, out.data(), tensor.num_elements());
  return out;
}

}  // namespace kvs
