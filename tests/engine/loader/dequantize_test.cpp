#include "engine/loader/dequantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/errors.h"

namespace kvs {
namespace {

void put_u16(std::vector<uint8_t>& out, uint16_t value) {
  out.push_back(static_cast<uint8_t>(value & 0xFF));
  out.push_back(static_cast<uint8_t>(value >> 8));
}

uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}

TEST(Dequantize, HalfToFloat) {
  EXPECT_EQ(fp16_to_float(0x3C00), 1.0f);
  EXPECT_EQ(fp16_to_float(0xC000), -2.0f);
  EXPECT_EQ(fp16_to_float(0x3800), 0.5f);
  EXPECT_EQ(fp16_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(fp16_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(fp16_to_float(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(fp16_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(fp16_to_float(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(fp16_to_float(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(float_bits(fp16_to_float(0x8000)), 0x80000000u);  // -0
  EXPECT_EQ(fp16_to_float(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp16_to_float(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(fp16_to_float(0x7E00)));
}

TEST(Dequantize, BFloat16ToFloat) {
  EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_float(0xC040), -3.0f);
  EXPECT_EQ(bf16_to_float(0x3FC0), 1.5f);
  EXPECT_EQ(bf16_to_float(0x7F80), std::numeric_limits<float>::infinity());
}

TEST(Dequantize, PlainFloatRows) {
  std::vector<uint8_t> f16;
  for (uint16_t h : {0x3C00, 0xC000, 0x3800}) put_u16(f16, h);
  std::vector<float> out(3);
  dequantize_row(DType::F16, f16.data(), out.data(), 3);
  EXPECT_EQ(out, (std::vector<float>{1.0f, -2.0f, 0.5f}));

  std::vector<uint8_t> bf16;
  for (uint16_t h : {0x3F80, 0xC040, 0x4120}) put_u16(bf16, h);
  dequantize_row(DType::BF16, bf16.data(), out.data(), 3);
  EXPECT_EQ(out, (std::vector<float>{1.0f, -3.0f, 10.0f}));

  const std::vector<float> f32 = {0.25f, -7.5f, 3.0f};
  dequantize_row(DType::F32, reinterpret_cast<const uint8_t*>(f32.data()), out.data(), 3);
  EXPECT_EQ(out, f32);
}

// Q8_0: {fp16 d; int8 q[32]}, x = q * d.
TEST(Dequantize, Q8_0Block) {
  std::vector<uint8_t> block;
  put_u16(block, 0x3800);  // d = 0.5
  for (int j = 0; j < 32; ++j) block.push_back(static_cast<uint8_t>(static_cast<int8_t>(j * 8 - 128)));
  std::vector<float> out(32);
  dequantize_row(DType::Q8_0, block.data(), out.data(), 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], (j * 8 - 128) * 0.5f) << j;
  EXPECT_EQ(out[0], -64.0f);
  EXPECT_EQ(out[31], 60.0f);
}

// Q4_0: {fp16 d; uint8 q[16]}, element j = low nibble of q[j], element j+16 =
// high nibble, x = (nibble - 8) * d.
TEST(Dequantize, Q4_0Block) {
  std::vector<uint8_t> block;
  put_u16(block, 0x4000);  // d = 2
  for (int j = 0; j < 16; ++j) block.push_back(static_cast<uint8_t>(j | ((15 - j) << 4)));
  std::vector<float> out(32);
  dequantize_row(DType::Q4_0, block.data(), out.data(), 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], (j - 8) * 2.0f) << j;
    EXPECT_EQ(out[j + 16], (15 - j - 8) * 2.0f) << j;
  }
  EXPECT_EQ(out[0], -16.0f);
  EXPECT_EQ(out[16], 14.0f);
}

// Q4_1: {fp16 d; fp16 m; uint8 q[16]}, x = nibble * d + m.
TEST(Dequantize, Q4_1Block) {
  std::vector<uint8_t> block;
  put_u16(block, 0x3400);  // d = 0.25
  put_u16(block, 0xBC00);  // m = -1
  for (int j = 0; j < 16; ++j) block.push_back(static_cast<uint8_t>((j % 16) | (((j * 3) % 16) << 4)));
  std::vector<float> out(32);
  dequantize_row(DType::Q4_1, block.data(), out.data(), 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], j * 0.25f - 1.0f) << j;
    EXPECT_EQ(out[j + 16], ((j * 3) % 16) * 0.25f - 1.0f) << j;
  }
  EXPECT_EQ(out[0], -1.0f);
  EXPECT_EQ(out[15], 2.75f);
}

TEST(Dequantize, MultipleBlocksAndTensors) {
  std::vector<uint8_t> data;
  for (int b = 0; b < 2; ++b) {
    put_u16(data, b == 0 ? 0x3C00 : 0x4000);  // d = 1, then 2
    for (int j = 0; j < 32; ++j) data.push_back(static_cast<uint8_t>(static_cast<int8_t>(b == 0 ? j : -j)));
  }
  WeightTensor tensor;
  tensor.name = "t";
  tensor.dtype = DType::Q8_0;
  tensor.shape = {2, 32};
  tensor.data = data.data();
  tensor.num_bytes = data.size();
  const std::vector<float> values = dequantize_tensor(tensor);
  ASSERT_EQ(values.size(), 64u);
  EXPECT_EQ(values[5], 5.0f);
  EXPECT_EQ(values[32 + 5], -10.0f);

  tensor.num_bytes = data.size() - 1;
  EXPECT_THROW(dequantize_tensor(tensor), InvalidArgument);
}

TEST(Dequantize, RejectsPartialBlocks) {
  std::vector<uint8_t> data(64);
  std::vector<float> out(64);
  EXPECT_THROW(dequantize_row(DType::Q4_1, data.data(), out.data(), 31), InvalidArgument);
  EXPECT_THROW(dequantize_row(DType::Q8_0, data.data(), out.data(), -32), InvalidArgument);
}

}  // namespace
}  // namespace kvs
