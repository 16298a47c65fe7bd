// LeanAttention and the fixed split-K decode kernel against the CPU reference
// (kernels/cpu/decode_attention_reference.h) on the shapes of issue 7's
// acceptance 1: L = 1, L not a multiple of the block size, L = 256k, batches
// mixing 1 and 100k, head dims 64, 128 and 256, GQA ratios 1/2/3/4/8, f16 and
// bf16, and the token-mass side output (overwrite and accumulate); one
// workspace reused over batch sizes 1 -> 64 -> 1. Skips without a GPU.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/decode_attention_reference.h"
#include "kernels/cpu/lean_schedule_plan.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/lean_attention.h"
#include "kernels/cuda/splitk_decode_attention.h"
#include "tests/common/decode_attention_batch.h"

namespace kvs::kernels {
namespace {

using test::DecodeBatch;
using test::make_decode_batch;

// fp32 accumulation (different order, exp2f) against the double reference.
constexpr float kOutAbsTol = 5e-5f, kOutRelTol = 1e-4f;
constexpr float kMassRelTol = 2e-4f;

// Owns one device allocation.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    if (cudaMalloc(&ptr_, bytes == 0 ? 1 : bytes) != cudaSuccess) ptr_ = nullptr;
  }
  template <typename T>
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size() * sizeof(T)) {
    if (ptr_ != nullptr) cudaMemcpy(ptr_, host.data(), bytes_, cudaMemcpyHostToDevice);
  }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  template <typename T>
  std::vector<T> download(size_t count) const {
    std::vector<T> host(count);
    cudaMemcpy(host.data(), ptr_, count * sizeof(T), cudaMemcpyDeviceToHost);
    return host;
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// The batch on the device plus output buffers.
struct DeviceBatch {
  DeviceBuffer q, k, v, lens, tables, out, mass;
  DeviceBatch(const DecodeBatch& b, size_t out_floats, const std::vector<float>& mass_init)
      : q(b.q), k(b.k), v(b.v), lens(b.lens), tables(b.tables), out(out_floats * sizeof(float)), mass(mass_init) {}
  DecodeAttentionArgs args(const DecodeBatch& b, bool with_mass, int64_t stride) const {
    DecodeAttentionArgs a = b.args(out.as<float>(), with_mass ? mass.as<float>() : nullptr, stride);
    a.q = q.as<float>();
    a.k_cache = k.as<void>();
    a.v_cache = v.as<void>();
    a.context_lens = lens.as<int32_t>();
    a.block_tables = tables.as<int32_t>();
    return a;
  }
};

struct Case {
  std::vector<int32_t> lens;
  int64_t num_heads, num_kv_heads, head_dim, block_size;
  DecodeKvType type;
};

void expect_close(const std::vector<float>& got, const std::vector<float>& ref, const char* what) {
  ASSERT_EQ(got.size(), ref.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], ref[i], kOutAbsTol + kOutRelTol * std::abs(ref[i])) << what << " element " << i;
  }
}

