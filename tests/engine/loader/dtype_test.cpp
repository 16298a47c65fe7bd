#include <gtest/gtest.h>

#include "engine/errors.h"
#include "engine/loader/dtype.h"
#include "engine/loader/weight_tensor.h"

namespace kvs {
namespace {

TEST(DType, NamesAndBlockLayout) {
  EXPECT_STREQ(dtype_name(DType::F32), "F32");
  EXPECT_STREQ(dtype_name(DType::BF16), "BF16");
  EXPECT_STREQ(dtype_name(DType::Q4_1), "Q4_1");
  EXPECT_EQ(dtype_block_elements(DType::F16), 1);
  EXPECT_EQ(dtype_block_elements(DType::Q8_0), 32);
  EXPECT_EQ(dtype_block_bytes(DType::F32), 4u);
  EXPECT_EQ(dtype_block_bytes(DType::BF16), 2u);
  EXPECT_EQ(dtype_block_bytes(DType::Q8_0), 34u);
  EXPECT_EQ(dtype_block_bytes(DType::Q4_0), 18u);
  EXPECT_EQ(dtype_block_bytes(DType::Q4_1), 20u);
  EXPECT_TRUE(dtype_is_quantized(DType::Q4_0));
  EXPECT_FALSE(dtype_is_quantized(DType::BF16));
}

TEST(DType, FiveBitIq4AndKQuantLayouts) {
  const struct {
    DType type;
    const char* name;
    int64_t elements;
    size_t bytes;
  } cases[] = {{DType::Q5_0, "Q5_0", 32, 22},  {DType::Q5_1, "Q5_1", 32, 24},  {DType::IQ4_NL, "IQ4_NL", 32, 18},
               {DType::Q2_K, "Q2_K", 256, 84}, {DType::Q3_K, "Q3_K", 256, 110}, {DType::Q4_K, "Q4_K", 256, 144},
               {DType::Q5_K, "Q5_K", 256, 176}, {DType::Q6_K, "Q6_K", 256, 210}};
  for (const auto& c : cases) {
    EXPECT_STREQ(dtype_name(c.type), c.name);
    EXPECT_EQ(dtype_block_elements(c.type), c.elements) << c.name;
    EXPECT_EQ(dtype_block_bytes(c.type), c.bytes) << c.name;
    EXPECT_TRUE(dtype_is_quantized(c.type)) << c.name;
    EXPECT_EQ(dtype_row_bytes(c.type, 1536), static_cast<size_t>(1536 / c.elements) * c.bytes) << c.name;
  }
  EXPECT_THROW(dtype_row_bytes(DType::Q4_K, 576), InvalidArgument);  // not a whole number of 256-blocks
}

TEST(DType, RowBytes) {
  EXPECT_EQ(dtype_row_bytes(DType::F32, 576), 2304u);
  EXPECT_EQ(dtype_row_bytes(DType::F16, 3), 6u);
  EXPECT_EQ(dtype_row_bytes(DType::Q8_0, 576), 18u * 34u);
  EXPECT_EQ(dtype_row_bytes(DType::Q4_1, 1536), 48u * 20u);
  EXPECT_THROW(dtype_row_bytes(DType::Q4_0, 33), InvalidArgument);
  EXPECT_THROW(dtype_row_bytes(DType::F32, -1), InvalidArgument);
}

TEST(WeightTensor, RowsColsElements) {
  WeightTensor matrix;
  matrix.shape = {192, 576};
  EXPECT_EQ(matrix.rows(), 192);
  EXPECT_EQ(matrix.cols(), 576);
  EXPECT_EQ(matrix.num_elements(), 192 * 576);
  WeightTensor vector;
  vector.shape = {576};
  EXPECT_EQ(vector.rows(), 1);
  EXPECT_EQ(vector.cols(), 576);
  EXPECT_EQ(vector.num_elements(), 576);
  WeightTensor cube;
  cube.shape = {2, 3, 4};
  EXPECT_EQ(cube.rows(), 6);
  EXPECT_EQ(cube.cols(), 4);
}

}  // namespace
}  // namespace kvs
