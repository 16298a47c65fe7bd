// Decode attention bandwidth on the GPU (issue 7, acceptance 2): LeanAttention
// vs our fixed split-K kernel vs a device-to-device copy, on the shapes of
// bench/gpu/lean_attention_shapes.json. Effective bandwidth = K/V bytes the
// step must read / kernel time. Each timed launch follows an L2 flush (a
// memset of 256 MiB, not timed) unless --no-flush; time = median over
// --iters launches (CUDA events around the launch alone). Writes JSON.
//   kvs_bench_lean_attention --shapes bench/gpu/lean_attention_shapes.json --out lean.json
#include <CLI/CLI.hpp>
#include <cuda_runtime.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/cuda/lean_attention.h"
#include "kernels/cuda/splitk_decode_attention.h"

namespace {

using kvs::kernels::DecodeAttentionArgs;
using kvs::kernels::DecodeKvType;
namespace cuda = kvs::kernels::cuda;

#define CUDA_OK(expr)                                                                              \
  do {                                                                                             \
    const cudaError_t e_ = (expr);                                                                 \
    if (e_ != cudaSuccess) {                                                                       \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #expr, cudaGetErrorString(e_)); \
      std::exit(1);                                                                                \
    }                                                                                              \
  } while (0)

void require(const kvs::kernels::Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, st.message.c_str());
    std::exit(1);
  }
}

// One device allocation, freed on scope exit.
struct Device {
  void* ptr = nullptr;
  explicit Device(size_t bytes) { CUDA_OK(cudaMalloc(&ptr, std::max<size_t>(bytes, 1))); }
  ~Device() { cudaFree(ptr); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr);
  }
};

// Fills `bytes` of device memory with pseudo-random bf16/f16 values of unit
// scale by copying one random 32 MiB host pattern over it.
void fill_random(void* dst, size_t elements, DecodeKvType type, uint32_t seed) {
  const size_t chunk = std::min<size_t>(elements, size_t{16} << 20);
  std::vector<uint16_t> host(chunk);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  for (uint16_t& h : host) {
    const float x = dist(rng);
    h = type == DecodeKvType::F16 ? kvs::kernels::fp32_to_fp16(x) : kvs::kernels::fp32_to_bf16(x);
  }
  for (size_t done = 0; done < elements; done += chunk) {
    const size_t n = std::min(chunk, elements - done);
    CUDA_OK(cudaMemcpy(static_cast<uint16_t*>(dst) + done, host.data(), n * 2, cudaMemcpyHostToDevice));
  }
}

