#include "engine/loader/rope_permutation.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "engine/errors.h"

namespace kvs {
namespace {

// llama.cpp's converter (convert_hf_to_gguf.py, LlamaModel.permute):
//   w.reshape(n_head, 2, rows // n_head // 2, cols).swapaxes(1, 2).reshape(rows, cols)
// Written out: output row (h, i, j) -- flat h*hd + i*2 + j -- is input row
// (h, j, i) -- flat h*hd + j*(hd/2) + i.
std::vector<uint8_t> converter_permute(const std::vector<uint8_t>& w, int64_t rows,
                                       size_t row_bytes, int64_t n_head) {
  const int64_t half = rows / n_head / 2;
  std::vector<uint8_t> out(w.size());
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t dst = (h * half + i) * 2 + j;
        const int64_t src = (h * 2 + j) * half + i;
        std::copy_n(w.begin() + src * static_cast<int64_t>(row_bytes), row_bytes,
                    out.begin() + dst * static_cast<int64_t>(row_bytes));
      }
    }
  }
  return out;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

TEST(RopePermutation, SmallExampleByHand) {
  // One head, 4 rows of one byte: HF rows (0, 1 | 2, 3) pair 0 with 2 and 1
  // with 3; the converter interleaves them as 0, 2, 1, 3.
  const std::vector<uint8_t> hf = {10, 11, 12, 13};
  const std::vector<uint8_t> gguf = converter_permute(hf, 4, 1, 1);
  EXPECT_EQ(gguf, (std::vector<uint8_t>{10, 12, 11, 13}));
  std::vector<uint8_t> back(4);
  unpermute_rope_rows(gguf.data(), back.data(), 4, 1, 1);
  EXPECT_EQ(back, hf);
}

TEST(RopePermutation, RoundTripsSmolLmShapes) {
  // q_proj: 9 heads x 64 = 576 rows; k_proj: 3 heads x 64 = 192 rows; rows of
  // 576 Q4_1 elements (18 blocks x 20 bytes), and F32 bias-like rows.
  for (const auto& [rows, heads, row_bytes] :
       {std::tuple<int64_t, int64_t, size_t>{576, 9, 360}, {192, 3, 360}, {576, 9, 4}, {8, 2, 3}}) {
    const std::vector<uint8_t> hf = random_bytes(static_cast<size_t>(rows) * row_bytes, 7);
    const std::vector<uint8_t> gguf = converter_permute(hf, rows, row_bytes, heads);
    ASSERT_NE(gguf, hf);
    std::vector<uint8_t> back(hf.size());
    unpermute_rope_rows(gguf.data(), back.data(), rows, row_bytes, heads);
    EXPECT_EQ(back, hf) << rows << " rows, " << heads << " heads";
    std::vector<uint8_t> again(hf.size());
    interleave_rope_rows(hf.data(), again.data(), rows, row_bytes, heads);
    EXPECT_EQ(again, gguf) << rows << " rows, " << heads << " heads";
  }
}

TEST(RopePermutation, RejectsRowsThatDoNotSplitIntoHeads) {
  std::vector<uint8_t> src(12), dst(12);
  EXPECT_THROW(unpermute_rope_rows(src.data(), dst.data(), 12, 1, 5), InvalidArgument);
  EXPECT_THROW(unpermute_rope_rows(src.data(), dst.data(), 6, 1, 2), InvalidArgument);
  EXPECT_THROW(unpermute_rope_rows(src.data(), dst.data(), 12, 1, 0), InvalidArgument);
  EXPECT_THROW(interleave_rope_rows(src.data(), dst.data(), 6, 1, 2), InvalidArgument);
}

}  // namespace
}  // namespace kvs