// Runs LeanAttention (twice, reusing the workspace: counters must come back
// to zero and the result must be bit-identical) with the side output in
// accumulate mode on the second run, and the split-K kernel, against the
// reference.
void check_case(const Case& c) {
  SCOPED_TRACE(::testing::Message() << "heads " << c.num_heads << "/" << c.num_kv_heads << " dim " << c.head_dim
                                    << " block " << c.block_size << " f16 " << (c.type == DecodeKvType::F16)
                                    << " first len " << c.lens.front() << " seqs " << c.lens.size());
  const DecodeBatch b = make_decode_batch(c.lens, c.num_heads, c.num_kv_heads, c.head_dim, c.block_size, c.type);
  const int64_t stride = b.max_len() + 5;
  const size_t out_floats = static_cast<size_t>(b.num_seqs() * b.num_heads * b.head_dim);
  const size_t mass_floats = static_cast<size_t>(b.num_seqs() * b.num_kv_heads * stride);
  // Reference: one step (mass overwrites) and a second step accumulating.
  std::vector<float> ref(out_floats), ref_mass(mass_floats, 0.25f);
  DecodeAttentionArgs ref_args = b.args(ref.data(), ref_mass.data(), stride);
  ASSERT_TRUE(decode_attention_reference(ref_args).ok());
  std::vector<float> ref_mass_twice = ref_mass;
  ref_args.token_mass = ref_mass_twice.data();
  ref_args.accumulate_mass = true;
  ASSERT_TRUE(decode_attention_reference(ref_args).ok());

  DeviceBatch d(b, out_floats, std::vector<float>(mass_floats, 0.25f));
  ASSERT_NE(d.mass.as<float>(), nullptr) << "device allocation failed";
  DecodeAttentionArgs args = d.args(b, true, stride);
  size_t ws_bytes = 0;
  ASSERT_TRUE(cuda::lean_attention_workspace_bytes(args, b.num_seqs(), &ws_bytes).ok());
  DeviceBuffer ws(ws_bytes);
  ASSERT_EQ(cudaMemset(ws.as<void>(), 0, ws_bytes), cudaSuccess);
  const cuda::LeanWorkspace workspace{ws.as<void>(), ws_bytes, b.num_seqs()};

  Status st = cuda::lean_attention_decode(args, workspace, nullptr);
  ASSERT_TRUE(st.ok()) << st.message;
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<float> first = d.out.download<float>(out_floats);
  expect_close(first, ref, "lean output");
  const std::vector<float> mass = d.mass.download<float>(mass_floats);
  for (size_t i = 0; i < mass_floats; ++i) {
    ASSERT_NEAR(mass[i], ref_mass[i], kMassRelTol * std::abs(ref_mass[i])) << "token mass " << i;
  }

  args.accumulate_mass = true;
  st = cuda::lean_attention_decode(args, workspace, nullptr);
  ASSERT_TRUE(st.ok()) << st.message;
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<float> second = d.out.download<float>(out_floats);
  ASSERT_EQ(std::memcmp(first.data(), second.data(), out_floats * sizeof(float)), 0) << "not deterministic";
  const std::vector<float> mass2 = d.mass.download<float>(mass_floats);
  for (size_t i = 0; i < mass_floats; ++i) {
    ASSERT_NEAR(mass2[i], ref_mass_twice[i], kMassRelTol * std::abs(ref_mass_twice[i])) << "accumulated mass " << i;
  }
  // Counters back to zero after two launches.
  const std::vector<int32_t> counters = ws.download<int32_t>(static_cast<size_t>(b.num_seqs() * b.num_kv_heads));
  for (int32_t v : counters) ASSERT_EQ(v, 0);

  // Without the side output (the other kernel instance).
  args = d.args(b, false, 0);
  cudaMemset(d.out.as<void>(), 0xff, out_floats * sizeof(float));
  ASSERT_TRUE(cuda::lean_attention_decode(args, workspace, nullptr).ok());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  expect_close(d.out.download<float>(out_floats), ref, "lean output, no side output");

  // The fixed split-K kernel.
  cuda::LeanLaunchInfo info;
  ASSERT_TRUE(cuda::lean_attention_launch_info(args, &info).ok());
  for (int splits : {1, 7, cuda::splitk_default_num_splits(args, b.max_len(), info.num_sms, info.ctas_per_sm)}) {
    size_t bytes = 0;
    ASSERT_TRUE(cuda::splitk_decode_attention_workspace_bytes(args, b.num_seqs(), splits, &bytes).ok());
    DeviceBuffer split_ws(bytes);
    cudaMemset(d.out.as<void>(), 0xff, out_floats * sizeof(float));
    st = cuda::splitk_decode_attention(args, splits, split_ws.as<void>(), bytes, nullptr);
    ASSERT_TRUE(st.ok()) << st.message;
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    expect_close(d.out.download<float>(out_floats), ref, "split-k output");
  }
}

#define REQUIRE_GPU() \
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine"

TEST(LeanAttentionGpuTest, SingleTokenContexts) {
  REQUIRE_GPU();
  for (DecodeKvType type : {DecodeKvType::BF16, DecodeKvType::F16}) {
    for (int64_t dim : {64, 128}) {
      for (int64_t group : {1, 4, 8}) check_case({{1}, 4 * group, 4, dim, 16, type});
    }
  }
}

TEST(LeanAttentionGpuTest, OddLengthsEveryHeadDimAndGqaRatio) {
  REQUIRE_GPU();
  const std::vector<int32_t> lens = {1, 17, 63, 64, 65, 1000, 4097, 129};
  for (DecodeKvType type : {DecodeKvType::BF16, DecodeKvType::F16}) {
    for (int64_t dim : {64, 128}) {
      for (int64_t group : {1, 2, 3, 4, 8}) {
        for (int64_t block : {16, 7}) check_case({lens, 2 * group, 2, dim, block, type});
      }
    }
  }
}

