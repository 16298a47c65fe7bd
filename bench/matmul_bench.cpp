// Quantized matmul timing per weight format and token count (issue 22): the
// shapes of Gemma 3 270M and SmolLM2 135M, random weights, the matmul the
// engine calls (kernels/cpu/matmul.h). Prints one line per (format, shape,
// tokens): milliseconds per call (best of --reps) and GMAC/s. Use
// KVS_FORCE_ISA=avx2 in a dispatch build for the AVX2 copy.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/weight_format.h"

namespace {

using kvs::kernels::WeightFormat;

// Random blocks with sane fp16 scales in every format's d / m / dmin fields
// (the first 2 or 4 bytes of a 32-element block; d and dmin of K blocks).
std::vector<uint8_t> random_weights(WeightFormat format, int64_t rows, int64_t cols, std::mt19937& rng) {
  const int64_t blocks = rows * cols / kvs::kernels::format_block_elements(format);
  const size_t bytes = kvs::kernels::format_block_bytes(format);
  std::vector<uint8_t> w(static_cast<size_t>(blocks) * bytes);
  for (auto& v : w) v = static_cast<uint8_t>(rng());
  const uint16_t scale = kvs::kernels::fp32_to_fp16(0.01f);
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* block = w.data() + b * bytes;
    switch (format) {
      case WeightFormat::Q4_K:
      case WeightFormat::Q5_K:
      case WeightFormat::Q2_K:
        std::memcpy(block, &scale, 2), std::memcpy(block + 2, &scale, 2);
        break;
      case WeightFormat::Q6_K:
        std::memcpy(block + bytes - 2, &scale, 2);
        break;
      case WeightFormat::Q4_1:
      case WeightFormat::Q5_1:
        std::memcpy(block, &scale, 2), std::memcpy(block + 2, &scale, 2);
        break;
      default: std::memcpy(block, &scale, 2); break;
    }
  }
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  struct Shape {
    const char* name;
    WeightFormat format;
    int64_t out, in;
  };
  const Shape shapes[] = {
      {"gemma.head/8", WeightFormat::Q8_0, 32768, 640}, {"gemma.ffn_up", WeightFormat::Q5_0, 2048, 640},
      {"gemma.attn_q", WeightFormat::Q5_0, 1024, 640}, {"gemma.attn_v", WeightFormat::Q8_0, 256, 640},
      {"gemma.attn_out", WeightFormat::Q4_K, 640, 1024}, {"gemma.ffn_down", WeightFormat::Q6_K, 640, 2048},
      {"smol.ffn_up", WeightFormat::Q4_1, 1536, 576},   {"smol.ffn_down", WeightFormat::Q4_1, 576, 1536},
      {"smol.head", WeightFormat::Q8_0, 49152, 576},
  };
  std::printf("isa %s threads %d\n", kvs::kernels::cpu_isa_name(), threads);
  std::mt19937 rng(1);
  const char* only = std::getenv("KVS_BENCH_ONLY");
  for (const Shape& s : shapes) {
    if (only != nullptr && std::strstr(s.name, only) == nullptr) continue;
    const std::vector<uint8_t> w = random_weights(s.format, s.out, s.in, rng);
    for (int64_t tokens : {1, 4, 16, 64, 256}) {
      std::vector<float> x(static_cast<size_t>(tokens * s.in)), y(static_cast<size_t>(tokens * s.out));
      std::normal_distribution<float> normal;
      for (float& v : x) v = normal(rng);
      kvs::kernels::MatmulScratch scratch;
      scratch.num_threads = threads;
      double best = 1e30;
      for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        (void)kvs::kernels::matmul(s.format, w.data(), s.out, s.in, x.data(), tokens, y.data(), scratch);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      std::printf("%-16s %-5s tokens %4ld  %9.3f ms  %7.2f GMAC/s\n", s.name,
                  kvs::kernels::format_name(s.format), static_cast<long>(tokens), best * 1e3,
                  static_cast<double>(s.out) * s.in * tokens / best * 1e-9);
    }
  }
  return 0;
}
