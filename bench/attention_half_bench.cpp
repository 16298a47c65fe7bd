// Kernel-level timing of the F16 attention (attend_group_half) on one
// thread: one call per KV head of a random paged cache, the query heads of
// one GQA group together, at one window length, in llama.cpp's decode
// (single) and prefill (batched) order. Reports the best of --repeats of
// the thread's CPU time per call (robust to other processes on a shared
// machine; not to their cache traffic). In a dispatch build this times the
// x86-64-v3 copy (attend_group_half is not routed), on any machine; the
// AVX-512 copy is timed by a -march=native build.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <ctime>
#include <iostream>
#include <random>
#include <vector>

#include "kernels/cpu/attention_half.h"
#include "kernels/cpu/half.h"

namespace {

double thread_cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kvs::kernels;
  CLI::App app{"F16 attention kernel timing (attend_group_half, one thread)"};
  int64_t head_dim = 64, group = 3, kv_heads = 3, window = 2048, block = 16;
  int calls = 100, repeats = 5;
  app.add_option("--head-dim", head_dim, "head dimension (default model: 64; Gemma 3 270M: 256)");
  app.add_option("--group", group, "query heads per KV head (default model: 3; Gemma 3 270M: 4)");
  app.add_option("--kv-heads", kv_heads, "KV heads in the cache (one call each)");
  app.add_option("--window", window, "attended positions");
  app.add_option("--calls", calls, "passes over the KV heads per repeat");
  app.add_option("--repeats", repeats, "timed repeats (the best is reported)");
  CLI11_PARSE(app, argc, argv);

  const int64_t blocks = (window + block - 1) / block;
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<uint16_t> k(static_cast<size_t>(blocks * block * kv_heads * head_dim)), v(k.size());
  for (size_t i = 0; i < k.size(); ++i) k[i] = fp32_to_fp16(dist(rng)), v[i] = fp32_to_fp16(dist(rng));
  std::vector<int32_t> table(static_cast<size_t>(blocks));
  for (int64_t b = 0; b < blocks; ++b) table[b] = static_cast<int32_t>((b * 7) % blocks);  // scattered blocks
  std::vector<float> q(static_cast<size_t>(group * head_dim)), out(q.size());
  for (float& x : q) x = dist(rng);
  HalfAttentionScratch scratch;
  nlohmann::json result{{"head_dim", head_dim}, {"group", group}, {"window", window}};
  for (HalfMatmulOrder order : {HalfMatmulOrder::kSingle, HalfMatmulOrder::kBatched}) {
    double best = 1e300;
    for (int r = 0; r < repeats; ++r) {
      const double start = thread_cpu_us();
      for (int c = 0; c < calls; ++c) {
        for (int64_t h = 0; h < kv_heads; ++h) {
          attend_group_half(q.data(), head_dim, group, k.data(), v.data(), table.data(), block, kv_heads * head_dim,
                            h * head_dim, head_dim, window, 0.125f, order, scratch, out.data(), head_dim, nullptr,
                            nullptr, blocks, 0);
        }
      }
      best = std::min(best, (thread_cpu_us() - start) / static_cast<double>(calls * kv_heads));
    }
    result[order == HalfMatmulOrder::kSingle ? "decode_order_us_per_call" : "prefill_order_us_per_call"] = best;
  }
  std::cout << result.dump() << "\n";
  return 0;
}
