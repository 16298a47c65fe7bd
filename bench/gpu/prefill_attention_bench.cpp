// Varlen prefill attention on the GPU (issue 6, acceptance 3): our kernel
// (kernels/cuda/prefill_attention.h) on the packed batch of
// bench/gpu/prefill_attention_shapes.json, one launch for the whole batch,
// K/V read through shuffled block tables. Useful FLOPs (the same count as
// bench/gpu/prefill_sdpa_peer.py): sum over sequences of
// 4 * head_dim * num_heads * L (L + 1) / 2 (causal Q·Kᵀ and P·V, no padding).
// Time = median over --iters launches (CUDA events around the launch alone).
// Before timing, each config's output is checked against the CPU reference
// (kernels/cpu/prefill_attention_reference.h) on the first --check-seqs
// sequences (default 4: 128, 2048, 1752 and 1303 tokens; -1: all, 0: no
// check), with the GPU test's tolerance |got - want| <= 1e-2 + 1e-2 |want|;
// "checked" and "max_abs_error" go into the JSON. Exits 1 after writing the
// JSON if any config mismatches (a mismatching config is not timed).
//   kvs_bench_prefill_attention --shapes bench/gpu/prefill_attention_shapes.json --out prefill.json
#include <CLI/CLI.hpp>
#include <cuda_runtime.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/cpu/prefill_attention_reference.h"
#include "kernels/cuda/prefill_attention.h"

namespace {

#define CUDA_OK(expr)                                                                              \
  do {                                                                                             \
    const cudaError_t e_ = (expr);                                                                 \
    if (e_ != cudaSuccess) {                                                                       \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #expr, cudaGetErrorString(e_)); \
      std::exit(1);                                                                                \
    }                                                                                              \
  } while (0)

// One device allocation, freed on scope exit.
struct Device {
  void* ptr = nullptr;
  explicit Device(size_t bytes) { CUDA_OK(cudaMalloc(&ptr, std::max<size_t>(bytes, 16))); }
  ~Device() { cudaFree(ptr); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr);
  }
};

template <typename T>
void upload(const Device& d, const std::vector<T>& host) {
  CUDA_OK(cudaMemcpy(d.ptr, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
}

// Unit-scale random bf16 over `elements`, from one repeated 16M-element pattern.
void fill_random_bf16(void* dst, size_t elements, uint32_t seed) {
  const size_t chunk = std::min<size_t>(elements, size_t{16} << 20);
  std::vector<uint16_t> host(chunk);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  for (uint16_t& h : host) h = kvs::kernels::fp32_to_bf16(dist(rng));
  for (size_t done = 0; done < elements; done += chunk) {
    const size_t n = std::min(chunk, elements - done);
    CUDA_OK(cudaMemcpy(static_cast<uint16_t*>(dst) + done, host.data(), n * 2, cudaMemcpyHostToDevice));
  }
}

template <typename T>
std::vector<T> download(const void* src, size_t count) {
  std::vector<T> host(count);
  CUDA_OK(cudaMemcpy(host.data(), src, count * sizeof(T), cudaMemcpyDeviceToHost));
  return host;
}

// Result of checking one config's output against the CPU reference.
struct Check {
  bool checked = false;
  int64_t num_seqs = 0;     // sequences checked (the first ones of the batch)
  double max_abs_error = 0;
  int64_t mismatches = 0;   // elements outside 1e-2 + 1e-2 |want|
};

// Compares the first `check_seqs` sequences (all if < 0 or more than the
// batch; none if 0) of the kernel's output (already computed in `device`)
// against prefill_attention_reference on the same q and cache, downloaded.
// Host arrays: the batch's cu_query_lens, context_lens and block tables.
Check check_output(const kvs::kernels::PrefillAttentionArgs& device, const std::vector<int32_t>& cu,
                   const std::vector<int32_t>& lens, const std::vector<int32_t>& tables, int64_t check_seqs) {
  Check check;
  const int64_t n = check_seqs < 0 ? device.num_seqs : std::min<int64_t>(check_seqs, device.num_seqs);
  if (n <= 0) return check;
  const int64_t rows = cu[n], width = device.num_heads * device.head_dim;
  const size_t cache_elems = static_cast<size_t>(device.num_blocks * device.block_size * device.num_kv_heads * device.head_dim);
  const auto q = download<uint16_t>(device.q, static_cast<size_t>(rows * device.q_row_stride));
  const auto k = download<uint16_t>(device.k_cache, cache_elems);
  const auto v = download<uint16_t>(device.v_cache, cache_elems);
  const auto got = download<uint16_t>(device.out, static_cast<size_t>(rows * device.out_row_stride));
  kvs::kernels::PrefillAttentionArgs host = device;
  host.q = q.data();
  host.k_cache = k.data();
  host.v_cache = v.data();
  host.out = nullptr;
  host.num_seqs = n;
  host.cu_query_lens = cu.data();  // the first n + 1 entries
  host.context_lens = lens.data();
  host.block_tables = tables.data();  // the first n rows
  host.max_query_len = *std::max_element(lens.begin(), lens.begin() + n);
  std::vector<float> want(static_cast<size_t>(rows * width));
  const kvs::kernels::Status st = kvs::kernels::prefill_attention_reference(host, want.data());
  if (!st.ok()) {
    std::fprintf(stderr, "reference: %s\n", st.message.c_str());
    std::exit(1);
  }
  check.checked = true;
  check.num_seqs = n;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < width; ++i) {
      const float g = kvs::kernels::bf16_to_fp32(got[r * device.out_row_stride + i]), w = want[r * width + i];
      const double error = std::abs(static_cast<double>(g) - w);
      check.max_abs_error = std::max(check.max_abs_error, error);
      if (!(error <= 1e-2 + 1e-2 * std::abs(w))) ++check.mismatches;  // NaN counts as a mismatch
    }
  }
  return check;
}