TEST(LeanAttentionGpuTest, SmolLM2Shape) {
  REQUIRE_GPU();  // 9 query / 3 KV heads, head_dim 64, f16 cache (the default model)
  check_case({{1, 300, 2049}, 9, 3, 64, 16, DecodeKvType::F16});
}

TEST(LeanAttentionGpuTest, MixedOneAndHundredThousand) {
  REQUIRE_GPU();
  check_case({{1, 100000, 1, 100000, 1}, 32, 4, 64, 16, DecodeKvType::F16});
  check_case({{100000, 1, 1}, 32, 8, 128, 16, DecodeKvType::BF16});
}

TEST(LeanAttentionGpuTest, Context256k) {
  REQUIRE_GPU();
  check_case({{262144}, 8, 2, 128, 16, DecodeKvType::BF16});
  check_case({{262143}, 8, 1, 64, 256, DecodeKvType::F16});
}

TEST(LeanAttentionGpuTest, HeadDim256) {
  REQUIRE_GPU();  // Gemma-style heads: 8/4 (Gemma 2 2B), 16/8 (Gemma 2 9B), 16/16 (Gemma 7B), and GQA 8
  const std::vector<int32_t> lens = {1, 65, 5000, 300};
  for (DecodeKvType type : {DecodeKvType::BF16, DecodeKvType::F16}) {
    check_case({lens, 8, 4, 256, 16, type});
    check_case({lens, 16, 8, 256, 16, type});
    check_case({lens, 16, 16, 256, 7, type});
    check_case({lens, 16, 2, 256, 16, type});
  }
  check_case({{100000}, 8, 4, 256, 16, DecodeKvType::BF16});
}

// Lengths in [1, max_len], deterministic.
std::vector<int32_t> varied_lens(int64_t num_seqs, int32_t max_len, uint32_t seed) {
  std::vector<int32_t> lens(static_cast<size_t>(num_seqs));
  for (int32_t& l : lens) {
    seed = seed * 1664525u + 1013904223u;
    l = 1 + static_cast<int32_t>((seed >> 8) % static_cast<uint32_t>(max_len));
  }
  return lens;
}

// One workspace, sized and zeroed once for a capacity of 64 sequences (side
// output included), serves launches of 1, 64, 1, 33 and 1 sequences with and
// without the side output: each output against the reference, and every
// counter of the capacity back at zero after each launch. Contexts are long
// enough that pairs are split across CTAs (the counters are used).
TEST(LeanAttentionGpuTest, WorkspaceReusedAcrossBatchSizes) {
  REQUIRE_GPU();
  const int64_t capacity = 64, heads = 32, kv_heads = 8, dim = 128, stride = 20000;
  DecodeAttentionArgs shape;
  shape.kv_type = DecodeKvType::BF16;
  shape.num_heads = heads;
  shape.num_kv_heads = kv_heads;
  shape.head_dim = dim;
  float mass_marker = 0.0f;
  shape.token_mass = &mass_marker;  // sized with the side output; not read
  shape.token_mass_stride = stride;
  size_t bytes = 0;
  ASSERT_TRUE(cuda::lean_attention_workspace_bytes(shape, capacity, &bytes).ok());
  DeviceBuffer ws(bytes);
  ASSERT_NE(ws.as<void>(), nullptr);
  ASSERT_EQ(cudaMemset(ws.as<void>(), 0, bytes), cudaSuccess);
  const cuda::LeanWorkspace workspace{ws.as<void>(), bytes, capacity};
  cuda::LeanLaunchInfo info;
  ASSERT_TRUE(cuda::lean_attention_launch_info(shape, &info).ok());

  struct Launch {
    std::vector<int32_t> lens;
    bool with_mass;
  };
  const std::vector<Launch> launches = {{{20000}, true},
                                        {varied_lens(64, 3000, 1), true},
                                        {{19999}, false},
                                        {varied_lens(33, 3000, 2), false},
                                        {{1, 17000}, true},
                                        {varied_lens(64, 3000, 3), false},
                                        {{12345}, true}};
  uint64_t seed = 1;
  for (const Launch& launch : launches) {
    SCOPED_TRACE(::testing::Message() << "launch of " << launch.lens.size() << " sequences, mass " << launch.with_mass);
    const DecodeBatch b = make_decode_batch(launch.lens, heads, kv_heads, dim, 16, DecodeKvType::BF16, seed++);
    lean::SchedulePlan plan;
    ASSERT_TRUE(lean::plan_schedule(b.lens.data(), b.num_seqs(), kv_heads, info.tile_tokens, info.grid, plan).ok());
    bool split = false;
    for (const auto& cta : plan.ctas) {
      for (const lean::SegmentPlan& sp : cta) split = split || sp.slot >= 0;
    }
    ASSERT_TRUE(split) << "no pair split across CTAs: the counters would not be exercised";
    const size_t out_floats = static_cast<size_t>(b.num_seqs() * heads * dim);
    const size_t mass_floats = static_cast<size_t>(b.num_seqs() * kv_heads * stride);
    std::vector<float> ref(out_floats), ref_mass(mass_floats, 0.0f);
    ASSERT_TRUE(decode_attention_reference(b.args(ref.data(), ref_mass.data(), stride)).ok());
    DeviceBatch d(b, out_floats, std::vector<float>(launch.with_mass ? mass_floats : 1, 0.0f));
    const DecodeAttentionArgs args = d.args(b, launch.with_mass, launch.with_mass ? stride : 0);
    const Status st = cuda::lean_attention_decode(args, workspace, nullptr);
    ASSERT_TRUE(st.ok()) << st.message;
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    expect_close(d.out.download<float>(out_floats), ref, "lean output");
    if (launch.with_mass) {
      const std::vector<float> mass = d.mass.download<float>(mass_floats);
      for (size_t i = 0; i < mass_floats; ++i) {
        ASSERT_NEAR(mass[i], ref_mass[i], kMassRelTol * std::abs(ref_mass[i])) << "token mass " << i;
      }
    }
    const std::vector<int32_t> counters = ws.download<int32_t>(static_cast<size_t>(capacity * kv_heads));
    for (size_t i = 0; i < counters.size(); ++i) ASSERT_EQ(counters[i], 0) << "counter " << i;
  }
}

