// Decode attention bandwidth on the GPU (issue 7, acceptance 2): LeanAttention
// vs our fixed split-K kernel vs a device-to-device copy, on the shapes of
// bench/gpu/lean_attention_shapes.json. Effective bandwidth = K/V bytes the
// step must read / kernel time. Each timed launch follows an L2 flush (a
// memset of 256 MiB, not timed) unless --no-flush; time = median over
// --iters launches (CUDA events around the launch alone). Before timing, the
// outputs of LeanAttention (with and without the token-mass side output) and
// of split-K are checked against the CPU reference
// (kernels/cpu/decode_attention_reference.h) on the first --check-seqs
// sequences (default -1: all; 0: no check), with the GPU test's tolerances;
// "checked" and the max errors go into the JSON. Exits 1 after writing the
// JSON if any shape mismatches (a mismatching shape is not timed).
// --f16 / --fp8: the cache's element type (default bf16; fp8 is E4M3, one
// byte per value, so a step reads half the bytes).
//   kvs_bench_lean_attention --shapes bench/gpu/lean_attention_shapes.json --out lean.json
#include <CLI/CLI.hpp>
#include <cuda_runtime.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/decode_attention_reference.h"
#include "kernels/cpu/half.h"
#include "kernels/cuda/lean_attention.h"
#include "kernels/cuda/splitk_decode_attention.h"
#include "kernels/fp8_e4m3.h"

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

// Fills `elements` values of device memory with pseudo-random bf16/f16/fp8
// values of unit scale by copying one random host pattern (16 Mi values) over it.
void fill_random(void* dst, size_t elements, DecodeKvType type, uint32_t seed) {
  const size_t chunk = std::min<size_t>(elements, size_t{16} << 20);
  const size_t element_bytes = static_cast<size_t>(kvs::kernels::decode_kv_element_bytes(type));
  std::vector<uint8_t> host(chunk * element_bytes);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  for (size_t i = 0; i < chunk; ++i) {
    const float x = dist(rng);
    if (type == DecodeKvType::FP8_E4M3) {
      host[i] = kvs::kernels::fp8_e4m3_from_float(x);
    } else {
      const uint16_t h = type == DecodeKvType::F16 ? kvs::kernels::fp32_to_fp16(x) : kvs::kernels::fp32_to_bf16(x);
      std::memcpy(host.data() + 2 * i, &h, 2);
    }
  }
  for (size_t done = 0; done < elements; done += chunk) {
    const size_t n = std::min(chunk, elements - done);
    CUDA_OK(cudaMemcpy(static_cast<uint8_t*>(dst) + done * element_bytes, host.data(), n * element_bytes,
                       cudaMemcpyHostToDevice));
  }
}

template <typename T>
std::vector<T> download(const void* src, size_t count) {
  std::vector<T> host(count);
  CUDA_OK(cudaMemcpy(host.data(), src, count * sizeof(T), cudaMemcpyDeviceToHost));
  return host;
}

// Tolerances of tests/gpu/lean_attention_gpu_test.cpp: fp32 accumulation in
// another order (exp2f) against the double reference.
constexpr double kOutAbsTol = 5e-5, kOutRelTol = 1e-4, kMassRelTol = 2e-4;

// Result of checking one shape's outputs against the CPU reference.
struct Check {
  bool checked = false;
  int64_t num_seqs = 0;  // sequences checked (the first ones of the batch)
  double max_abs_error_lean = 0, max_abs_error_lean_mass = 0, max_abs_error_splitk = 0;
  double max_rel_error_token_mass = 0;
  int64_t mismatches = 0;
};

// Counts elements of `got` outside abs + rel |want| and tracks the max error
// (absolute, or relative to |want| when abs_tol == 0).
void compare(const std::vector<float>& got, const std::vector<float>& want, double abs_tol, double rel_tol,
             double* max_error, int64_t* mismatches) {
  for (size_t i = 0; i < want.size(); ++i) {
    const double error = std::abs(static_cast<double>(got[i]) - want[i]);
    *max_error = std::max(*max_error, abs_tol > 0 || want[i] == 0 ? error : error / std::abs(want[i]));
    if (!(error <= abs_tol + rel_tol * std::abs(want[i]))) ++*mismatches;  // NaN counts as a mismatch
  }
}

