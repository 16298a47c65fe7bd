// fp8 E4M3 encode/decode (kernels/fp8_e4m3.h) against a straightforward
// reference: every one of the 256 decodes against the format's formula, and
// encodes of floats (every E4M3 value, the exact midpoints between neighbours
// and the floats next to them, the subnormal range, overflow, infinities,
// NaN, signed zeros, a stride through all float bit patterns) against a
// brute-force nearest-value search with ties to the even code, saturating.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/fp8_e4m3.h"

namespace kvs::kernels {
namespace {

uint32_t bits_of(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

float float_of(uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

// The format's definition: (-1)^s * 2^(e - 7) * (1 + m / 8), subnormals
// (e = 0) 2^-6 * m / 8; S.1111.111 is NaN.
double formula(int code) {
  const int s = code >> 7, e = (code >> 3) & 15, m = code & 7;
  const double magnitude = e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7);
  return s ? -magnitude : magnitude;
}

// Nearest finite E4M3 value to x by search over all codes 0x00..0x7E (ties
// to the even code, i.e. the even mantissa), saturating at 448, NaN -> 0x7F.
uint8_t reference_encode(float x) {
  if (std::isnan(x)) return 0x7F;
  const double a = std::fabs(static_cast<double>(x));
  const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  if (a >= 448.0) return sign | 0x7E;
  static const std::vector<double> values = [] {
    std::vector<double> v(0x7F);
    for (int code = 0; code < 0x7F; ++code) v[code] = formula(code);
    return v;
  }();
  int best = 0;
  double best_error = a;
  for (int code = 1; code <= 0x7E; ++code) {
    const double error = std::fabs(values[code] - a);
    if (error < best_error || (error == best_error && (code & 1) == 0)) best = code, best_error = error;
  }
  return static_cast<uint8_t>(sign | best);
}

TEST(Fp8E4M3Test, AllDecodesMatchTheFormula) {
  for (int code = 0; code < 256; ++code) {
    const float got = fp8_e4m3_to_float(static_cast<uint8_t>(code));
    if ((code & 0x7F) == 0x7F) {
      EXPECT_TRUE(std::isnan(got)) << "code " << code;
      continue;
    }
    EXPECT_EQ(static_cast<double>(got), formula(code)) << "code " << code;
    EXPECT_EQ(std::signbit(got), code >= 0x80) << "code " << code;  // -0 stays -0
  }
  EXPECT_EQ(fp8_e4m3_to_float(0x7E), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_float(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(fp8_e4m3_to_float(0x08), std::ldexp(1.0f, -6));
}

TEST(Fp8E4M3Test, EncodesRoundTripEveryValue) {
  for (int code = 0; code < 256; ++code) {
    if ((code & 0x7F) == 0x7F) continue;
    EXPECT_EQ(fp8_e4m3_from_float(fp8_e4m3_to_float(static_cast<uint8_t>(code))), code) << "code " << code;
  }
}

TEST(Fp8E4M3Test, TiesNeighboursSubnormalsOverflowAndNaN) {
  std::vector<float> inputs;
  for (int code = 0; code < 0x7E; ++code) {  // midpoints between neighbours (exact in float) and the floats beside them
    const float lo = fp8_e4m3_to_float(static_cast<uint8_t>(code)), hi = fp8_e4m3_to_float(static_cast<uint8_t>(code + 1));
    const float mid = (lo + hi) / 2;
    ASSERT_EQ(static_cast<double>(mid), (static_cast<double>(lo) + hi) / 2) << "midpoint not exact";
    for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1000.0f), lo, hi}) {
      inputs.push_back(x);
      inputs.push_back(-x);
    }
  }
  for (int i = 0; i <= 4096; ++i) inputs.push_back(std::ldexp(static_cast<float>(i), -21));  // 0 .. 2^-9, fine steps
  const float inf = std::numeric_limits<float>::infinity();
  for (float x : {448.0f, 449.0f, 463.99f, 464.0f, 464.01f, 480.0f, 1e4f, 3.4e38f, inf, std::ldexp(1.0f, -10),
                  std::nextafter(std::ldexp(1.0f, -10), 1.0f), std::ldexp(1.0f, -11), 1e-30f,
                  std::numeric_limits<float>::denorm_min(), 0.0f}) {
    inputs.push_back(x);
    inputs.push_back(-x);
  }
  for (const float x : inputs) {
    ASSERT_EQ(fp8_e4m3_from_float(x), reference_encode(x)) << x << " (bits " << std::hex << bits_of(x) << ")";
  }
  // Spelled out: ties go to the even code; saturation; NaN; signed zero.
  EXPECT_EQ(fp8_e4m3_from_float(1.0625f), 0x38);  // between 1 (0x38) and 1.125 (0x39)
  EXPECT_EQ(fp8_e4m3_from_float(1.1875f), 0x3A);  // between 1.125 (0x39) and 1.25 (0x3A)
  EXPECT_EQ(fp8_e4m3_from_float(464.0f), 0x7E);
  EXPECT_EQ(fp8_e4m3_from_float(-inf), 0xFE);
  EXPECT_EQ(fp8_e4m3_from_float(std::ldexp(1.0f, -10)), 0x00);  // half the smallest subnormal: to even (zero)
  EXPECT_EQ(fp8_e4m3_from_float(std::ldexp(3.0f, -10)), 0x02);  // 1.5 x 2^-9: to even (2 x 2^-9)
  EXPECT_EQ(fp8_e4m3_from_float(std::ldexp(5.0f, -10)), 0x02);  // 2.5 x 2^-9: to even (2 x 2^-9)
  EXPECT_EQ(fp8_e4m3_from_float(-1e-30f), 0x80);
  EXPECT_EQ(fp8_e4m3_from_float(std::numeric_limits<float>::quiet_NaN()), 0x7F);
  EXPECT_EQ(fp8_e4m3_from_float(-std::numeric_limits<float>::quiet_NaN()), 0x7F);
}

TEST(Fp8E4M3Test, StrideThroughAllFloatBitPatterns) {
  int64_t checked = 0;
  for (uint64_t b = 0; b <= 0xFFFFFFFFull; b += 4093) {
    const float x = float_of(static_cast<uint32_t>(b));
    ASSERT_EQ(fp8_e4m3_from_float(x), reference_encode(x)) << x << " (bits " << std::hex << b << ")";
    ++checked;
  }
  EXPECT_GT(checked, 1000000);
}

}  // namespace
}  // namespace kvs::kernels