TEST(LeanAttentionGpuTest, RejectsBatchOverWorkspaceCapacity) {
  REQUIRE_GPU();
  const DecodeBatch b = make_decode_batch({5, 9, 300}, 8, 2, 64, 16, DecodeKvType::BF16);
  DeviceBatch d(b, static_cast<size_t>(3 * 8 * 64), std::vector<float>(1));
  const DecodeAttentionArgs args = d.args(b, false, 0);
  size_t bytes = 0;
  ASSERT_TRUE(cuda::lean_attention_workspace_bytes(args, 2, &bytes).ok());
  DeviceBuffer ws(bytes);
  ASSERT_EQ(cudaMemset(ws.as<void>(), 0, bytes), cudaSuccess);
  EXPECT_EQ(cuda::lean_attention_decode(args, {ws.as<void>(), bytes, 2}, nullptr).code, StatusCode::InvalidArgument);
  EXPECT_EQ(cuda::lean_attention_decode(args, {ws.as<void>(), bytes, 0}, nullptr).code, StatusCode::InvalidArgument)
      << "capacity not recorded";
  EXPECT_EQ(cuda::lean_attention_decode(args, {ws.as<void>(), bytes, 1000}, nullptr).code, StatusCode::InvalidArgument)
      << "bytes sized for 2, not 1000";
}

TEST(LeanAttentionGpuTest, RejectsUnsupportedShapes) {
  REQUIRE_GPU();
  const DecodeBatch b = make_decode_batch({5}, 16, 1, 64, 16, DecodeKvType::BF16);  // group 16
  DeviceBatch d(b, 16 * 64, std::vector<float>(1));
  DecodeAttentionArgs args = d.args(b, false, 0);
  size_t bytes = 0;
  EXPECT_EQ(cuda::lean_attention_workspace_bytes(args, 1, &bytes).code, StatusCode::Unsupported);
  args.num_heads = 4;
  args.head_dim = 96;
  args.q_row_stride = 4 * 96;
  EXPECT_EQ(cuda::lean_attention_decode(args, cuda::LeanWorkspace{}, nullptr).code, StatusCode::Unsupported);
  args.head_dim = 64;
  EXPECT_FALSE(cuda::lean_attention_decode(args, cuda::LeanWorkspace{}, nullptr).ok()) << "no workspace";
}

}  // namespace
}  // namespace kvs::kernels
