// gelu_tanh_mul (kernels/cpu/activation.h) against llama.cpp's own GELU: the
// output of ggml's GELU op on every half-precision value, computed by the
// libggml llama-cpp-python ships (scripts/reference/ggml_gelu_reference.py).
// Gemma 3's MLP goes through it, so one differing table entry is enough to
// part greedy continuations from llama.cpp's.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/activation.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

TEST(GeluVsGgml, EveryHalfValueGivesGgmlsBits) {
  const nlohmann::json reference =
      nlohmann::json::parse(test::read_file(test::binary_dir() + "/reference/ggml_gelu.json"));
  const auto x_bits = reference["x_bits"].get<std::vector<uint32_t>>();
  const auto y_bits = reference["y_bits"].get<std::vector<uint32_t>>();
  ASSERT_EQ(x_bits.size(), 65536u);
  ASSERT_EQ(y_bits.size(), x_bits.size());
  std::vector<float> x(x_bits.size()), up(x_bits.size(), 1.0f), y(x_bits.size());
  std::memcpy(x.data(), x_bits.data(), x.size() * sizeof(float));
  kernels::gelu_tanh_mul(x.data(), up.data(), y.data(), static_cast<int64_t>(x.size()));
  int differ = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &y[i], sizeof(bits));
    if (bits != y_bits[i] && differ++ < 10) {
      ADD_FAILURE() << "x = " << x[i] << ": ours " << y[i] << ", ggml bits 0x" << std::hex << y_bits[i];
    }
  }
  EXPECT_EQ(differ, 0);
}

}  // namespace
}  // namespace kvs
