#include "engine/model/linear_weight.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "engine/errors.h"
#include "engine/loader/dequantize.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/weight_format.h"

namespace kvs {
namespace {

using kernels::WeightFormat;

bool quantized_format(DType type, WeightFormat* out) {
  switch (type) {
    case DType::Q8_0: *out = WeightFormat::Q8_0; return true;
    case DType::Q4_0: *out = WeightFormat::Q4_0; return true;
    case DType::Q4_1: *out = WeightFormat::Q4_1; return true;
    case DType::Q5_0: *out = WeightFormat::Q5_0; return true;
    case DType::Q5_1: *out = WeightFormat::Q5_1; return true;
    case DType::IQ4_NL: *out = WeightFormat::IQ4_NL; return true;
    case DType::Q2_K: *out = WeightFormat::Q2_K; return true;
    case DType::Q3_K: *out = WeightFormat::Q3_K; return true;
    case DType::Q4_K: *out = WeightFormat::Q4_K; return true;
    case DType::Q5_K: *out = WeightFormat::Q5_K; return true;
    case DType::Q6_K: *out = WeightFormat::Q6_K; return true;
    case DType::F32:
    case DType::F16:
    case DType::BF16: return false;
  }
  return false;
}

// Converts `n` elements of any supported dtype to floats (the loader's
// conversion, shared with the exporter).
void to_floats(DType type, const uint8_t* data, float* out, int64_t n) { dequantize_row(type, data, out, n); }

// Collects rows, in order, into the segments of a new weight whose copied
// bytes live in one new owned buffer. Rows appended in the format of the
// previous copied rows extend that segment.
class SegmentBuilder {
 public:
  explicit SegmentBuilder(int64_t num_in) : num_in_(num_in), owned_(std::make_shared<std::vector<uint8_t>>()) {}

  // Copies `rows` rows of `format` from `src` (rows are `row_bytes` apart in
  // the source; `width` bytes of each are taken from `offset`).
  void copy(WeightFormat format, const uint8_t* src, int64_t rows, size_t row_bytes, size_t offset, size_t width) {
    uint8_t* dst = reserve(format, rows, width);
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(dst + static_cast<size_t>(r) * width, src + static_cast<size_t>(r) * row_bytes + offset, width);
    }
  }
  // Space for `rows` rows of `row_width` bytes in `format`, to be filled now.
  uint8_t* reserve(WeightFormat format, int64_t rows, size_t row_width) {
    if (pieces_.empty() || pieces_.back().format != format) pieces_.push_back({format, owned_->size(), 0});
    pieces_.back().rows += rows;
    const size_t at = owned_->size();
    owned_->resize(at + static_cast<size_t>(rows) * row_width);
    return owned_->data() + at;
  }

  LinearWeight finish() {
    LinearWeight weight;
    weight.num_in = num_in_;
    weight.owned = owned_;
    for (const Piece& piece : pieces_) {
      if (piece.rows == 0) continue;
      weight.segments.push_back({piece.format, owned_->data() + piece.offset, piece.rows});
      weight.num_out += piece.rows;
    }
    return weight;
  }

 private:
  struct Piece {
    WeightFormat format;
    size_t offset;
    int64_t rows;
  };
  int64_t num_in_;
  std::shared_ptr<std::vector<uint8_t>> owned_;
  std::vector<Piece> pieces_;
};

// The segment holding row `index` and the row's index inside it.
std::pair<const LinearWeight::Segment*, int64_t> find_row(const LinearWeight& w, int64_t index) {
  if (index < 0 || index >= w.num_out) throw InvalidArgument("weight row " + std::to_string(index) + " outside the weight");
  for (const LinearWeight::Segment& s : w.segments) {
    if (index < s.num_out) return {&s, index};
    index -= s.num_out;
  }
  throw InvalidArgument("weight segments do not add up to num_out");
}

}  // namespace

LinearWeight LinearWeight::from_rows(WeightFormat format, const void* data, int64_t num_out, int64_t num_in,
                                     std::shared_ptr<std::vector<uint8_t>> owned) {
  LinearWeight weight;
  weight.segments.push_back({format, data, num_out});
  weight.num_out = num_out;
  weight.num_in = num_in;
  weight.owned = std::move(owned);
  return weight;
}