// Checks the first `check_seqs` sequences (all if < 0 or more than the batch;
// none if 0) of the three outputs already computed on the device (`lean_out`,
// `mass_out` + `token_mass` from the side-output launch, `split_out`) against
// decode_attention_reference on the same q and cache, downloaded. `a` holds
// the device pointers; lens, tables and q are the host copies.
Check check_outputs(const DecodeAttentionArgs& a, const std::vector<int32_t>& lens, const std::vector<int32_t>& tables,
                    const std::vector<float>& q, const float* lean_out, const float* mass_out, const float* token_mass,
                    int64_t mass_stride, const float* split_out, int64_t check_seqs) {
  Check check;
  const int64_t n = check_seqs < 0 ? a.num_seqs : std::min<int64_t>(check_seqs, a.num_seqs);
  if (n <= 0) return check;
  const size_t cache_elems = static_cast<size_t>(a.num_blocks * a.block_size * a.num_kv_heads * a.head_dim);
  const size_t cache_bytes = cache_elems * static_cast<size_t>(kvs::kernels::decode_kv_element_bytes(a.kv_type));
  const auto k = download<uint8_t>(a.k_cache, cache_bytes);
  const auto v = download<uint8_t>(a.v_cache, cache_bytes);
  const size_t out_floats = static_cast<size_t>(n * a.num_heads * a.head_dim);
  const size_t mass_floats = static_cast<size_t>(n * a.num_kv_heads * mass_stride);
  std::vector<float> want(out_floats), want_mass(mass_floats, 0.0f);
  DecodeAttentionArgs host = a;
  host.q = q.data();
  host.out = want.data();
  host.k_cache = k.data();
  host.v_cache = v.data();
  host.num_seqs = n;
  host.context_lens = lens.data();
  host.block_tables = tables.data();  // the first n rows
  host.token_mass = want_mass.data();
  host.token_mass_stride = mass_stride;
  host.accumulate_mass = false;
  const kvs::kernels::Status st = kvs::kernels::decode_attention_reference(host);
  if (!st.ok()) {
    std::fprintf(stderr, "reference: %s\n", st.message.c_str());
    std::exit(1);
  }
  check.checked = true;
  check.num_seqs = n;
  compare(download<float>(lean_out, out_floats), want, kOutAbsTol, kOutRelTol, &check.max_abs_error_lean,
          &check.mismatches);
  compare(download<float>(mass_out, out_floats), want, kOutAbsTol, kOutRelTol, &check.max_abs_error_lean_mass,
          &check.mismatches);
  compare(download<float>(split_out, out_floats), want, kOutAbsTol, kOutRelTol, &check.max_abs_error_splitk,
          &check.mismatches);
  // Token mass: only positions < L are written (overwrite mode).
  const auto got_mass = download<float>(token_mass, mass_floats);
  std::vector<float> got_valid, want_valid;
  for (int64_t s = 0; s < n; ++s) {
    for (int64_t g = 0; g < a.num_kv_heads; ++g) {
      const size_t row = static_cast<size_t>((s * a.num_kv_heads + g) * mass_stride);
      got_valid.insert(got_valid.end(), got_mass.begin() + row, got_mass.begin() + row + lens[s]);
      want_valid.insert(want_valid.end(), want_mass.begin() + row, want_mass.begin() + row + lens[s]);
    }
  }
  compare(got_valid, want_valid, 0.0, kMassRelTol, &check.max_rel_error_token_mass, &check.mismatches);
  return check;
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
  int64_t check_seqs = -1;
  bool no_flush = false, f16 = false, fp8 = false;
  app.add_option("--shapes", shapes_path, "shape list (JSON)");
  app.add_option("--out", out_path, "result JSON");
  app.add_option("--only", only, "run only the shape of this name");
  app.add_option("--warmup", warmup);
  app.add_option("--iters", iters);
  app.add_option("--splits", splits_override, "split-K pieces per pair (0: flash-decoding heuristic)");
  app.add_flag("--no-flush", no_flush, "do not flush L2 before each timed launch");
  auto* f16_flag = app.add_flag("--f16", f16, "f16 K/V instead of bf16");
  app.add_flag("--fp8", fp8, "fp8 E4M3 K/V (one byte per value) instead of bf16")->excludes(f16_flag);
  app.add_option("--check-seqs", check_seqs,
                 "sequences (the first ones) checked against the CPU reference before timing; -1: all, 0: none");
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
  const DecodeKvType type = fp8 ? DecodeKvType::FP8_E4M3 : f16 ? DecodeKvType::F16 : DecodeKvType::BF16;
  const int64_t element_bytes = kvs::kernels::decode_kv_element_bytes(type);
  const size_t flush_bytes = size_t{256} << 20;
  Device flush(no_flush ? 0 : flush_bytes);

  nlohmann::json results = nlohmann::json::array();
  bool failed = false;
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
    const int64_t kv_bytes = tokens * num_kv_heads * head_dim * element_bytes * 2;  // K and V
    Device k(cache_elems * element_bytes), v(cache_elems * element_bytes), q(sizeof(float) * num_seqs * num_heads * head_dim);
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
    const cuda::LeanWorkspace lws{lean_ws.ptr, lean_ws_bytes, num_seqs};
    // LeanAttention with the token-mass side output on (overwrite mode).
    DecodeAttentionArgs mass_args = lean_args;
    Device mass(sizeof(float) * num_seqs * num_kv_heads * max_len);
    mass_args.token_mass = mass.as<float>();
    mass_args.token_mass_stride = max_len;
    size_t mass_ws_bytes = 0;
    require(cuda::lean_attention_workspace_bytes(mass_args, num_seqs, &mass_ws_bytes), "lean workspace (mass)");
    Device mass_ws(mass_ws_bytes);
    CUDA_OK(cudaMemset(mass_ws.ptr, 0, mass_ws_bytes));
    const cuda::LeanWorkspace mws{mass_ws.ptr, mass_ws_bytes, num_seqs};
    void* flush_ptr = no_flush ? nullptr : flush.ptr;

    // One launch of each, checked against the CPU reference before timing.
    Device out_mass(sizeof(float) * num_seqs * num_heads * head_dim);
    DecodeAttentionArgs mass_check_args = mass_args;
    mass_check_args.out = out_mass.as<float>();
    require(cuda::lean_attention_decode(lean_args, lws, nullptr), "lean");
    require(cuda::lean_attention_decode(mass_check_args, mws, nullptr), "lean+mass");
    require(cuda::splitk_decode_attention(split_args, splits, split_ws.ptr, split_ws_bytes, nullptr), "splitk");
    CUDA_OK(cudaDeviceSynchronize());
    const Check check = check_outputs(a, lens, tables, hq, out_lean.as<float>(), out_mass.as<float>(),
                                      mass.as<float>(), max_len, out_split.as<float>(), check_seqs);
    const nlohmann::json check_json = {{"checked", check.checked},
                                       {"checked_seqs", check.num_seqs},
                                       {"max_abs_error_lean", check.max_abs_error_lean},
                                       {"max_abs_error_lean_with_token_mass", check.max_abs_error_lean_mass},
                                       {"max_abs_error_splitk", check.max_abs_error_splitk},
                                       {"max_rel_error_token_mass", check.max_rel_error_token_mass},
                                       {"mismatches", check.mismatches}};
    if (check.mismatches > 0) {
      std::fprintf(stderr, "%s: MISMATCH against the CPU reference: %lld elements out of tolerance (first %lld "
                   "sequences; max abs error lean %.3g, lean+mass %.3g, split-K %.3g; token mass max rel %.3g); "
                   "not timed\n", name.c_str(), static_cast<long long>(check.mismatches),
                   static_cast<long long>(check.num_seqs), check.max_abs_error_lean, check.max_abs_error_lean_mass,
                   check.max_abs_error_splitk, check.max_rel_error_token_mass);
      failed = true;
      nlohmann::json record = {{"shape", name}, {"num_seqs", num_seqs}, {"kv_bytes", kv_bytes}};
      record.update(check_json);
      results.push_back(record);
      continue;
    }

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
    results.back().update(check_json);
  }
  const nlohmann::json doc = {{"device", prop.name},
                              {"num_sms", prop.multiProcessorCount},
                              {"kv_dtype", fp8 ? "fp8_e4m3" : f16 ? "f16" : "bf16"},
                              {"l2_flush", !no_flush},
                              {"iters", iters},
                              {"num_heads", num_heads},
                              {"num_kv_heads", num_kv_heads},
                              {"head_dim", head_dim},
                              {"block_size", block_size},
                              {"results", results}};
  std::ofstream(out_path) << doc.dump(2) << "\n";
  std::printf("wrote %s\n", out_path.c_str());
  return failed ? 1 : 0;
}