// Median milliseconds of `launch` over `iters` timed runs after `warmup`.
double time_ms(const std::function<void()>& launch, int warmup, int iters, void* flush, size_t flush_bytes) {
  cudaEvent_t start, stop;
  CUDA_OK(cudaEventCreate(&start));
  CUDA_OK(cudaEventCreate(&stop));
  for (int i = 0; i < warmup; ++i) launch();
  std::vector<float> times;
  for (int i = 0; i < iters; ++i) {
    if (flush != nullptr) CUDA_OK(cudaMemsetAsync(flush, i & 0xff, flush_bytes));
    CUDA_OK(cudaEventRecord(start));
    launch();
    CUDA_OK(cudaEventRecord(stop));
    CUDA_OK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    CUDA_OK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  CUDA_OK(cudaGetLastError());
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"LeanAttention decode attention benchmark (GPU)"};
  std::string shapes_path = "bench/gpu/lean_attention_shapes.json", out_path = "lean_attention_bench.json";
  std::string only;
  int warmup = 5, iters = 30, splits_override = 0;
  bool no_flush = false, f16 = false;
  app.add_option("--shapes", shapes_path, "shape list (JSON)");
  app.add_option("--out", out_path, "result JSON");
  app.add_option("--only", only, "run only the shape of this name");
  app.add_option("--warmup", warmup);
  app.add_option("--iters", iters);
  app.add_option("--splits", splits_override, "split-K pieces per pair (0: flash-decoding heuristic)");
  app.add_flag("--no-flush", no_flush, "do not flush L2 before each timed launch");
  app.add_flag("--f16", f16, "f16 K/V instead of bf16");
  CLI11_PARSE(app, argc, argv);

  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "no CUDA device\n");
    return 1;
  }
  cudaDeviceProp prop{};
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  std::ifstream in(shapes_path);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", shapes_path.c_str());
    return 1;
  }
  const nlohmann::json spec = nlohmann::json::parse(in);
  const int64_t num_heads = spec["num_heads"], num_kv_heads = spec["num_kv_heads"], head_dim = spec["head_dim"];
  const int64_t block_size = spec["block_size"];
  const DecodeKvType type = f16 ? DecodeKvType::F16 : DecodeKvType::BF16;
  const size_t flush_bytes = size_t{256} << 20;
  Device flush(no_flush ? 0 : flush_bytes);

  nlohmann::json results = nlohmann::json::array();
  std::printf("%-10s %5s %9s | %9s %8s %9s | %9s %8s %6s | %9s %8s | %s\n", "shape", "B", "KV MB", "lean us", "TB/s",
              "+mass us", "splitk us", "TB/s", "splits", "copy us", "TB/s", "max|lean-splitk|");
  for (const auto& shape : spec["shapes"]) {
    const std::string name = shape["name"];
    if (!only.empty() && name != only) continue;
    std::vector<int32_t> lens;
    for (const auto& g : shape["groups"]) lens.insert(lens.end(), g[0].get<int>(), g[1].get<int32_t>());
    const int64_t num_seqs = static_cast<int64_t>(lens.size());
    int64_t max_blocks = 0, num_blocks = 0, tokens = 0;
    for (int32_t l : lens) {
      max_blocks = std::max<int64_t>(max_blocks, (l + block_size - 1) / block_size);
      num_blocks += (l + block_size - 1) / block_size;
      tokens += l;
    }
    // Scrambled block ids: the cache is read through the block tables.
    std::vector<int32_t> ids(static_cast<size_t>(num_blocks)), tables(static_cast<size_t>(num_seqs * max_blocks), 0);
    for (int64_t i = 0; i < num_blocks; ++i) ids[i] = static_cast<int32_t>(i);
    std::shuffle(ids.begin(), ids.end(), std::mt19937(7));
    for (int64_t s = 0, next = 0; s < num_seqs; ++s) {
      for (int64_t b = 0; b < (lens[s] + block_size - 1) / block_size; ++b) tables[s * max_blocks + b] = ids[next++];
    }
    const size_t cache_elems = static_cast<size_t>(num_blocks * block_size * num_kv_heads * head_dim);
    const int64_t kv_bytes = tokens * num_kv_heads * head_dim * 2 * 2;  // K and V, 2-byte elements
    Device k(cache_elems * 2), v(cache_elems * 2), q(sizeof(float) * num_seqs * num_heads * head_dim);
    Device out_lean(sizeof(float) * num_seqs * num_heads * head_dim), out_split(sizeof(float) * num_seqs * num_heads * head_dim);
    Device d_lens(sizeof(int32_t) * num_seqs), d_tables(sizeof(int32_t) * tables.size());
    fill_random(k.ptr, cache_elems, type, 1);
    fill_random(v.ptr, cache_elems, type, 2);
    std::vector<float> hq(static_cast<size_t>(num_seqs * num_heads * head_dim));
    std::mt19937 rng(3);
    std::normal_distribution<float> dist;
    for (float& x : hq) x = dist(rng);
    CUDA_OK(cudaMemcpy(q.ptr, hq.data(), hq.size() * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(d_lens.ptr, lens.data(), lens.size() * sizeof(int32_t), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(d_tables.ptr, tables.data(), tables.size() * sizeof(int32_t), cudaMemcpyHostToDevice));

    DecodeAttentionArgs a;
    a.q = q.as<float>();
    a.q_row_stride = num_heads * head_dim;
    a.k_cache = k.ptr;
    a.v_cache = v.ptr;
    a.kv_type = type;
    a.num_blocks = num_blocks;
    a.block_size = block_size;
    a.num_kv_heads = num_kv_heads;
    a.head_dim = head_dim;
    a.num_heads = num_heads;
    a.num_seqs = num_seqs;
    a.context_lens = d_lens.as<int32_t>();
    a.block_tables = d_tables.as<int32_t>();
    a.max_blocks_per_seq = max_blocks;
    a.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));

    const int64_t max_len = *std::max_element(lens.begin(), lens.end());
    cuda::LeanLaunchInfo info;
    require(cuda::lean_attention_launch_info(a, &info), "launch info");
    size_t lean_ws_bytes = 0;
    require(cuda::lean_attention_workspace_bytes(a, num_seqs, &lean_ws_bytes), "lean workspace");
    Device lean_ws(lean_ws_bytes);
    CUDA_OK(cudaMemset(lean_ws.ptr, 0, lean_ws_bytes));
    const int splits =
        splits_override > 0 ? splits_override : cuda::splitk_default_num_splits(a, max_len, info.num_sms, info.ctas_per_sm);
    size_t split_ws_bytes = 0;
    require(cuda::splitk_decode_attention_workspace_bytes(a, num_seqs, splits, &split_ws_bytes), "split workspace");
    Device split_ws(split_ws_bytes);
    Device copy_dst(static_cast<size_t>(kv_bytes / 2));

    DecodeAttentionArgs lean_args = a, split_args = a;
    lean_args.out = out_lean.as<float>();
    split_args.out = out_split.as<float>();
    const cuda::LeanWorkspace lws{lean_ws.ptr, lean_ws_bytes};
    // LeanAttention with the token-mass side output on (overwrite mode).
    DecodeAttentionArgs mass_args = lean_args;
    Device mass(sizeof(float) * num_seqs * num_kv_heads * max_len);
    mass_args.token_mass = mass.as<float>();
    mass_args.token_mass_stride = max_len;
    size_t mass_ws_bytes = 0;
    require(cuda::lean_attention_workspace_bytes(mass_args, num_seqs, &mass_ws_bytes), "lean workspace (mass)");
    Device mass_ws(mass_ws_bytes);
    CUDA_OK(cudaMemset(mass_ws.ptr, 0, mass_ws_bytes));
    const cuda::LeanWorkspace mws{mass_ws.ptr, mass_ws_bytes};
    void* flush_ptr = no_flush ? nullptr : flush.ptr;
    const double lean_ms = time_ms([&] { require(cuda::lean_attention_decode(lean_args, lws, nullptr), "lean"); },
                                   warmup, iters, flush_ptr, flush_bytes);
    const double mass_ms = time_ms([&] { require(cuda::lean_attention_decode(mass_args, mws, nullptr), "lean+mass"); },
                                   warmup, iters, flush_ptr, flush_bytes);
    const double split_ms = time_ms(
        [&] { require(cuda::splitk_decode_attention(split_args, splits, split_ws.ptr, split_ws_bytes, nullptr), "splitk"); },
        warmup, iters, flush_ptr, flush_bytes);
    // Copy: the K half of the bytes (K and V are separate buffers of the same
    // size; copying K alone moves kv_bytes / 2 read + kv_bytes / 2 written).
    const double copy_ms = time_ms(
        [&] { CUDA_OK(cudaMemcpyAsync(copy_dst.ptr, k.ptr, static_cast<size_t>(kv_bytes / 2), cudaMemcpyDeviceToDevice)); },
        warmup, iters, flush_ptr, flush_bytes);
    CUDA_OK(cudaDeviceSynchronize());

    std::vector<float> lo(hq.size()), so(hq.size());
    CUDA_OK(cudaMemcpy(lo.data(), out_lean.ptr, lo.size() * sizeof(float), cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(so.data(), out_split.ptr, so.size() * sizeof(float), cudaMemcpyDeviceToHost));
    double max_diff = 0.0;
    for (size_t i = 0; i < lo.size(); ++i) max_diff = std::max(max_diff, static_cast<double>(std::abs(lo[i] - so[i])));

    const double lean_tbs = kv_bytes / (lean_ms * 1e-3) / 1e12, split_tbs = kv_bytes / (split_ms * 1e-3) / 1e12;
    const double copy_tbs = kv_bytes / (copy_ms * 1e-3) / 1e12;  // (read + write) bytes / time
    std::printf("%-10s %5lld %9.1f | %9.1f %8.3f %9.1f | %9.1f %8.3f %6d | %9.1f %8.3f | %.2e\n", name.c_str(),
                static_cast<long long>(num_seqs), kv_bytes / 1e6, lean_ms * 1e3, lean_tbs, mass_ms * 1e3, split_ms * 1e3, split_tbs,
                splits, copy_ms * 1e3, copy_tbs, max_diff);
    std::fflush(stdout);
    results.push_back({{"shape", name},
                       {"num_seqs", num_seqs},
                       {"kv_bytes", kv_bytes},
                       {"lean_us", lean_ms * 1e3},
                       {"lean_tb_per_s", lean_tbs},
                       {"lean_grid", info.grid},
                       {"lean_ctas_per_sm", info.ctas_per_sm},
                       {"lean_with_token_mass_us", mass_ms * 1e3},
                       {"splitk_us", split_ms * 1e3},
                       {"splitk_tb_per_s", split_tbs},
                       {"splitk_num_splits", splits},
                       {"copy_us", copy_ms * 1e3},
                       {"copy_tb_per_s", copy_tbs},
                       {"max_abs_diff_lean_vs_splitk", max_diff}});
  }
  const nlohmann::json doc = {{"device", prop.name},
                              {"num_sms", prop.multiProcessorCount},
                              {"kv_dtype", f16 ? "f16" : "bf16"},
                              {"l2_flush", !no_flush},
                              {"iters", iters},
                              {"num_heads", num_heads},
                              {"num_kv_heads", num_kv_heads},
                              {"head_dim", head_dim},
                              {"block_size", block_size},
                              {"results", results}};
  std::ofstream(out_path) << doc.dump(2) << "\n";
  std::printf("wrote %s\n", out_path.c_str());
  return 0;
}