LinearWeight LinearWeight::from_tensors(const std::vector<const WeightTensor*>& parts, bool dequantize) {
  if (parts.empty()) throw ModelLoadError("linear weight with no tensors");
  const int64_t num_in = parts[0]->cols();
  for (const WeightTensor* part : parts) {
    if (part->shape.size() != 2 || part->cols() != num_in) {
      throw ModelLoadError("tensor " + part->name + " does not have the expected [out, " + std::to_string(num_in) +
                           "] shape");
    }
  }
  WeightFormat format;
  if (parts.size() == 1) {  // used in place when the kernels take its format
    const WeightTensor& part = *parts[0];
    if (!dequantize && quantized_format(part.dtype, &format)) return from_rows(format, part.data, part.rows(), num_in);
    if (part.dtype == DType::F32) return from_rows(WeightFormat::F32, part.data, part.rows(), num_in);
  }
  SegmentBuilder builder(num_in);
  for (const WeightTensor* part : parts) {
    const size_t row_bytes = part->num_bytes / static_cast<size_t>(part->rows());
    if (!dequantize && quantized_format(part->dtype, &format)) {
      builder.copy(format, part->data, part->rows(), row_bytes, 0, row_bytes);
      continue;
    }
    const size_t float_row = static_cast<size_t>(num_in) * sizeof(float);
    auto* out = reinterpret_cast<float*>(builder.reserve(WeightFormat::F32, part->rows(), float_row));
    for (int64_t r = 0; r < part->rows(); ++r) {
      to_floats(part->dtype, part->data + static_cast<size_t>(r) * row_bytes, out + r * num_in, num_in);
    }
  }
  return builder.finish();
}

void LinearWeight::apply(const float* x, int64_t num_tokens, float* y, kernels::MatmulScratch& scratch) const {
  constexpr size_t kInline = 8;
  kernels::MatmulSegment inline_segments[kInline];
  std::vector<kernels::MatmulSegment> many;
  kernels::MatmulSegment* list = inline_segments;
  if (segments.size() > kInline) {
    many.resize(segments.size());
    list = many.data();
  }
  for (size_t i = 0; i < segments.size(); ++i) list[i] = {segments[i].format, segments[i].data, segments[i].num_out};
  const kernels::Status status = kernels::matmul_segments(list, segments.size(), num_in, x, num_tokens, y, scratch);
  if (!status.ok()) throw Error(status.message);
}

void LinearWeight::row_to_float(int64_t index, float* out) const {
  const auto [segment, local] = find_row(*this, index);
  const size_t row = kernels::format_row_bytes(segment->format, num_in);
  kernels::dequantize_row(segment->format, static_cast<const uint8_t*>(segment->data) + static_cast<size_t>(local) * row,
                          out, num_in);
}

size_t LinearWeight::row_bytes(int64_t index) const {
  return kernels::format_row_bytes(find_row(*this, index).first->format, num_in);
}

const float* LinearWeight::f32_data() const {
  if (segments.size() != 1 || segments[0].format != WeightFormat::F32) {
    throw InvalidArgument("weight is not a single F32 block of rows");
  }
  return static_cast<const float*>(segments[0].data);
}

LinearWeight LinearWeight::select_rows(const std::vector<std::pair<int64_t, int64_t>>& ranges) const {
  SegmentBuilder builder(num_in);
  for (const auto& [begin, end] : ranges) {
    if (begin < 0 || end > num_out || begin > end) throw InvalidArgument("weight row slice outside the weight");
    int64_t first = 0;  // the current segment's first row in the weight
    for (const Segment& s : segments) {
      const int64_t lo = std::max(begin, first), hi = std::min(end, first + s.num_out);
      if (lo < hi) {
        const size_t row = kernels::format_row_bytes(s.format, num_in);
        builder.copy(s.format, static_cast<const uint8_t*>(s.data) + static_cast<size_t>(lo - first) * row, hi - lo,
                     row, 0, row);
      }
      first += s.num_out;
    }
  }
  return builder.finish();
}

LinearWeight LinearWeight::select_columns(int64_t begin, int64_t end) const {
  if (begin < 0 || end > num_in || begin >= end) throw InvalidArgument("weight column slice outside the weight");
  for (const Segment& s : segments) {
    const int64_t granule = kernels::format_block_elements(s.format);
    if (begin % granule != 0 || end % granule != 0) {
      throw InvalidArgument(std::string("a row-parallel slice of a ") + kernels::format_name(s.format) +
                            " weight must fall on " + std::to_string(granule) + "-element block boundaries (columns " +
                            std::to_string(begin) + ".." + std::to_string(end) +
                            "); choose a tensor parallel size that splits the layer evenly into blocks");
    }
  }
  SegmentBuilder builder(end - begin);
  for (const Segment& s : segments) {
    const int64_t granule = kernels::format_block_elements(s.format);
    const size_t unit = kernels::format_block_bytes(s.format);
    builder.copy(s.format, static_cast<const uint8_t*>(s.data), s.num_out, kernels::format_row_bytes(s.format, num_in),
                 static_cast<size_t>(begin / granule) * unit, static_cast<size_t>((end - begin) / granule) * unit);
  }
  return builder.finish();
}

std::vector<float> tensor_to_floats(const WeightTensor& tensor) {
  std::vector<float> out(static_cast<size_t>(tensor.num_elements()));
  to_floats(tensor.dtype, tensor.data, out.data(), tensor.num_elements());
  return out;
}

}  // namespace kvs