double median_ms(const std::function<void()>& launch, int warmup, int iters) {
  cudaEvent_t start, stop;
  CUDA_OK(cudaEventCreate(&start));
  CUDA_OK(cudaEventCreate(&stop));
  for (int i = 0; i < warmup; ++i) launch();
  std::vector<float> times;
  for (int i = 0; i < iters; ++i) {
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
  CLI::App app{"Varlen prefill attention benchmark (GPU)"};
  std::string shapes_path = "bench/gpu/prefill_attention_shapes.json", out_path = "prefill_attention_bench.json";
  std::string only;
  int warmup = 5, iters = 30;
  int64_t check_seqs = 4;
  app.add_option("--shapes", shapes_path, "shape list (JSON)");
  app.add_option("--out", out_path, "result JSON");
  app.add_option("--only", only, "run only the config of this name");
  app.add_option("--warmup", warmup);
  app.add_option("--iters", iters);
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
  const std::vector<int32_t> lens = spec["lengths"].get<std::vector<int32_t>>();
  const int64_t block_size = spec["block_size"];
  const int64_t num_seqs = static_cast<int64_t>(lens.size());

  // The batch layout is the same for every config.
  std::vector<int32_t> cu(1, 0);
  int64_t num_blocks = 0, max_blocks = 0;
  for (int32_t l : lens) {
    cu.push_back(cu.back() + l);
    num_blocks += (l + block_size - 1) / block_size;
    max_blocks = std::max<int64_t>(max_blocks, (l + block_size - 1) / block_size);
  }
  const int64_t num_tokens = cu.back();
  const int32_t max_len = *std::max_element(lens.begin(), lens.end());
  std::vector<int32_t> ids(static_cast<size_t>(num_blocks)), tables(static_cast<size_t>(num_seqs * max_blocks), -1);
  for (int64_t i = 0; i < num_blocks; ++i) ids[i] = static_cast<int32_t>(i);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(7));
  for (int64_t s = 0, next = 0; s < num_seqs; ++s) {
    for (int64_t b = 0; b < (lens[s] + block_size - 1) / block_size; ++b) tables[s * max_blocks + b] = ids[next++];
  }
  Device d_cu(cu.size() * 4), d_lens(lens.size() * 4), d_tables(tables.size() * 4);
  upload(d_cu, cu);
  upload(d_lens, lens);
  upload(d_tables, tables);

  nlohmann::json results = nlohmann::json::array();
  bool failed = false;
  std::printf("%-14s %6s %8s | %10s %12s | %s\n", "config", "seqs", "tokens", "ours ms", "TFLOP/s", "check");
  for (const auto& config : spec["configs"]) {
    const std::string name = config["name"];
    if (!only.empty() && name != only) continue;
    const int64_t head_dim = config["head_dim"], num_heads = config["num_heads"], num_kv_heads = config["num_kv_heads"];
    double flops = 0;
    for (int32_t l : lens) flops += 4.0 * head_dim * num_heads * (static_cast<double>(l) * (l + 1) / 2);
    const size_t cache_elems = static_cast<size_t>(num_blocks * block_size * num_kv_heads * head_dim);
    const size_t q_elems = static_cast<size_t>(num_tokens * num_heads * head_dim);
    Device q(q_elems * 2), out(q_elems * 2), k(cache_elems * 2), v(cache_elems * 2);
    fill_random_bf16(q.ptr, q_elems, 1);
    fill_random_bf16(k.ptr, cache_elems, 2);
    fill_random_bf16(v.ptr, cache_elems, 3);

    kvs::kernels::PrefillAttentionArgs a;
    a.q = q.as<uint16_t>();
    a.q_row_stride = num_heads * head_dim;
    a.out = out.as<uint16_t>();
    a.out_row_stride = num_heads * head_dim;
    a.k_cache = k.as<uint16_t>();
    a.v_cache = v.as<uint16_t>();
    a.num_blocks = num_blocks;
    a.block_size = block_size;
    a.num_kv_heads = num_kv_heads;
    a.head_dim = head_dim;
    a.num_heads = num_heads;
    a.num_seqs = num_seqs;
    a.cu_query_lens = d_cu.as<int32_t>();
    a.context_lens = d_lens.as<int32_t>();
    a.block_tables = d_tables.as<int32_t>();
    a.max_blocks_per_seq = max_blocks;
    a.max_query_len = max_len;
    a.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    const kvs::kernels::Status st = kvs::kernels::cuda::prefill_attention(a, nullptr);
    if (!st.ok()) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), st.message.c_str());
      return 1;
    }
    CUDA_OK(cudaDeviceSynchronize());
    const Check check = check_output(a, cu, lens, tables, check_seqs);
    nlohmann::json record = {{"config", name}, {"impl", "kvserve_varlen_paged"}, {"head_dim", head_dim},
                             {"num_heads", num_heads}, {"num_kv_heads", num_kv_heads}, {"num_seqs", num_seqs},
                             {"num_tokens", num_tokens}, {"checked", check.checked},
                             {"checked_seqs", check.num_seqs}, {"max_abs_error", check.max_abs_error},
                             {"mismatches", check.mismatches}};
    if (check.mismatches > 0) {
      std::fprintf(stderr, "%s: MISMATCH against the CPU reference: %lld elements outside 1e-2 + 1e-2 |want| "
                   "(first %lld sequences, max abs error %.3g); not timed\n", name.c_str(),
                   static_cast<long long>(check.mismatches), static_cast<long long>(check.num_seqs),
                   check.max_abs_error);
      failed = true;
      results.push_back(record);
      continue;
    }
    const double ms = median_ms([&] { kvs::kernels::cuda::prefill_attention(a, nullptr); }, warmup, iters);
    const double tflops = flops / (ms * 1e-3) / 1e12;
    std::printf("%-14s %6lld %8lld | %10.3f %12.1f | %s\n", name.c_str(), static_cast<long long>(num_seqs),
                static_cast<long long>(num_tokens), ms, tflops,
                check.checked ? ("checked " + std::to_string(check.num_seqs) + " seqs, max err " +
                                 std::to_string(check.max_abs_error)).c_str()
                              : "not checked");
    record["useful_flops"] = flops;
    record["ms"] = ms;
    record["tflops"] = tflops;
    results.push_back(record);
  }
  nlohmann::json doc = {{"device", prop.name}, {"block_size", block_size}, {"lengths", lens}, {"results", results}};
  std::ofstream(out_path) << doc.dump(2) << "\n";
  return failed ? 1 : 0;
}
