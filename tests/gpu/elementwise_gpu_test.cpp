// CUDA bf16 element-wise kernels (kernels/cuda/elementwise.h) against their
// CPU references (kernels/cpu/elementwise_reference.h), bit for bit: odd
// sizes, row strides (gaps untouched), more rows than the grid's y limit and
// more elements than one grid pass (grid-stride loops), rounding ties,
// subnormals and infinities. Skips without a GPU (the argument checks run
// everywhere).
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <iterator>
#include <random>
#include <vector>

#include "kernels/cpu/elementwise_reference.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/elementwise.h"
#include "tests/gpu/gpu_test_util.h"

namespace kvs::kernels {
namespace {

using test::gpu::DeviceBuffer;

// (rows, dim, stride) shapes: tiny, odd, wide, and more rows than 65535.
const std::vector<std::array<int64_t, 3>> kShapes = {{1, 1, 1}, {3, 37, 41}, {17, 4099, 4099}, {70001, 3, 5}};

std::vector<float> special_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 50.0f);
  std::vector<float> out(n);
  for (float& x : out) x = dist(rng);
  const uint32_t specials[] = {0x3f808000u, 0x3f818000u, 0x3f808001u, 0x3f807fffu, 0xbf818000u, 0x00000001u,
                               0x00018000u, 0x80000000u, 0x7f7fffffu, 0xff7fffffu, 0x7f800000u, 0xff800000u};
  for (size_t i = 0; i < std::size(specials) && i * 7 < n; ++i) std::memcpy(&out[i * 7], &specials[i], 4);
  return out;
}

TEST(CudaElementwiseTest, AddBiasMatchesReferenceBitForBit) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (const auto& [rows, dim, stride] : kShapes) {
    auto x = test::gpu::random_bf16(rows * stride, 1, 4.0f);
    const auto bias = test::gpu::random_bf16(dim, 2);
    DeviceBuffer d_x(x), d_bias(bias);
    ASSERT_TRUE(cuda::add_bias_bf16(d_x.as<uint16_t>(), stride, d_bias.as<uint16_t>(), rows, dim, nullptr).ok());
    test::gpu::sync_ok();
    add_bias_bf16_reference(x.data(), stride, bias.data(), rows, dim);
    ASSERT_EQ(d_x.download<uint16_t>(x.size()), x) << rows << "x" << dim;
  }
}

TEST(CudaElementwiseTest, GatherRowsMatchesReferenceBitForBit) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (const auto& [rows, dim, stride] : kShapes) {
    const int64_t src_rows = 9;
    const auto src = test::gpu::random_bf16(src_rows * stride, 3);
    std::vector<int32_t> ids(static_cast<size_t>(rows));
    for (int64_t j = 0; j < rows; ++j) ids[j] = static_cast<int32_t>((j * 5 + 3) % (src_rows + 1)) - 1;  // -1 included
    const int64_t dst_stride = dim + 1;
    std::vector<uint16_t> want(rows * dst_stride, 0x5555);
    DeviceBuffer d_src(src), d_ids(ids), d_dst(want);
    ASSERT_TRUE(cuda::gather_rows_bf16(d_src.as<uint16_t>(), stride, d_ids.as<int32_t>(), rows, dim,
                                       d_dst.as<uint16_t>(), dst_stride, nullptr).ok());
    test::gpu::sync_ok();
    gather_rows_bf16_reference(src.data(), stride, ids.data(), rows, dim, want.data(), dst_stride);
    ASSERT_EQ(d_dst.download<uint16_t>(want.size()), want) << rows << "x" << dim;
  }
}

TEST(CudaElementwiseTest, ConversionsMatchReferenceBitForBit) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  // Contiguous, more elements than one pass of the grid (4096 x 256).
  const int64_t n = 3 * 4096 * 256 + 5;
  const auto f = special_floats(n, 4);
  std::vector<uint16_t> want_b(n);
  std::vector<float> want_f(n);
  f32_to_bf16_reference(f.data(), n, 1, n, want_b.data(), n);
  bf16_to_f32_reference(want_b.data(), n, 1, n, want_f.data(), n);
  DeviceBuffer d_f(f), d_b(n * 2), d_back(n * 4);
  ASSERT_TRUE(cuda::f32_to_bf16(d_f.as<float>(), n, d_b.as<uint16_t>(), nullptr).ok());
  ASSERT_TRUE(cuda::bf16_to_f32(d_b.as<uint16_t>(), n, d_back.as<float>(), nullptr).ok());
  test::gpu::sync_ok();
  ASSERT_EQ(d_b.download<uint16_t>(n), want_b);
  const auto back = d_back.download<float>(n);
  ASSERT_EQ(std::memcmp(back.data(), want_f.data(), n * 4), 0);
  // Strided.
  for (const auto& [rows, dim, stride] : kShapes) {
    const auto src = special_floats(rows * stride, 5);
    std::vector<uint16_t> narrow(rows * (dim + 3), 0x7777);
    std::vector<float> wide(rows * (dim + 2), -3.0f);
    DeviceBuffer d_src(src), d_narrow(narrow), d_wide(wide);
    ASSERT_TRUE(cuda::f32_to_bf16_rows(d_src.as<float>(), stride, rows, dim, d_narrow.as<uint16_t>(), dim + 3, nullptr).ok());
    ASSERT_TRUE(cuda::bf16_to_f32_rows(d_narrow.as<uint16_t>(), dim + 3, rows, dim, d_wide.as<float>(), dim + 2, nullptr).ok());
    test::gpu::sync_ok();
    f32_to_bf16_reference(src.data(), stride, rows, dim, narrow.data(), dim + 3);
    bf16_to_f32_reference(narrow.data(), dim + 3, rows, dim, wide.data(), dim + 2);
    ASSERT_EQ(d_narrow.download<uint16_t>(narrow.size()), narrow) << rows << "x" << dim;
    const auto got = d_wide.download<float>(wide.size());
    ASSERT_EQ(std::memcmp(got.data(), wide.data(), wide.size() * 4), 0) << rows << "x" << dim;
  }
}

TEST(CudaElementwiseTest, AddMatchesReferenceBitForBitAlsoInPlace) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (const int64_t n : {int64_t{1}, int64_t{1001}, int64_t{5 * 4096 * 256 + 3}}) {
    const auto a = test::gpu::random_bf16(n, 6, 2.0f), b = test::gpu::random_bf16(n, 7);
    std::vector<uint16_t> want(n);
    add_bf16_reference(a.data(), b.data(), want.data(), n);
    DeviceBuffer d_a(a), d_b(b), d_out(n * 2);
    ASSERT_TRUE(cuda::add_bf16(d_a.as<uint16_t>(), d_b.as<uint16_t>(), d_out.as<uint16_t>(), n, nullptr).ok());
    ASSERT_TRUE(cuda::add_bf16(d_a.as<uint16_t>(), d_b.as<uint16_t>(), d_a.as<uint16_t>(), n, nullptr).ok());
    test::gpu::sync_ok();
    ASSERT_EQ(d_out.download<uint16_t>(n), want) << n;
    ASSERT_EQ(d_a.download<uint16_t>(n), want) << n << " in place";
  }
}

// Launcher argument checks: no device needed (rejected before any CUDA call).
TEST(CudaElementwiseTest, RejectsBadArguments) {
  uint16_t x[8] = {};
  float f[8] = {};
  int32_t ids[2] = {0, 1};
  EXPECT_EQ(cuda::add_bias_bf16(x, 2, nullptr, 2, 2, nullptr).code, StatusCode::InvalidArgument);
  EXPECT_EQ(cuda::add_bias_bf16(x, 1, x, 2, 2, nullptr).code, StatusCode::InvalidArgument);  // stride < dim
  EXPECT_EQ(cuda::gather_rows_bf16(x, 1, ids, 1, 2, x + 4, 2, nullptr).code, StatusCode::InvalidArgument);
  EXPECT_EQ(cuda::gather_rows_bf16(x, 2, nullptr, 1, 2, x + 4, 2, nullptr).code, StatusCode::InvalidArgument);
  EXPECT_EQ(cuda::bf16_to_f32(x, -1, f, nullptr).code, StatusCode::InvalidArgument);
  EXPECT_EQ(cuda::f32_to_bf16(nullptr, 4, x, nullptr).code, StatusCode::InvalidArgument);
  EXPECT_EQ(cuda::add_bf16(x, nullptr, x, 4, nullptr).code, StatusCode::InvalidArgument);
  EXPECT_TRUE(cuda::add_bf16(x, x, x, 0, nullptr).ok());
  EXPECT_TRUE(cuda::add_bias_bf16(x, 2, x, 0, 2, nullptr).ok());
}

}  // namespace
}  // namespace kvs::kernels
